import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe, expect, inject, test } from "vitest";
import { urlForDatabase } from "../src/databaseUrl.js";
import { runMigrations } from "../src/migrate.js";
import { connect, createEmptyDatabase, createTestDatabase } from "./helpers/database.js";
import { awxSetStatus, createAwxJob, createAwxSchema } from "./helpers/awx.js";
import { addTemplate, insertJob, saveStatsEvent, setStatus } from "./helpers/jobs.js";
import { runCli } from "./helpers/service.js";

// Installing into, and removing from, a database that is not the product's alone (CONTRACT §9):
// graphile-migrate's ledger shared with a host, a schema dropped by hand, uninstall leaving the
// catalog as it was, and `migrate` with nothing to do needing no DDL right.

/** Everything a database's catalog says about objects outside the system schemas, by name. */
async function catalogSnapshot(db: pg.Client): Promise<Record<string, string[]>> {
  const userSchema = "n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and n.nspname !~ '^pg_(toast_)?temp_'";
  const queries: Record<string, string> = {
    schemas: `select format('%s owner=%s acl=%s', n.nspname, n.nspowner::regrole, coalesce(n.nspacl, acldefault('n'::"char", n.nspowner))) from pg_namespace n where ${userSchema}`,
    relations: `select format('%s.%s %s acl=%s options=%s', n.nspname, c.relname, c.relkind, coalesce(c.relacl, acldefault((case when c.relkind = 'S' then 's' else 'r' end)::"char", c.relowner)), c.reloptions)
                  from pg_class c join pg_namespace n on n.oid = c.relnamespace where ${userSchema}`,
    columns: `select format('%s.%s.%s %s', n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod))
                from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
               where ${userSchema} and a.attnum > 0 and not a.attisdropped`,
    functions: `select format('%s.%s acl=%s config=%s', n.nspname, p.oid::regprocedure, p.proacl, p.proconfig)
                  from pg_proc p join pg_namespace n on n.oid = p.pronamespace where ${userSchema}`,
    types: `select format('%s.%s', n.nspname, t.typname) from pg_type t join pg_namespace n on n.oid = t.typnamespace where ${userSchema}`,
    triggers: `select format('%s on %s', t.tgname, t.tgrelid::regclass) from pg_trigger t where not t.tgisinternal`,
    constraints: `select format('%s on %s', k.conname, k.conrelid::regclass)
                    from pg_constraint k join pg_namespace n on n.oid = k.connamespace where ${userSchema}`,
    defaultAcls: "select format('%s %s %s %s', d.defaclrole::regrole, d.defaclnamespace, d.defaclobjtype, d.defaclacl) from pg_default_acl d",
    extensions: "select extname from pg_extension",
    eventTriggers: "select evtname from pg_event_trigger",
    database: "select format('acl=%s', datacl) from pg_database where datname = current_database()",
  };
  const snapshot: Record<string, string[]> = {};
  for (const [name, text] of Object.entries(queries)) {
    const { rows } = await db.query({ text, rowMode: "array" });
    snapshot[name] = rows.map((row: unknown[]) => String(row[0])).sort();
  }
  return snapshot;
}

/** The CLI on `url` (as the operator would run it: DATABASE_URL), NOTIFIER_MIGRATE_DATABASE_URL unset. */
const cli = (url: string, args: string[], env: Record<string, string | undefined> = {}) =>
  runCli(args, { DATABASE_URL: url, NOTIFIER_MIGRATE_DATABASE_URL: undefined, ...env });

