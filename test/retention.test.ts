import type pg from "pg";
import { beforeAll, describe, expect, test } from "vitest";
import { createDatabasePool, sql, type DatabasePool } from "../src/db.js";
import { readHealth } from "../src/sql/readHealth.js";
import { removeTemplate } from "../src/sql/removeTemplate.js";
import { afterFile } from "./helpers/afterFile.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { addTemplate, backendPid, insertJob, saveStatsEvent, setStatus, triggersOf } from "./helpers/jobs.js";
import { runCli, ServiceProcess } from "./helpers/service.js";

// Retention and the operations around it never wait for the host or the service, nor make them
// wait (CONTRACT §9): purge under held rows, open claims and open host transactions; a template
// removed while a host transaction is creating its rows; the health figures read from indexes.

let url: string;
let db: pg.Client; // setup and checks
let observer: pg.Client; // watches pg_stat_activity
let pool: DatabasePool;

beforeAll(async () => {
  url = await createTestDatabase();
  [db, observer] = await Promise.all([connect(url), connect(url)]);
  pool = await createDatabasePool(url, { maximumPoolSize: 1 });
  afterFile(() => pool.end());
});

/**
 * Resolves with `work` once it is done, failing as soon as backend `pid` is seen waiting for a
 * lock: the proof that it went through without waiting for anyone.
 */
