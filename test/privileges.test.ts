import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { connect, createTestDatabase } from "./helpers/database.js";
import { addTemplate, insertJob, saveStatsEvent, setStatus } from "./helpers/jobs.js";
import { loginAs } from "./helpers/logins.js";

// Issue 11 item 1: no login of the three group roles runs code as anyone but itself, however it
// plants objects in its own pg_temp schema (types, tables, views, functions, operators) before
// taking the product's paths (the host's job writes, the service's grace sweep, claim and sleep
// lock, the read-only role's views); and the catalog keeps every function pinned to
// `pg_catalog, pg_temp` with every SECURITY DEFINER function owned by a NOLOGIN non-superuser.

const SECRET = "s3cret-token-of-the-privileges-test";

let url: string;
let admin: pg.Client;

beforeAll(async () => {
  url = await createTestDatabase();
  admin = await connect(url);
  const templateId = await addTemplate(admin, "privileges-hook");
  await admin.query(
    `update notifier.notification_templates
        set notification_configuration = notification_configuration || jsonb_build_object('password', $2::text)
      where id = $1`,
    [templateId, SECRET],
  );
});

/**
 * Plants, in `login`'s own pg_temp schema, a recorder that notes who runs it (current_user) and
 * copies every template's configuration it can read; then hooks it into everything a function
 * body could resolve there: domains named like the types the bodies use, tables and views named
 * like the product's, and functions and operators named like the ones the bodies call.
 */
async function plantTraps(login: pg.Client): Promise<void> {
  await login.query(`
    create function pg_temp.record_caller() returns boolean language plpgsql as $body$
    begin
      perform pg_catalog.set_config('trap.callers',
        coalesce(pg_catalog.current_setting('trap.callers', true), '') || current_user || ' ', false);
      begin
        perform pg_catalog.set_config('trap.loot',
          (select pg_catalog.string_agg(t.notification_configuration::pg_catalog.text, ' ')
             from notifier.notification_templates t), false);
      exception when insufficient_privilege then null;
      end;
      return true;
    end
    $body$`);
  await login.query(`
    create function pg_temp.record_caller_trigger() returns trigger language plpgsql as $body$
    begin perform pg_temp.record_caller(); return null; end
    $body$`);
  for (const type of ["jsonb", "text", "timestamptz", "interval", "numeric", "int4", "int8", "bool", "record", "name"]) {
    // record is a pseudo-type: no domain over it; a composite type of that name is planted instead.
    await login.query(
      type === "record"
        ? "create type pg_temp.record as (x pg_catalog.int4)"
        : `create domain pg_temp.${type} as pg_catalog.${type} check (pg_temp.record_caller())`,
    );
  }
  for (const table of ["jobs", "job_events", "notifications", "notification_templates", "subscriptions", "settings", "notification_type_keys"]) {
    await login.query(`create temp table ${table} (id pg_catalog.int8)`);
    await login.query(`create trigger trap before insert or update or delete on pg_temp.${table}
                       for each statement execute function pg_temp.record_caller_trigger()`);
  }
  await login.query("create temp view due as select 1 as id where pg_temp.record_caller()");
  const shadowedFunctions: Array<[string, string]> = [
    ["now()", "pg_catalog.timestamptz"], ["clock_timestamp()", "pg_catalog.timestamptz"],
    ["pg_notify(pg_catalog.text, pg_catalog.text)", "void"], ["to_jsonb(anyelement)", "pg_catalog.jsonb"],
    ["jsonb_build_object(pg_catalog.text, anyelement)", "pg_catalog.jsonb"],
    ["pg_try_advisory_xact_lock_shared(pg_catalog.int8)", "pg_catalog.bool"],
  ];
  for (const [signature, returns] of shadowedFunctions) {
    await login.query(`create function pg_temp.${signature} returns ${returns} language sql as $body$
                       select null::${returns === "void" ? "pg_catalog.text" : returns} where pg_temp.record_caller() $body$`);
  }
  await login.query(`create function pg_temp.trap_operator(pg_catalog.text, pg_catalog.text) returns boolean
                     language sql as $body$ select pg_temp.record_caller() $body$`);
  await login.query(`create function pg_temp.trap_interval(pg_catalog.timestamptz, pg_catalog.interval)
                     returns pg_catalog.timestamptz language sql as $body$ select null::pg_catalog.timestamptz where pg_temp.record_caller() $body$`);
  await login.query("create operator pg_temp.= (leftarg = pg_catalog.text, rightarg = pg_catalog.text, function = pg_temp.trap_operator)");
  await login.query("create operator pg_temp.<> (leftarg = pg_catalog.text, rightarg = pg_catalog.text, function = pg_temp.trap_operator)");
  await login.query("create operator pg_temp.- (leftarg = pg_catalog.timestamptz, rightarg = pg_catalog.interval, function = pg_temp.trap_interval)");
  await login.query("create operator pg_temp.+ (leftarg = pg_catalog.timestamptz, rightarg = pg_catalog.interval, function = pg_temp.trap_interval)");
}

