import { randomBytes } from "node:crypto";
import { once } from "node:events";
import pg from "pg";
import { beforeAll, describe, expect, it, inject } from "vitest";
import { urlForDatabase } from "../src/databaseUrl.js";
import { createDatabasePool, createHotPathPool, type DatabasePool } from "../src/db.js";
import { runMigrations } from "../src/migrate.js";
import { claimDue } from "../src/sql/claimDue.js";
import { expireWrapups } from "../src/sql/expireWrapups.js";
import { recordOutcomes } from "../src/sql/recordOutcomes.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { eventually } from "./helpers/eventually.js";
import { HttpReceiver } from "./helpers/httpReceiver.js";
import { addTemplate, insertJob, saveStatsEvent, setStatus, triggersOf } from "./helpers/jobs.js";
import { addWebhook, ServiceProcess } from "./helpers/service.js";
import { afterFile } from "./helpers/afterFile.js";
import { loginAs as loginAsRole } from "./helpers/logins.js";

// Migration 000008: with nothing but its group role, each kind of user can do its job and no more.

const INSUFFICIENT_PRIVILEGE = "42501";
/** The live-service test's jobs, kept apart from the other tests' rows by their job template. */
const LIVE_JOB_TEMPLATE = 4242;

let url: string;
let admin: pg.Client;

/** A login role (cluster-wide, so uniquely named) that is a member of `groupRole` only. */
const loginAs = (groupRole: string) => loginAsRole(admin, url, groupRole);

/** The connection string a client logged in with. */
function urlOf(client: pg.Client): string {
  const login = new URL(url);
  login.username = client.user!;
  login.password = String(client.password);
  return login.toString();
}

async function expectDenied(work: Promise<unknown>): Promise<void> {
  await expect(work).rejects.toMatchObject({ code: INSUFFICIENT_PRIVILEGE });
}

beforeAll(async () => {
  url = await createTestDatabase();
  admin = await connect(url);
  await addTemplate(admin, "roles-hook");
});

describe("host role", () => {
  let host: pg.Client;
  beforeAll(async () => {
    host = await loginAs("notifier_host");
  });

  it("writes jobs and events, and its writes create the notifications", async () => {
    const jobId = await insertJob(host, { name: "deploy", status: "pending" });
    await setStatus(host, jobId, "running");
    await setStatus(host, jobId, "successful", true);
    await saveStatsEvent(host, jobId, { ok: { web1: 1 } });
    expect(await triggersOf(admin, jobId)).toEqual(["started", "success"]);
    const job = await admin.query("select host_status_counts from notifier.jobs where id = $1", [jobId]);
    expect(job.rows[0].host_status_counts).toEqual({ ok: 1 });
  });

  it("cannot write the protocol's bookkeeping (notifier.job_conditions)", async () => {
    const jobId = await insertJob(host, { status: "running" });
    await expectDenied(host.query("update notifier.job_conditions set final_condition_at = now() where job_id = $1", [jobId]));
    await expectDenied(host.query("update notifier.job_conditions set wrapup_expired_at = now() where job_id = $1", [jobId]));
    await expectDenied(host.query("insert into notifier.job_conditions (attachment, job_id, final_trigger) values ('notifier.jobs', 0, 'error')"));
    await expectDenied(host.query("select notifier.decide('notifier.jobs', $1, 'job', 'successful', true, false, false)", [jobId]));
  });

  it("cannot write templates or notifications, nor read notifications, nor run the grace", async () => {
    await expectDenied(
      host.query(`insert into notifier.notification_templates (name, notification_type, notification_configuration)
                  values ('host-made', 'webhook', '{"url": "http://127.0.0.1:9/"}')`),
    );
    await expectDenied(host.query("insert into notifier.subscriptions (notification_template_id, trigger) values (1, 'error')"));
    await expectDenied(host.query("select * from notifier.notifications"));
    await expectDenied(host.query("update notifier.notifications set status = 'successful'"));
    await expectDenied(host.query("select notifier.expire_wrapups('0 seconds')"));
  });
});

