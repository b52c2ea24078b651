import pg from "pg";
import { APPLICATION_NAMES, connectionConfig } from "./databaseUrl.js";
import { OperationError, sqlState } from "./errors.js";
import { forgetOurMigrations, readCommittedMigrations } from "./ledger.js";
import { lockHolders } from "./lockHolders.js";
import { DEFAULT_LOCK_TIMEOUT_SECONDS, LOCK_NOT_AVAILABLE, migrationsFolder, roleNames } from "./migrate.js";
import { writeOut } from "./terminal.js";

export interface UninstallOptions {
  /** Uninstall even while notification rows are pending (they are never sent). */
  force?: boolean;
  /** Also drop the three group roles (cluster-wide: only when no other database uses them). */
  dropRoles?: boolean;
  lockTimeoutSeconds?: number;
  /** Where one-line notes go; default stdout. */
  say?: (line: string) => void;
}

/**
 * Removes everything `migrate` (and `attach`) created, in one transaction that waits at most the
 * lock timeout for any lock: every trigger on a table outside schema notifier whose function lives
 * in it, the privileges attach gave the owner role on host tables and schemas, schema notifier
 * with all its objects, our rows of graphile-migrate's ledger, and the
 * graphile_migrate schema when nothing is left in it. Refuses (nothing changed) while rows are
 * pending unless `force`, and when objects of the host depend on the product's (a view on
 * notifier.jobs…), naming them. Roles are kept unless `dropRoles`.
 */
export async function uninstall(connectionString: string, options: UninstallOptions = {}): Promise<void> {
  const say = options.say ?? ((line: string) => writeOut(`${line}\n`));
  const committed = await readCommittedMigrations(await migrationsFolder());
  const client = new pg.Client(await connectionConfig(connectionString, APPLICATION_NAMES.migrate));
  await client.connect();
  const lockTimeoutSeconds = options.lockTimeoutSeconds ?? DEFAULT_LOCK_TIMEOUT_SECONDS;
  const done: string[] = []; // said once the transaction has committed
  try {
    const lockTimeout = `${Math.round(lockTimeoutSeconds * 1000)}ms`;
    await client.query("begin");
    await client.query("select pg_catalog.set_config('lock_timeout', $1, true)", [lockTimeout]);
    const { rows: [{ installed }] } = await client.query("select to_regnamespace('notifier') is not null as installed");
    if (installed) {
      if (!options.force) {
        const { rows: [{ pending }] } = await client.query(
          "select count(*)::int as pending from notifier.notifications where status = 'pending'",
        );
        if (pending > 0) {
          throw new OperationError(`${pending} notification ${pending === 1 ? "row is" : "rows are"} pending; nothing was removed (wait for them, or uninstall --force to drop them unsent)`);
        }
      }
      const dependents = await hostDependents(client);
      if (dependents.length > 0) {
        throw new OperationError(`objects outside schema notifier depend on it: ${dependents.join(", ")}; nothing was removed (drop them first)`);
      }
      const triggers = await client.query<{ statement: string }>(
        `select format('drop trigger %I on %s', t.tgname, t.tgrelid::regclass) as statement
           from pg_catalog.pg_trigger t
           join pg_catalog.pg_proc p on p.oid = t.tgfoid
           join pg_catalog.pg_class c on c.oid = t.tgrelid
          where p.pronamespace = 'notifier'::regnamespace
            and c.relnamespace <> 'notifier'::regnamespace
            and not t.tgisinternal
            and t.tgparentid = 0  -- a partition's clone goes with its partitioned table's trigger`,
      );
      for (const { statement } of triggers.rows) await client.query(statement);
      // attach granted the owner role what its generated functions read on host tables (and the
      // schemas they are in): taken back, so the host's privileges are as before.
      const grants = await client.query<{ statement: string }>(
        `select format('revoke all on %s from %I', c.oid::regclass, notifier.owner_role()) as statement
           from pg_catalog.pg_class c
          where c.relnamespace <> 'notifier'::regnamespace
            and exists (select 1 from pg_catalog.aclexplode(c.relacl) a where a.grantee = to_regrole(notifier.owner_role()))
         union all
         select format('revoke all on schema %I from %I', n.nspname, notifier.owner_role())
           from pg_catalog.pg_namespace n
          where n.nspname <> 'notifier'
            and exists (select 1 from pg_catalog.aclexplode(n.nspacl) a where a.grantee = to_regrole(notifier.owner_role()))`,
      );
      for (const { statement } of grants.rows) await client.query(statement);
      await client.query("drop schema notifier cascade");
      done.push(`dropped schema notifier${triggers.rowCount ? ` and ${triggers.rowCount} trigger${triggers.rowCount === 1 ? "" : "s"} on host tables` : ""}`);
    }
    const { rows: [{ ledger }] } = await client.query("select to_regclass('graphile_migrate.migrations') is not null as ledger");
    if (ledger) {
      const forgotten = await forgetOurMigrations(client, committed);
      if (forgotten > 0) done.push(`deleted ${forgotten} rows of graphile_migrate.migrations`);
      if (await ledgerSchemaUnused(client)) {
        await client.query("drop schema graphile_migrate cascade");
        done.push("dropped schema graphile_migrate (nothing else was in it)");
      }
    }
    await client.query("commit");
    done.forEach((line) => say(line));
  } catch (error) {
    await client.query("rollback").catch(() => {});
    if (sqlState(error) !== LOCK_NOT_AVAILABLE) throw error;
    const held = await lockHolders(client, await productTables(client));
    throw new OperationError(
      `lock timeout (${lockTimeoutSeconds}s NOTIFIER_LOCK_TIMEOUT): could not lock ${held.join(", ") || "a table"}; ` +
        "nothing was removed (stop the services, or run it again)",
    );
  } finally {
    await client.end();
  }
  if (options.dropRoles) await dropRoles(connectionString, say);
}