/** Who ran the planted recorder in `login`'s session (only ever itself, if at all), and what it read. */
async function trapped(login: pg.Client): Promise<{ callers: string[]; loot: string }> {
  const { rows } = await login.query(
    "select pg_catalog.current_setting('trap.callers', true) as callers, pg_catalog.current_setting('trap.loot', true) as loot");
  return { callers: [...new Set((rows[0].callers ?? "").split(" ").filter(Boolean))] as string[], loot: rows[0].loot ?? "" };
}

async function expectOnlyItself(login: pg.Client): Promise<void> {
  const { callers, loot } = await trapped(login);
  expect(callers.filter((caller) => caller !== login.user)).toEqual([]);
  expect(loot).not.toContain(SECRET);
}

describe("a host login with traps in its pg_temp", () => {
  it("writes jobs and events through the SECURITY DEFINER fan-out without running its code as the owner", async () => {
    const host = await loginAs(admin, url, "notifier_host", "host");
    await plantTraps(host);
    const jobId = await insertJob(host, { name: "trap", status: "running" });
    await setStatus(host, jobId, "successful", true);
    await saveStatsEvent(host, jobId, { ok: { web1: 1 } });
    const other = await insertJob(host, { status: "failed", wrapup_dispatched: false });
    await expectOnlyItself(host);
    const { rows } = await admin.query("select count(*)::int as rows from notifier.notifications where job_id = any($1)", [[jobId, other]]);
    expect(rows[0].rows).toBe(3);
  });
});

describe("a service login with traps in its pg_temp", () => {
  it("runs the grace sweep, the claim and the sleep lock without running its code as the owner", async () => {
    const jobId = await insertJob(admin, { status: "running" });
    await setStatus(admin, jobId, "failed", true);
    await admin.query("update notifier.jobs set finished_at = now() - interval '1 hour' where id = $1", [jobId]);
    const service = await loginAs(admin, url, "notifier_service", "service");
    await plantTraps(service);
    const { rows } = await service.query("select notifier.expire_wrapups('0 seconds') as expired");
    expect(rows[0].expired).toBeGreaterThanOrEqual(1);
    await service.query("select * from notifier.claim_due('trap', 10, '1 minute', 5, null, '{}', '{}')");
    await service.query("select notifier.begin_listener_sleep(1000)");
    await service.query("select notifier.end_listener_sleep()");
    await service.query("select notifier.wake_listeners()");
    await service.query("select * from notifier.job_notification_state");
    await expectOnlyItself(service);
  });
});

describe("a read-only login with traps in its pg_temp", () => {
  it("reads the views and runs nothing as the owner", async () => {
    const readonly = await loginAs(admin, url, "notifier_readonly", "readonly");
    await plantTraps(readonly);
    await readonly.query("select * from notifier.job_notification_state");
    await expect(readonly.query("select notifier.expire_wrapups('0 seconds')")).rejects.toMatchObject({ code: "42501" });
    await expectOnlyItself(readonly);
  });
});