describe("service role", () => {
  let service: pg.Client;
  let servicePool: DatabasePool;
  beforeAll(async () => {
    service = await loginAs("notifier_service");
    servicePool = await createDatabasePool(urlOf(service));
    afterFile(() => servicePool.end());
  });

  it("listens, claims with a lease, records the outcome and runs the grace", async () => {
    // An idle service LISTENs and holds the sleep lock, so the transaction creating rows notifies.
    await service.query("listen notifier");
    expect((await service.query("select notifier.begin_listener_sleep(5000) as held")).rows[0].held).toBe(true);
    const woken = once(service, "notification");
    const jobId = await insertJob(admin, { status: "running" });
    const [wakeUp] = await woken;
    expect(wakeUp).toMatchObject({ channel: "notifier" });
    expect((await service.query("select notifier.end_listener_sleep() as released")).rows[0].released).toBe(true);

    // The delivery service's own statements, on a pool that logs in as the service's login.
    const hotPath = await createHotPathPool(urlOf(service));
    afterFile(() => hotPath.end());
    const claimed = await claimDue(hotPath, { worker: "roles-test", limit: 10, leaseSeconds: 60, maxAttempts: 5, maxAgeSeconds: null });
    const mine = claimed.filter((row) => row.jobId === jobId);
    expect(mine.map((row) => row.trigger)).toEqual(["started"]);
    const recorded = await recordOutcomes(
      hotPath,
      mine.map((row) => ({
        id: row.id, leaseToken: row.leaseToken, kind: "sent" as const, error: null, httpStatus: null, retryAfterSeconds: null,
        subject: "s", body: null, recipients: "r", notificationsSent: 1, deliveredTargets: [],
      })),
      { retryDelaySeconds: 10, maxAttempts: 5 },
    );
    expect([...recorded.values()]).toEqual(["successful"]);

    // The grace sweep fires a final condition through the job triggers, with no UPDATE on jobs.
    await setStatus(admin, jobId, "failed", true);
    await admin.query("update notifier.settings set wrapup_grace = '0 seconds'");
    try {
      expect(await expireWrapups(servicePool, 300)).toBe(1);
    } finally {
      await admin.query("update notifier.settings set wrapup_grace = default");
    }
    const rows = await service.query("select trigger, status from notifier.notifications where job_id = $1 order by id", [jobId]);
    expect(rows.rows).toEqual([
      { trigger: "started", status: "successful" },
      { trigger: "error", status: "pending" },
    ]);
    const state = await service.query("select waiting_for from notifier.job_notification_state where job_id = $1", [jobId]);
    expect(state.rows[0].waiting_for).toBeNull();
  });

  it("runs the real delivery service: sends started, and the final row the grace fires", async () => {
    const receiver = await HttpReceiver.start();
    await addWebhook(admin, "roles-live", { url: `${receiver.url}/hook` }, { jobTemplateId: LIVE_JOB_TEMPLATE });
    await admin.query("update notifier.settings set wrapup_grace = '1 second'");
    afterFile(() => admin.query("update notifier.settings set wrapup_grace = default"));
    const process = await ServiceProcess.start({ databaseUrl: urlOf(service) });
    const host = await loginAs("notifier_host");
    const jobId = await insertJob(host, { name: "roles-live", status: "running", job_template_id: LIVE_JOB_TEMPLATE });
    await host.query("update notifier.jobs set status = 'successful', wrapup_dispatched = true where id = $1", [jobId]);

    const requests = await receiver.waitForRequests(2);
    expect(requests.map((request) => JSON.parse(request.body).status)).toEqual(["running", "successful"]);
    // The outcome is recorded just after the response: poll for it.
    const recorded = async () =>
      (await admin.query(
        `select n.trigger, n.status, n.job_snapshot ->> 'wrapup_expired_at' is not null as by_grace
           from notifier.notifications n join notifier.notification_templates t on t.id = n.notification_template_id
          where n.job_id = $1 and t.name = 'roles-live' order by n.id`,
        [jobId],
      )).rows;
    await eventually(async () => (await recorded()).every((row) => row.status === "successful"), { what: "both rows recorded" });
    expect(await recorded()).toEqual([
      { trigger: "started", status: "successful", by_grace: false },
      { trigger: "success", status: "successful", by_grace: true },
    ]);
    expect(process.output).not.toMatch(/permission denied/i);
    process.kill("SIGTERM");
    expect(await process.waitForExit()).toEqual({ code: 0, signal: null });
  });

  it("cannot write jobs, events or templates", async () => {
    await expectDenied(service.query("update notifier.jobs set status = 'canceled'"));
    await expectDenied(service.query("insert into notifier.jobs (name) values ('service-made')"));
    await expectDenied(service.query("insert into notifier.job_events (job_id, event) values (1, 'EOF')"));
    await expectDenied(service.query("update notifier.notification_templates set name = 'renamed'"));
    await expectDenied(service.query("delete from notifier.notifications"));
  });
});