async function withoutWaiting<T>(pid: number, work: Promise<T>): Promise<T> {
  let done = false;
  const result = work.finally(() => (done = true));
  while (!done) {
    const { rows } = await observer.query("select wait_event_type, wait_event from pg_stat_activity where pid = $1", [pid]);
    if (rows[0]?.wait_event_type === "Lock") throw new Error(`backend ${pid} waits for a lock (${rows[0].wait_event})`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return result;
}

/**
 * A finished job of job template 7001 (a started and a success row), its rows, events and
 * bookkeeping (when its conditions were met, by the database clock) made `ageDays` old.
 */
async function finishedJob(ageDays: number, rowStatus: "successful" | "failed" | "pending"): Promise<number> {
  const job = await insertJob(db, { status: "running", wrapup_dispatched: true, job_template_id: 7001, name: `aged ${ageDays}d ${rowStatus}` });
  await saveStatsEvent(db, job);
  await setStatus(db, job, "successful");
  await db.query(
    `update notifier.notifications set status = $2, created_at = now() - make_interval(days => $3) where job_id = $1`,
    [job, rowStatus, ageDays],
  );
  await db.query("update notifier.jobs set finished_at = now() - make_interval(days => $2) where id = $1", [job, ageDays]);
  await db.query("update notifier.job_events set created_at = now() - make_interval(days => $2) where job_id = $1", [job, ageDays]);
  await ageConditions(job, ageDays);
  return job;
}

/** Moves the database-clock times of a notifier.jobs job's bookkeeping `ageDays` into the past. */
async function ageConditions(job: number, ageDays: number): Promise<void> {
  await db.query(
    `update notifier.job_conditions
        set started_condition_at = started_condition_at - make_interval(days => $2),
            final_status_at = final_status_at - make_interval(days => $2),
            wrapup_processed_at = wrapup_processed_at - make_interval(days => $2),
            final_condition_at = final_condition_at - make_interval(days => $2)
      where attachment = 'notifier.jobs' and job_id = $1`,
    [job, ageDays],
  );
}

const countOf = async (table: string, where: string, values: unknown[] = []) =>
  (await db.query(`select count(*)::int as n from ${table} where ${where}`, values)).rows[0].n as number;

describe("purge", () => {
  test("deletes only what is past its retention, skips held rows without waiting, and never blocks claims or host writes", async () => {
    await addTemplate(db, "purge-ops", [{ trigger: "started", job_template_id: 7001 }, { trigger: "success", job_template_id: 7001 }]);
    const oldOk = await finishedJob(40, "successful");
    const heldOk = await finishedJob(40, "successful");
    const recentOk = await finishedJob(1, "successful");
    const oldFailed = await finishedJob(100, "failed");
    const keptFailed = await finishedJob(40, "failed");
    const oldPending = await finishedJob(40, "pending");
    const stillRunning = await insertJob(db, { status: "running", name: "running for 40 days" });
    await ageConditions(stillRunning, 40);
    // Final 40 days ago, its wrapup never processed (no sweep ran): its final notification is still owed.
    const awaitingWrapup = await insertJob(db, { status: "running", wrapup_dispatched: true, job_template_id: 7001, name: "awaiting its wrapup" });
    await setStatus(db, awaitingWrapup, "successful");
    await ageConditions(awaitingWrapup, 40);
    await db.query("insert into notifier.job_events (job_id, event, created_at) values ($1, 'runner_on_ok', now() - interval '40 days')", [stillRunning]);
    // Removed templates: one nothing refers to any more, one whose failed rows are still kept.
    const unused = await addTemplate(db, "purge-unused", []);
    await db.query("update notifier.notification_templates set removed_at = now() - interval '40 days' where id = $1", [unused]);
    const referenced = await addTemplate(db, "purge-referenced", [{ trigger: "error", job_template_id: 7002 }]);
    const failedJob = await insertJob(db, { status: "running", job_template_id: 7002, wrapup_dispatched: false });
    await setStatus(db, failedJob, "failed");
    await db.query("update notifier.notifications set status = 'failed', created_at = now() - interval '40 days' where job_id = $1", [failedJob]);
    await db.query("update notifier.notification_templates set removed_at = now() - interval '40 days' where id = $1", [referenced]);

    // Held meanwhile: an outcome being recorded on one old row, a claim of the pending rows, a
    // host transaction creating rows for a new job (its foreign key checks share-lock the template).
    const [holder, claimer, host, purger] = await Promise.all([connect(url), connect(url), connect(url), connect(url)]);
    const purgerPid = await backendPid(purger);
    await holder.query("begin");
    await holder.query("select 1 from notifier.notifications where job_id = $1 for update", [heldOk]);
    await holder.query("select 1 from notifier.job_conditions where job_id = $1 for update", [oldOk]);
    // A host row lock (the job's own row): the purge of its bookkeeping neither waits for it nor takes it.
    await holder.query("select 1 from notifier.jobs where id = $1 for update", [keptFailed]);
    await claimer.query("begin");
    const claimed = await claimer.query("select id from notifier.claim_due('retention-test', 100, '60 seconds', 5, null, '{}', '{}')");
    expect(claimed.rowCount).toBeGreaterThan(0);
    await host.query("begin");
    const newJob = await insertJob(host, { status: "running", job_template_id: 7001, name: "written during the purge" });

    const purgeOnce = async () => (await purger.query("select notifier.purge('30 days', '90 days', 2) as counts")).rows[0].counts;
    const totals = { notifications: 0, job_events: 0, templates: 0, job_conditions: 0 };
    for (;;) {
      const counts = await withoutWaiting(purgerPid, purgeOnce());
      for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += counts[key];
      if (counts.notifications + counts.job_events + counts.templates + counts.job_conditions === 0) break;
    }
    // oldOk's and oldFailed's two rows each; the wrapup events of the five jobs finished 40+ days
    // ago (heldOk's too: only its notification row is held); the unused removed template; the
    // bookkeeping of the jobs whose final rows were made 40+ days ago, but oldOk's (held), and
    // not that of the jobs whose final notification has not fired (stillRunning, awaitingWrapup).
    expect(totals).toEqual({ notifications: 4, job_events: 5, templates: 1, job_conditions: 4 });

    // While a purge transaction is open (rows deleted, locks held), the host writes and the service claims without waiting.
    await finishedJob(40, "successful");
    await purger.query("begin");
    expect((await purger.query("select notifier.purge('30 days', '90 days', 1000) as counts")).rows[0].counts.notifications).toBe(2);
    const [writer, writerPid] = await connect(url).then(async (client) => [client, await backendPid(client)] as const);
    await withoutWaiting(writerPid, (async () => {
      const job = await insertJob(writer, { status: "running", wrapup_dispatched: true, job_template_id: 7001 });
      await saveStatsEvent(writer, job);
      await setStatus(writer, job, "successful");
      await writer.query("select * from notifier.claim_due('retention-test-2', 100, '60 seconds', 5, null, '{}', '{}')");
    })());
    await purger.query("commit");

    await Promise.all([holder.query("commit"), claimer.query("commit"), host.query("commit")]);
    expect(await triggersOf(db, newJob)).toEqual(["started"]);
    expect(await countOf("notifier.notifications", "job_id = any($1)", [[oldOk, oldFailed]])).toBe(0);
    expect(await countOf("notifier.notifications", "job_id = any($1)", [[heldOk, recentOk, keptFailed, oldPending]])).toBe(8);
    expect(await countOf("notifier.notifications", "job_id = $1 and status = 'pending'", [oldPending])).toBe(2);
    expect(await countOf("notifier.job_events", "job_id = $1", [stillRunning])).toBe(1);
    expect(await countOf("notifier.jobs", "id = any($1)", [[oldOk, oldFailed, heldOk]])).toBe(3); // the host's record stays
    expect(await countOf("notifier.notification_templates", "id = any($1)", [[unused, referenced]])).toBe(1);
    const keptConditions = "attachment = 'notifier.jobs' and job_id = any($1)";
    expect(await countOf("notifier.job_conditions", keptConditions, [[heldOk, oldFailed, keptFailed, oldPending]])).toBe(0);
    expect(await countOf("notifier.job_conditions", keptConditions, [[oldOk, recentOk, failedJob, stillRunning, awaitingWrapup]])).toBe(5);
    // The job whose final notification was still owed fires it once its wrapup comes.
    await saveStatsEvent(db, awaitingWrapup);
    expect(await triggersOf(db, awaitingWrapup)).toEqual(["started", "success"]);

    // The held row goes at the next purge (the CLI, with the retentions from the environment).
    const result = await runCli(["purge"], { DATABASE_URL: url, NOTIFIER_RETENTION: "30d", NOTIFIER_FAILED_RETENTION: "90d" });
    expect(result).toEqual({ code: 0, stderr: "", stdout: "purged 2 notification rows, 0 job events, 0 removed templates, 1 job bookkeeping rows\n" });
    expect(await countOf("notifier.notifications", "job_id = $1", [heldOk])).toBe(0);
    expect(await countOf("notifier.job_conditions", "job_id = $1", [oldOk])).toBe(0);
  });
});

describe("the service's periodic purge", () => {
  test("deletes what is past the retention every NOTIFIER_PURGE_INTERVAL and logs the counts", async () => {
    const own = await createTestDatabase();
    const client = await connect(own);
    await addTemplate(client, "periodic", [{ trigger: "started" }]);
    const job = await insertJob(client, { status: "running" });
    await client.query("update notifier.notifications set status = 'successful', created_at = now() - interval '2 days' where job_id = $1", [job]);
    const service = await ServiceProcess.start({ databaseUrl: own, env: { NOTIFIER_PURGE_INTERVAL: "0.2", NOTIFIER_RETENTION: "1d" } });
    const line = await service.waitForLog((entry) => entry.msg === "purged rows past their retention");
    expect(line.deleted).toEqual({ notifications: 1, job_events: 0, templates: 0, job_conditions: 0 });
    expect((await client.query("select count(*)::int as n from notifier.notifications")).rows[0].n).toBe(0);
    service.kill();
    expect((await service.waitForExit()).code).toBe(0);
  });
});

describe("templates remove", () => {
  test("a template removed while a host transaction is creating its rows: the removal does not wait, the host commits", async () => {
    const template = await addTemplate(db, "removed-mid-way", [{ trigger: "started", job_template_id: 8001 }]);
    const [host, hostPid] = await connect(url).then(async (client) => [client, await backendPid(client)] as const);
    const first = await insertJob(db, { status: "pending", job_template_id: 8001 });
    const second = await insertJob(db, { status: "pending", job_template_id: 8001 });

    // The host's transaction, mid-way: it has created the started row of the first job (its
    // foreign key check holds the template row FOR KEY SHARE) and is about to write the second.
    await host.query("begin");
    await setStatus(host, first, "running");
    const removerPid = await pool.oneFirst(sql.unsafe`select pg_backend_pid()`);
    await withoutWaiting(removerPid as number, removeTemplate(pool, "removed-mid-way"));
    await withoutWaiting(hostPid, setStatus(host, second, "running"));
    await host.query("commit");

    expect(await triggersOf(db, first)).toEqual(["started"]); // made before the removal: kept, still delivered
    expect(await triggersOf(db, second)).toEqual([]); // after it: no subscription, no row
    expect(await countOf("notifier.subscriptions", "notification_template_id = $1", [template])).toBe(0);
    expect(await countOf("notifier.notification_templates", "id = $1 and removed_at is not null", [template])).toBe(1);
  });
});

describe("health", () => {
  test("notifier.health() reads indexes, not the outbox: pending bounded, oldest due, oldest awaiting wrapup", async () => {
    const template = await addTemplate(db, "health-bulk", []);
    // 20,000 finished rows of as many jobs, and their fired bookkeeping (written directly: the
    // protocol is not under test here).
    await db.query(`
      with jobs as (
        insert into notifier.jobs (status, name) select 'new', 'bulk ' || i from generate_series(1, 20000) i returning id
      ), rows as (
        insert into notifier.notifications (job_id, notification_template_id, trigger, notification_type, job_snapshot, status)
        select id, $1, 'success', 'webhook', '{}', 'successful' from jobs
      )
      insert into notifier.job_conditions (attachment, job_id, wrapup_required, final_status_at, final_condition_at, final_trigger)
      select 'notifier.jobs', id, true, now(), now(), 'success' from jobs`, [template]);
    await addTemplate(db, "health-live", [{ trigger: "started", job_template_id: 9001 }]);
    const waiting = await insertJob(db, { status: "running", wrapup_dispatched: true, job_template_id: 9001 }); // a pending started row
    await setStatus(db, waiting, "failed"); // final, its wrapup not processed yet
    await db.query("analyze notifier.notifications; analyze notifier.job_conditions");

    const health = await readHealth(pool);
    expect(health.pending).toBe(await countOf("notifier.notifications", "status = 'pending'"));
    expect(health.pending).toBeGreaterThan(0);
    expect(health.pendingCapped).toBe(false);
    expect(health.oldestAwaitingWrapupSeconds).toBeGreaterThanOrEqual(0);
    expect(health.notificationQueueUsage).toBeGreaterThanOrEqual(0);

    const explainer = await connect(url);
    const plans: string[] = [];
    explainer.on("notice", (notice) => plans.push(String(notice.message)));
    await explainer.query(`load 'auto_explain';
      set auto_explain.log_min_duration = 0; set auto_explain.log_nested_statements = on;
      set auto_explain.log_level = notice; set client_min_messages = notice`);
    await explainer.query("select * from notifier.health()");
    const nested = plans.filter((plan) => plan.includes("notifier.notifications") || plan.includes("notifier.job_conditions")).join("\n");
    expect(nested).toMatch(/Index (Only )?Scan using notifications_due_idx on notifications/);
    expect(nested).toMatch(/Index (Only )?Scan using job_conditions_awaiting_wrapup_idx on job_conditions/);
    expect(nested).not.toMatch(/Seq Scan on (notifications|job_conditions)/);
  });
});