describe("the catalog", () => {
  it("pins every function of schema notifier to a search_path that ends with pg_temp", async () => {
    const { rows } = await admin.query(`
      select p.oid::regprocedure::text as function,
             (select c from unnest(p.proconfig) c where c like 'search_path=%') as search_path
        from pg_proc p
       where p.pronamespace = 'notifier'::regnamespace and p.prokind in ('f', 'p')
       order by 1`);
    expect(rows.length).toBeGreaterThan(10);
    const unpinned = rows.filter((row) => !/^search_path=(.+,\s*)?pg_temp$/.test(row.search_path ?? ""));
    expect(unpinned).toEqual([]);
    // pg_catalog comes first wherever it is named, so its types win over anything else on the path.
    expect(rows.filter((row) => !/^search_path=pg_catalog\b/.test(row.search_path))).toEqual([]);
  });

  it("has every SECURITY DEFINER function owned by a NOLOGIN, non-superuser role and not executable by PUBLIC", async () => {
    const { rows } = await admin.query(`
      select p.oid::regprocedure::text as function, r.rolname as owner, r.rolcanlogin, r.rolsuper,
             has_function_privilege('public', p.oid, 'execute') as public_execute
        from pg_proc p join pg_roles r on r.oid = p.proowner
       where p.pronamespace = 'notifier'::regnamespace and p.prosecdef
       order by 1`);
    expect(rows.map((row) => row.function)).toEqual(
      expect.arrayContaining([
        "notifier.expire_wrapups(interval,integer)", "notifier.purge(interval,interval,integer)", "notifier.tg_jobs__write()",
      ]),
    );
    expect(rows.filter((row) => row.rolcanlogin || row.rolsuper || row.public_execute)).toEqual([]);
  });

  it("lets PUBLIC execute no function of schema notifier that writes (none but read-only, invoker-rights ones)", async () => {
    const { rows } = await admin.query(`
      select p.oid::regprocedure::text as function
        from pg_proc p
       where p.pronamespace = 'notifier'::regnamespace and p.prokind in ('f', 'p')
         and (p.provolatile = 'v' or p.prosecdef)
         and has_function_privilege('public', p.oid, 'execute')
       order by 1`);
    expect(rows).toEqual([]);
  });

  it("gives the owner role no privilege beyond what its functions need: no secret, no login", async () => {
    const { rows } = await admin.query(`
      select has_column_privilege('notifier_owner', 'notifier.notification_templates', 'notification_configuration', 'select') as reads_secrets,
             has_table_privilege('notifier_owner', 'notifier.notification_templates', 'update') as writes_templates,
             has_table_privilege('notifier_owner', 'notifier.notifications', 'update') as updates_notifications,
             has_table_privilege('notifier_owner', 'notifier.jobs', 'delete') as deletes_jobs,
             has_column_privilege('notifier_owner', 'notifier.jobs', 'status', 'update') as writes_status,
             has_schema_privilege('notifier_owner', 'notifier', 'create') as creates_objects,
             (select rolcanlogin or rolsuper from pg_roles where rolname = 'notifier_owner') as logs_in`);
    expect(rows[0]).toEqual({
      reads_secrets: false, writes_templates: false, updates_notifications: false, deletes_jobs: false,
      writes_status: false, creates_objects: false, logs_in: false,
    });
  });
});