describe("read-only role", () => {
  let readonly: pg.Client;
  beforeAll(async () => {
    readonly = await loginAs("notifier_readonly");
  });

  it("reads every table and the state view; templates' configuration only masked", async () => {
    const state = await readonly.query("select count(*)::int as jobs from notifier.job_notification_state");
    expect(state.rows[0].jobs).toBeGreaterThan(0);
    for (const table of ["jobs", "job_events", "notifications", "notification_templates_masked", "subscriptions", "notification_type_keys", "settings"]) {
      await readonly.query(`select * from notifier.${table} limit 1`);
    }
    await readonly.query("select id, name, notification_type, messages from notifier.notification_templates limit 1");
    await expectDenied(readonly.query("select notification_configuration from notifier.notification_templates"));
  });

  it("writes nothing and runs nothing that writes", async () => {
    await expectDenied(readonly.query("insert into notifier.jobs (name) values ('ro')"));
    await expectDenied(readonly.query("update notifier.notifications set status = 'pending'"));
    await expectDenied(readonly.query("delete from notifier.notification_templates"));
    await expectDenied(readonly.query("select notifier.expire_wrapups('0 seconds')"));
  });
});

describe("role names and creation", () => {
  it("takes names from the environment and reuses a role that already exists", async () => {
    const suffix = randomBytes(4).toString("hex");
    const names = {
      host: `custom_host_${suffix}`, service: `custom_service_${suffix}`, readonly: `custom_ro_${suffix}`, owner: `custom_owner_${suffix}`,
    };
    const database = `notifier_roles_${suffix}`;
    await admin.query(`create role ${names.host} login`); // an operator's existing role: left as it is
    await admin.query(`create database ${database}`);
    afterFile(async () => {
      await admin.query(`drop database if exists ${database} with (force)`);
      for (const role of Object.values(names)) {
        await admin.query(`drop owned by ${role}`).catch(() => {}); // (a role that was never created)
        await admin.query(`drop role if exists ${role}`);
      }
    });

    const saved = { ...process.env };
    Object.assign(process.env, {
      NOTIFIER_HOST_ROLE: names.host,
      NOTIFIER_SERVICE_ROLE: names.service,
      NOTIFIER_READONLY_ROLE: names.readonly,
      NOTIFIER_OWNER_ROLE: names.owner,
    });
    try {
      await runMigrations(urlForDatabase(inject("adminUrl"), database));
    } finally {
      process.env = saved;
    }

    const roles = await admin.query(
      "select rolname, rolcanlogin from pg_roles where rolname = any($1) order by rolname",
      [Object.values(names)],
    );
    expect(roles.rows).toEqual([
      { rolname: names.host, rolcanlogin: true },
      { rolname: names.owner, rolcanlogin: false },
      { rolname: names.readonly, rolcanlogin: false },
      { rolname: names.service, rolcanlogin: false },
    ]);
    const migrated = new pg.Client({ connectionString: urlForDatabase(inject("adminUrl"), database) });
    await migrated.connect();
    try {
      const grants = await migrated.query(
        `select has_table_privilege($1, 'notifier.job_notification_state', 'select') as ro_view,
                has_column_privilege($2, 'notifier.jobs', 'status', 'update') as host_status,
                has_table_privilege($2, 'notifier.job_conditions', 'update') as host_bookkeeping,
                has_table_privilege($3, 'notifier.notifications', 'update') as service_notifications,
                (select pg_get_userbyid(proowner) from pg_proc where oid = 'notifier.expire_wrapups(interval, integer)'::regprocedure) as sweep_owner`,
        [names.readonly, names.host, names.service],
      );
      expect(grants.rows[0]).toEqual({
        ro_view: true, host_status: true, host_bookkeeping: false, service_notifications: true, sweep_owner: names.owner,
      });
    } finally {
      await migrated.end();
    }
  });

  it("migrates as a role that is not a superuser (CREATEROLE, owner of the database)", async () => {
    const suffix = randomBytes(4).toString("hex");
    const migrator = `notifier_test_migrator_${suffix}`;
    const password = randomBytes(12).toString("hex");
    const names = { host: `nsu_host_${suffix}`, service: `nsu_service_${suffix}`, readonly: `nsu_ro_${suffix}`, owner: `nsu_owner_${suffix}` };
    const database = `notifier_roles_${suffix}`;
    await admin.query(`create role ${migrator} login createrole password '${password}'`);
    await admin.query(`create database ${database} owner ${migrator}`);
    afterFile(async () => {
      await admin.query(`drop database if exists ${database} with (force)`);
      for (const role of [...Object.values(names), migrator]) await admin.query(`drop role if exists ${role}`);
    });
    const migratorUrl = new URL(urlForDatabase(inject("adminUrl"), database));
    migratorUrl.username = migrator;
    migratorUrl.password = password;

    const saved = { ...process.env };
    Object.assign(process.env, {
      NOTIFIER_HOST_ROLE: names.host, NOTIFIER_SERVICE_ROLE: names.service,
      NOTIFIER_READONLY_ROLE: names.readonly, NOTIFIER_OWNER_ROLE: names.owner,
    });
    try {
      await runMigrations(migratorUrl.toString());
    } finally {
      process.env = saved;
    }
    const migrated = new pg.Client({ connectionString: urlForDatabase(inject("adminUrl"), database) });
    await migrated.connect();
    try {
      const { rows } = await migrated.query(
        `select p.oid::regprocedure::text as function, pg_get_userbyid(p.proowner) as owner
           from pg_proc p where p.pronamespace = 'notifier'::regnamespace and p.prosecdef order by 1`);
      expect(rows).toEqual([
        { function: "notifier.attachments()", owner: names.owner },
        { function: "notifier.expire_wrapups(interval,integer)", owner: names.owner },
        { function: "notifier.job_state(bigint)", owner: names.owner },
        { function: "notifier.purge(interval,interval,integer)", owner: names.owner },
        { function: "notifier.tg_jobs__write()", owner: names.owner },
      ]);
      const owner = await migrated.query(
        "select rolsuper, rolcanlogin, has_schema_privilege($1, 'notifier', 'create') as creates from pg_roles where rolname = $1",
        [names.owner]);
      expect(owner.rows[0]).toEqual({ rolsuper: false, rolcanlogin: false, creates: false });
    } finally {
      await migrated.end();
    }
  });

  it("refuses an owner role that can log in: the SECURITY DEFINER functions' owner must be NOLOGIN", async () => {
    const suffix = randomBytes(4).toString("hex");
    const owner = `custom_login_owner_${suffix}`;
    const database = `notifier_roles_${suffix}`;
    await admin.query(`create role ${owner} login`);
    await admin.query(`create database ${database}`);
    afterFile(async () => {
      await admin.query(`drop database if exists ${database} with (force)`);
      await admin.query(`drop role if exists ${owner}`);
    });
    const saved = { ...process.env };
    process.env.NOTIFIER_OWNER_ROLE = owner;
    try {
      await expect(runMigrations(urlForDatabase(inject("adminUrl"), database))).rejects.toThrow(
        `role "${owner}" can log in or is a superuser`,
      );
    } finally {
      process.env = saved;
    }
  });
});