/** The relations uninstall must lock: schema notifier's, and the host tables that carry our triggers. */
async function productTables(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `select c.oid::regclass::text as name from pg_catalog.pg_class c where c.relnamespace = to_regnamespace('notifier')
     union
     select t.tgrelid::regclass::text from pg_catalog.pg_trigger t join pg_catalog.pg_proc p on p.oid = t.tgfoid
      where p.pronamespace = to_regnamespace('notifier')`,
  );
  return rows.map((row) => row.name);
}

/**
 * Objects outside schema notifier that depend on one inside it, other than triggers whose
 * function is ours (those are the attachments, dropped): `drop schema … cascade` would drop them
 * silently. E.g. "view public.job_report", "constraint host_fk on public.orders".
 */
async function hostDependents(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ what: string }>(
    `with ours as (
       select 'pg_class'::regclass as classid, c.oid as objid from pg_catalog.pg_class c where c.relnamespace = 'notifier'::regnamespace
       union all select 'pg_proc'::regclass, p.oid from pg_catalog.pg_proc p where p.pronamespace = 'notifier'::regnamespace
       union all select 'pg_type'::regclass, t.oid from pg_catalog.pg_type t where t.typnamespace = 'notifier'::regnamespace
     ), dependents as (
       select distinct d.classid, d.objid
         from pg_catalog.pg_depend d
         join ours on ours.classid = d.refclassid and ours.objid = d.refobjid
        where d.deptype in ('n', 'a')
     )
     select pg_catalog.pg_describe_object(x.classid, x.objid, 0) as what
       from dependents x
       left join pg_catalog.pg_trigger t on x.classid = 'pg_trigger'::regclass and t.oid = x.objid
       left join pg_catalog.pg_attrdef a on x.classid = 'pg_attrdef'::regclass and a.oid = x.objid
       left join pg_catalog.pg_rewrite r on x.classid = 'pg_rewrite'::regclass and r.oid = x.objid
       left join pg_catalog.pg_constraint k on x.classid = 'pg_constraint'::regclass and k.oid = x.objid
       left join pg_catalog.pg_class c on c.oid = coalesce(t.tgrelid, a.adrelid, r.ev_class,
                                                          case when x.classid = 'pg_class'::regclass then x.objid end)
       left join pg_catalog.pg_proc f on f.oid = t.tgfoid
      where coalesce(k.connamespace, c.relnamespace) is distinct from 'notifier'::regnamespace
        and not exists (select 1 from ours where ours.classid = x.classid and ours.objid = x.objid)
        and f.pronamespace is distinct from 'notifier'::regnamespace  -- an attachment: dropped above
      order by 1`,
  );
  return rows.map((row) => row.what);
}

/** graphile_migrate holds only its two tables, both empty: nobody else uses it. */
async function ledgerSchemaUnused(client: pg.Client): Promise<boolean> {
  const { rows: [row] } = await client.query<{ unused: boolean }>(
    `select not exists (select 1 from graphile_migrate.migrations)
        and (to_regclass('graphile_migrate.current') is null or not exists (select 1 from graphile_migrate.current))
        and not exists (select 1 from pg_catalog.pg_class c
                         where c.relnamespace = 'graphile_migrate'::regnamespace
                           and c.relname not in ('migrations', 'current', 'migrations_pkey', 'current_pkey'))
        and not exists (select 1 from pg_catalog.pg_proc p where p.pronamespace = 'graphile_migrate'::regnamespace)
        and not exists (select 1 from pg_catalog.pg_type t
                         where t.typnamespace = 'graphile_migrate'::regnamespace and t.typrelid = 0 and t.typelem = 0)
        as unused`,
  );
  return row!.unused;
}

/**
 * Drops the group roles, each on its own: a role another database still uses (grants, owned
 * objects) cannot be dropped, and is kept with one line saying why.
 */
async function dropRoles(connectionString: string, say: (line: string) => void): Promise<void> {
  const client = new pg.Client(await connectionConfig(connectionString, APPLICATION_NAMES.migrate));
  await client.connect();
  try {
    for (const role of roleNames()) {
      const { rows: [{ exists }] } = await client.query("select exists (select 1 from pg_catalog.pg_roles where rolname = $1) as exists", [role]);
      if (!exists) continue;
      try {
        await client.query(`drop role ${pg.escapeIdentifier(role)}`);
        say(`dropped role ${role}`);
      } catch (error) {
        say(`kept role ${role}: ${(error as Error).message}`);
      }
    }
  } finally {
    await client.end();
  }
}