describe("uninstall", () => {
  test("install, use, uninstall: the catalog is as before the first migrate; migrate installs everything again", async () => {
    const url = await createEmptyDatabase();
    const db = await connect(url);
    // The host's own tables, from before the product: its jobs and their events (partitioned, one
    // partition), and AWX's.
    await db.query(`create table public.host_jobs (id bigint primary key, status text not null);
      create table public.host_job_events (job_id bigint not null, event text not null, created timestamptz not null) partition by range (created);
      create table public.host_job_events_all partition of public.host_job_events for values from ('2000-01-01') to ('2100-01-01')`);
    await createAwxSchema(db);
    const before = await catalogSnapshot(db);

    expect(await runMigrations(url)).toBe("applied");
    await addTemplate(db, "ops");
    await addTemplate(db, "old");
    const job = await insertJob(db, { status: "running", wrapup_dispatched: true });
    await setStatus(db, job, "successful");
    await saveStatsEvent(db, job);
    expect((await cli(url, ["templates", "remove", "old"])).code).toBe(0);
    // Attachments: triggers on the host's tables whose functions are the product's (the events
    // trigger on the partitioned parent, cloned on its partition).
    expect((await cli(url, ["attach", "awx"])).code).toBe(0);
    await db.query(`select notifier.attach_table('public.host_jobs', 'id', 'status', null,
                      wrapup_events => 'public.host_job_events', event_job_column => 'job_id', event_name_column => 'event')`);
    // (One job id space per database: ids apart from notifier.jobs' and each other's.)
    await db.query("insert into public.host_jobs values (1001, 'running')");
    await db.query("select setval(pg_get_serial_sequence('main_unifiedjob', 'id'), 2000)");
    const awxJob = await createAwxJob(db);
    await awxSetStatus(db, awxJob, "running");
    const attachedTriggers = async () =>
      (await db.query({ rowMode: "array", text: "select tgname from pg_trigger where tgname like 'notifier\\_%' order by 1" })).rows.flat();
    expect(new Set(await attachedTriggers())).toEqual(new Set([
      "notifier_100_job_insert", "notifier_100_job_update", "notifier_100_wrapup_event", "notifier_100_approval_timed_out",
    ]));

    const refused = await cli(url, ["uninstall"]);
    expect(refused).toEqual({
      code: 1, stdout: "",
      stderr: "pg-job-notifier: 6 notification rows are pending; nothing was removed (wait for them, or uninstall --force to drop them unsent)\n",
    });
    expect((await db.query("select count(*)::int as n from notifier.notifications")).rows[0].n).toBe(6);

    const removed = await cli(url, ["uninstall", "--force"]);
    expect(removed.code).toBe(0);
    expect(removed.stderr).toBe("");
    expect(removed.stdout).toMatch(new RegExp([
      "^dropped schema notifier and 6 triggers on host tables",
      "deleted \\d+ rows of graphile_migrate.migrations",
      "dropped schema graphile_migrate \\(nothing else was in it\\)",
      "uninstalled\n$"].join("\n")));
    expect(await catalogSnapshot(db)).toEqual(before);
    expect(await attachedTriggers()).toEqual([]);
    expect((await db.query("select * from public.host_jobs")).rows).toEqual([{ id: "1001", status: "running" }]);
    await awxSetStatus(db, awxJob, "successful"); // the host's writes go on

    expect(await runMigrations(url)).toBe("applied");
    await addTemplate(db, "again");
    const next = await insertJob(db, { status: "running" });
    expect((await db.query("select trigger from notifier.notifications where job_id = $1", [next])).rows).toEqual([{ trigger: "started" }]);
  });

  test("refuses, changing nothing, while host objects depend on the product's (a view)", async () => {
    const url = await createTestDatabase();
    const db = await connect(url);
    await db.query("create view public.job_report as select id, status from notifier.jobs");
    const before = await catalogSnapshot(db);
    const result = await cli(url, ["uninstall", "--force"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "pg-job-notifier: objects outside schema notifier depend on it: rule _RETURN on view job_report; nothing was removed (drop them first)\n",
    );
    expect(await catalogSnapshot(db)).toEqual(before);
  });

  test("a lock timeout (a long reader on notifier.jobs): one line naming the table and the reader, nothing removed", async () => {
    const url = await createTestDatabase();
    const [db, reader] = await Promise.all([connect(url), connect(url)]);
    const { rows: [{ pid }] } = await reader.query("select pg_backend_pid() as pid");
    await reader.query("begin");
    await reader.query("select count(*) from notifier.jobs");
    const before = await catalogSnapshot(db);
    const result = await cli(url, ["uninstall", "--force", "--lock-timeout", "1s"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(
      "^pg-job-notifier: lock timeout \\(1s NOTIFIER_LOCK_TIMEOUT\\): could not lock notifier\\.jobs " +
        `\\(locked by pid ${pid}, idle in transaction for \\d+s\\); nothing was removed \\(stop the services, or run it again\\)\n$`,
    ));
    expect(await catalogSnapshot(db)).toEqual(before);
    await reader.query("commit");
  });

  test("--drop-roles drops the group roles too (roles of this test's own names)", async () => {
    const suffix = randomBytes(4).toString("hex");
    // All four of its own: --drop-roles must never reach the cluster's shared roles.
    const roles = {
      NOTIFIER_HOST_ROLE: `prod_t_host_${suffix}`, NOTIFIER_SERVICE_ROLE: `prod_t_service_${suffix}`,
      NOTIFIER_READONLY_ROLE: `prod_t_readonly_${suffix}`, NOTIFIER_OWNER_ROLE: `prod_t_owner_${suffix}`,
    };
    const url = await createEmptyDatabase();
    const db = await connect(url);
    const installed = await cli(url, ["migrate"], roles);
    expect(installed).toEqual({ code: 0, stdout: "migrations applied\n", stderr: "" });
    const roleCount = async () =>
      (await db.query("select count(*)::int as n from pg_roles where rolname = any($1)", [Object.values(roles)])).rows[0].n;
    expect(await roleCount()).toBe(4);
    const removed = await cli(url, ["uninstall", "--drop-roles"], roles);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`dropped role ${roles.NOTIFIER_SERVICE_ROLE}\n`);
    expect(removed.stdout).toContain(`dropped role ${roles.NOTIFIER_OWNER_ROLE}\n`);
    expect(removed.stdout).not.toContain("notifier_owner");
    expect(await roleCount()).toBe(0);
  });
});

describe("graphile-migrate's ledger", () => {
  test("a ledger holding a host's own migrations: migrate refuses in one line and changes nothing", async () => {
    const url = await createEmptyDatabase();
    const db = await connect(url);
    // The host uses graphile-migrate itself: its ledger, with its first migration.
    await db.query(`create schema graphile_migrate;
      create table graphile_migrate.migrations (hash text primary key, previous_hash text references graphile_migrate.migrations,
                                                filename text not null, date timestamptz not null default now());
      create table graphile_migrate.current (filename text primary key default 'current.sql', content text not null,
                                             date timestamptz not null default now());
      insert into graphile_migrate.migrations (hash, previous_hash, filename) values ('sha1:0123456789abcdef', null, '000001.sql');
      create table public.orders (id bigint primary key)`);
    const before = await catalogSnapshot(db);
    const result = await cli(url, ["migrate"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      "pg-job-notifier: graphile_migrate.migrations holds 1 migration that is not pg-job-notifier's (first: 000001.sql " +
        "sha1:0123456789abcdef); this database's own graphile-migrate history cannot be shared, so nothing was changed (see docs/installing.md)\n",
    );
    expect(await catalogSnapshot(db)).toEqual(before);
    expect((await db.query("select filename from graphile_migrate.migrations")).rows).toEqual([{ filename: "000001.sql" }]);
  });

  test("a schema notifier that the ledger knows nothing of: migrate refuses in one line and changes nothing", async () => {
    const url = await createEmptyDatabase();
    const db = await connect(url);
    await db.query("create schema notifier; create table notifier.unrelated (id int)");
    const before = await catalogSnapshot(db);
    expect(await cli(url, ["migrate"])).toEqual({
      code: 1, stdout: "",
      stderr: "pg-job-notifier: schema notifier exists but graphile_migrate.migrations lists none of pg-job-notifier's migrations " +
        "(a schema of that name made by something else, or a ledger emptied by hand); nothing was changed\n",
    });
    expect(await catalogSnapshot(db)).toEqual(before);
  });

  test("another migrate running (its advisory lock held): one line, worth a retry", async () => {
    const url = await createEmptyDatabase();
    const other = await connect(url);
    await other.query("select pg_advisory_lock(4727445306447283)");
    expect(await cli(url, ["migrate"])).toEqual({
      code: 1, stdout: "", stderr: "pg-job-notifier: another migrate is running on this database (graphile-migrate's advisory lock is taken)\n",
    });
    await other.query("select pg_advisory_unlock(4727445306447283)");
    expect((await cli(url, ["migrate"])).stdout).toBe("migrations applied\n");
  });

  test("schema notifier dropped by hand, ledger left: migrate says so in one line and installs again", async () => {
    const url = await createTestDatabase();
    const db = await connect(url);
    await db.query("drop schema notifier cascade");
    const result = await cli(url, ["migrate"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("migrations applied\n");
    expect(result.stderr).toMatch(
      /^schema notifier is gone but graphile_migrate.migrations still listed \d+ of its migrations: forgot them, installing again\n$/,
    );
    await addTemplate(db, "ops");
    const job = await insertJob(db, { status: "running" });
    expect((await db.query("select trigger from notifier.notifications where job_id = $1", [job])).rows).toEqual([{ trigger: "started" }]);
    expect(await cli(url, ["migrate"])).toEqual({ code: 0, stdout: "up to date\n", stderr: "" });
  });
});

describe("NOTIFIER_MIGRATE_DATABASE_URL", () => {
  test("migrate with nothing to do runs as the service's least-privilege role; changes need the migrate URL", async () => {
    const url = await createTestDatabase();
    const empty = await createEmptyDatabase();
    const db = await connect(url);
    const login = `prod_t_app_${randomBytes(4).toString("hex")}`;
    // A password of its own: the embedded server asks for one (the machine's may trust loopback).
    const password = randomBytes(12).toString("hex");
    await db.query(`create role ${login} login password '${password}' in role notifier_service`);
    const as = (database: string) => Object.assign(new URL(database), { username: login, password }).toString();
    try {
      // Up to date: reads the ledger only.
      expect(await cli(as(url), ["migrate"])).toEqual({ code: 0, stdout: "up to date\n", stderr: "" });
      // Something to do: the service's role may not; with the owner's NOTIFIER_MIGRATE_DATABASE_URL it is done.
      const denied = await cli(as(empty), ["migrate"]);
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/permission denied/);
      const applied = await cli(as(empty), ["migrate"], { NOTIFIER_MIGRATE_DATABASE_URL: empty });
      expect(applied).toEqual({ code: 0, stdout: "migrations applied\n", stderr: "" });
      expect(await cli(as(empty), ["migrate"])).toEqual({ code: 0, stdout: "up to date\n", stderr: "" });
    } finally {
      await db.query(`drop role ${login}`);
    }
  });

  test("a bad NOTIFIER_MIGRATE_DATABASE_URL is exit 2 naming it", async () => {
    const result = await cli(urlForDatabase(inject("adminUrl"), "postgres"), ["migrate"], { NOTIFIER_MIGRATE_DATABASE_URL: "mysql://x" });
    expect(result).toEqual({ code: 2, stdout: "", stderr: "pg-job-notifier: NOTIFIER_MIGRATE_DATABASE_URL must be a postgres:// or postgresql:// connection URI\n" });
  });
});