describe("the read-only role", () => {
  const HEADER_SECRET = "Bearer header-secret-of-the-privileges-test";
  let readonly: pg.Client;
  let templateId: number;
  beforeAll(async () => {
    readonly = await loginAs(admin, url, "notifier_readonly", "readonly");
    const { rows } = await admin.query(
      `insert into notifier.notification_templates (name, notification_type, notification_configuration)
       values ('privileges-headers', 'webhook', jsonb_build_object('url', 'http://127.0.0.1:9/h', 'password', $1::text,
               'username', '', 'headers', jsonb_build_object('Authorization', $2::text)))
       returning id`,
      [SECRET, HEADER_SECRET],
    );
    templateId = Number(rows[0].id);
    await admin.query("analyze notifier.notification_templates");
  });

  const leaks = (value: unknown) => {
    const text = JSON.stringify(value);
    return text.includes(SECRET) || text.includes(HEADER_SECRET);
  };

  it("reads the templates' configuration masked by the secret flags of notifier.notification_type_keys", async () => {
    const { rows } = await readonly.query(
      "select notification_configuration from notifier.notification_templates_masked where id = $1", [templateId]);
    expect(rows[0].notification_configuration).toEqual({
      url: "http://127.0.0.1:9/h", password: "********", username: "", headers: { Authorization: "********" },
    });
    const names = await readonly.query("select id, name, notification_type, messages from notifier.notification_templates where id = $1", [templateId]);
    expect(names.rows[0].name).toBe("privileges-headers");
  });

  it("follows the flags as they are in the table (a key declared secret later is masked at once)", async () => {
    await admin.query("begin");
    try {
      await admin.query("update notifier.notification_type_keys set secret = true where notification_type = 'webhook' and key = 'url'");
      // Seen from the same transaction: the view reads the flags when it is queried.
      const { rows } = await admin.query(
        "select notification_configuration ->> 'url' as url from notifier.notification_templates_masked where id = $1", [templateId]);
      expect(rows[0].url).toBe("********");
    } finally {
      await admin.query("rollback");
    }
  });

  it("cannot read a secret by any path: table, whole row, copy, statistics, functions, explain, planted traps", async () => {
    const denied = [
      "select notification_configuration from notifier.notification_templates",
      "select * from notifier.notification_templates",
      "select t.*::text from notifier.notification_templates t",
      "select to_jsonb(t) from notifier.notification_templates t",
      "select count(*) from notifier.notification_templates where notification_configuration ->> 'password' like 's%'",
      "copy notifier.notification_templates to stdout",
      "select * from notifier.claim_due('readonly', 10, '1 minute', 5, null, '{}', '{}')",
      "explain (verbose) select notification_configuration from notifier.notification_templates",
    ];
    for (const statement of denied) {
      await expect(readonly.query(statement), statement).rejects.toMatchObject({ code: "42501" });
    }
    const { rows: statistics } = await readonly.query(
      "select * from pg_stats where schemaname = 'notifier' and tablename = 'notification_templates'");
    expect(statistics.map((row) => row.attname)).not.toContain("notification_configuration");
    expect(leaks(statistics)).toBe(false);
    expect((await admin.query(
      "select count(*)::int as n from pg_stats where schemaname = 'notifier' and attname = 'notification_configuration'")).rows[0].n).toBe(1);

    const readable = [
      "select * from notifier.notification_templates_masked",
      "explain (verbose, costs off) select * from notifier.notification_templates_masked",
      "select * from notifier.job_notification_state",
      "select job_snapshot, error, body from notifier.notifications",
    ];
    for (const statement of readable) expect(leaks((await readonly.query(statement)).rows), statement).toBe(false);

    // Every function the role may execute runs with its own rights, so none reads a column the role
    // may not; the claim, which returns configurations, is not one. The two exceptions read host
    // tables the role cannot (an attached AWX's), are read-only and return no configuration: the
    // attachments' health and a job's state.
    const { rows: callable } = await readonly.query(`
      select p.oid::regprocedure::text as function, p.prosecdef from pg_proc p
       where p.pronamespace = 'notifier'::regnamespace and has_function_privilege(p.oid, 'execute')`);
    expect(callable.map((row) => row.function)).toEqual(expect.arrayContaining([
      "notifier.is_final_status(text)", "notifier.validate_notification_template(text,jsonb,jsonb)", "notifier.wrapup_event_of(text)",
    ]));
    expect(callable.filter((row) => row.prosecdef).map((row) => row.function).sort())
      .toEqual(["notifier.attachments()", "notifier.job_state(bigint)"]);
    expect(callable.map((row) => row.function)).not.toContain("notifier.claim_due(text,integer,interval)");

    // A function of its own that sees the view's rows sees them masked.
    await plantTraps(readonly);
    const { rows: filtered } = await readonly.query(
      "select id from notifier.notification_templates_masked m where pg_temp.record_caller() and m.notification_configuration::text like '%' || $1 || '%'",
      [SECRET.slice(0, 8)]);
    expect(filtered).toEqual([]);
    await expectOnlyItself(readonly);
  });
});
