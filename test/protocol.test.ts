import type pg from "pg";
import { afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { connect, createTestDatabase } from "./helpers/database.js";
import { addTemplate, insertJob, notificationsOf, saveStatsEvent, setStatus, triggersOf } from "./helpers/jobs.js";

// The protocol's rules, one writer at a time. Concurrent writers: interleavings.test.ts,
// isolation.test.ts and stress.test.ts.

let db: pg.Client;
let listener: pg.Client;
let wakeUps: string[] = [];

beforeAll(async () => {
  const url = await createTestDatabase();
  db = await connect(url);
  listener = await connect(url);
  listener.on("notification", (n) => wakeUps.push(`${n.channel}:${n.payload}`));
  await listener.query("listen notifier");
  // Behave as an idle delivery service: asleep, holding the sleep lock (migration 000009), so
  // writers notify. The adaptive part (no NOTIFY while no service sleeps) is in wakeup.test.ts.
  await listener.query("select notifier.begin_listener_sleep(10000)");
  await addTemplate(db, "everything");
});

beforeEach(() => {
  wakeUps = [];
});

// A failed assertion inside a transaction must not poison the next test.
afterEach(() => db.query("rollback"));

/** Waits for notifications already sent to reach the listener (a round trip flushes them). */
async function receivedWakeUps(): Promise<string[]> {
  await listener.query("select 1");
  return wakeUps;
}

async function job(fields: Parameters<typeof insertJob>[1] = {}) {
  return insertJob(db, { name: "deploy", status: "pending", ...fields });
}

/** The job's row with the protocol's bookkeeping (notifier.job_conditions, NULLs before any). */
async function jobRow(id: number) {
  const { rows } = await db.query(
    `select j.*, c.wrapup_required, c.final_status_at, c.wrapup_processed_at, c.wrapup_expired_at,
            c.started_condition_at, c.final_condition_at, c.final_trigger
       from notifier.jobs j
       left join notifier.job_conditions c on c.attachment = 'notifier.jobs' and c.job_id = j.id
      where j.id = $1`,
    [id],
  );
  return rows[0];
}

describe("started", () => {
  test("the first running status creates the started rows in the same transaction", async () => {
    const id = await job();
    await db.query("begin");
    await setStatus(db, id, "running");
    expect(await triggersOf(db, id)).toEqual(["started"]);
    await db.query("commit");
    expect(await triggersOf(db, id)).toEqual(["started"]);
    expect(await receivedWakeUps()).toEqual(["notifier:pending"]);
  });

  test("running written again, or after a detour, fires nothing more", async () => {
    const id = await job();
    await setStatus(db, id, "running");
    await setStatus(db, id, "running");
    await setStatus(db, id, "waiting");
    await setStatus(db, id, "running");
    expect(await triggersOf(db, id)).toEqual(["started"]);
  });

  test("statuses before running notify nobody and wake nobody", async () => {
    const id = await job({ status: "new" });
    await setStatus(db, id, "pending");
    await setStatus(db, id, "waiting");
    expect(await triggersOf(db, id)).toEqual([]);
    expect(await receivedWakeUps()).toEqual([]);
  });

  test("started_at is set when the job starts running, unless the host set it", async () => {
    const id = await job();
    await setStatus(db, id, "running");
    expect((await jobRow(id)).started_at).toBeInstanceOf(Date);
    const preset = await job({ status: "pending" });
    await db.query("update notifier.jobs set status = 'running', started_at = '2020-01-01Z' where id = $1", [preset]);
    expect((await jobRow(preset)).started_at.toISOString()).toBe("2020-01-01T00:00:00.000Z");
  });

  test("a job inserted as running gets its started rows", async () => {
    const id = await job({ status: "running" });
    expect(await triggersOf(db, id)).toEqual(["started"]);
  });
});

describe("final", () => {
  test("A then B: nothing at the final status, the final rows with the wrapup", async () => {
    const id = await job({ status: "running" });
    await setStatus(db, id, "successful", true);
    expect(await triggersOf(db, id)).toEqual(["started"]);
    await saveStatsEvent(db, id);
    expect(await triggersOf(db, id)).toEqual(["started", "success"]);
  });

  test("B then A: nothing at the wrapup, the final rows with the final status", async () => {
    const id = await job({ status: "running", wrapup_dispatched: true });
    await saveStatsEvent(db, id);
    expect(await triggersOf(db, id)).toEqual(["started"]);
    await setStatus(db, id, "failed");
    expect(await triggersOf(db, id)).toEqual(["started", "error"]);
  });

  test("B is waived when wrapup_dispatched is false at A", async () => {
    const id = await job({ status: "running" });
    await setStatus(db, id, "successful", false);
    expect(await triggersOf(db, id)).toEqual(["started", "success"]);
    await saveStatsEvent(db, id); // a late wrapup changes nothing
    expect(await triggersOf(db, id)).toEqual(["started", "success"]);
  });

  test("wrapup_dispatched set before the final status requires B", async () => {
    const id = await job({ status: "running" });
    await db.query("update notifier.jobs set wrapup_dispatched = true where id = $1", [id]);
    await setStatus(db, id, "successful");
    expect(await triggersOf(db, id)).toEqual(["started"]);
    await saveStatsEvent(db, id);
    expect(await triggersOf(db, id)).toEqual(["started", "success"]);
  });

  test.each([
    ["successful", "success"],
    ["failed", "error"],
    ["error", "error"],
    ["canceled", "error"],
  ])("final status %s fires the %s trigger", async (status, trigger) => {
    const id = await job({ status: "running" });
    await setStatus(db, id, status, false);
    expect(await triggersOf(db, id)).toEqual(["started", trigger]);
    expect((await jobRow(id)).final_trigger).toBe(trigger);
  });

  test("A and B in one transaction fire once", async () => {
    const id = await job({ status: "running" });
    await db.query("begin");
    await setStatus(db, id, "successful", true);
    await saveStatsEvent(db, id);
    await db.query("commit");
    expect(await triggersOf(db, id)).toEqual(["started", "success"]);
  });

  test("a final status rewritten after the final rows (a reaper) fires nothing more", async () => {
    const id = await job({ status: "running" });
    await setStatus(db, id, "successful", false);
    await setStatus(db, id, "error");
    await setStatus(db, id, "running");
    await setStatus(db, id, "canceled");
    expect(await triggersOf(db, id)).toEqual(["started", "success"]);
  });

  test("a final status rewritten while waiting for B keeps waiting, then fires with the newest status", async () => {
    const id = await job({ status: "running" });
    await setStatus(db, id, "successful", true);
    await setStatus(db, id, "error");
    expect(await triggersOf(db, id)).toEqual(["started"]);
    await saveStatsEvent(db, id);
    expect(await triggersOf(db, id)).toEqual(["started", "error"]);
  });

  test("duplicated wrapup events fire nothing more", async () => {
    const id = await job({ status: "running", wrapup_dispatched: true });
    await saveStatsEvent(db, id, { ok: { a: 1 } });
    await saveStatsEvent(db, id, { ok: { a: 1 } });
    await setStatus(db, id, "successful");
    await saveStatsEvent(db, id, { failures: { a: 1 } });
    expect(await triggersOf(db, id)).toEqual(["started", "success"]);
  });

  test("setting host_status_counts directly is condition B too", async () => {
    const id = await job({ status: "running" });
    await setStatus(db, id, "successful", true);
    await db.query(`update notifier.jobs set host_status_counts = '{"ok": 2}' where id = $1`, [id]);
    expect(await triggersOf(db, id)).toEqual(["started", "success"]);
  });

  test("finished_at is set at the final status, unless the host set it", async () => {
    const id = await job({ status: "running" });
    await setStatus(db, id, "failed", false);
    expect((await jobRow(id)).finished_at).toBeInstanceOf(Date);
  });

  test("a job inserted with a final status and no wrapup fires at once", async () => {
    const id = await job({ status: "canceled" });
    expect(await triggersOf(db, id)).toEqual(["error"]);
  });

  test("a rolled back final status leaves nothing", async () => {
    const id = await job({ status: "running" });
    await db.query("begin");
    await setStatus(db, id, "successful", false);
    await db.query("rollback");
    expect(await triggersOf(db, id)).toEqual(["started"]);
    const row = await jobRow(id);
    expect([row.status, row.final_condition_at, row.finished_at]).toEqual(["running", null, null]);
  });
});

describe("the wrapup event of each kind", () => {
  test.each([
    ["job", "playbook_on_stats"],
    ["project_update", "playbook_on_stats"],
    ["ad_hoc_command", "playbook_on_stats"],
    ["inventory_update", "EOF"],
    ["system_job", "EOF"],
  ])("%s: %s is the wrapup, the other event is not", async (kind, wrapup) => {
    const other = wrapup === "EOF" ? "playbook_on_stats" : "EOF";
    const id = await job({ kind, status: "running" });
    await setStatus(db, id, "successful", true);
    await db.query("insert into notifier.job_events (job_id, event, event_data) values ($1, $2, '{}')", [id, other]);
    await db.query("insert into notifier.job_events (job_id, event) values ($1, 'runner_on_ok')", [id]);
    expect(await triggersOf(db, id)).toEqual(["started"]);
    expect((await jobRow(id)).host_status_counts).toBeNull();
    await db.query("insert into notifier.job_events (job_id, event, event_data) values ($1, $2, '{}')", [id, wrapup]);
    expect(await triggersOf(db, id)).toEqual(["started", "success"]);
    if (wrapup === "EOF") expect((await jobRow(id)).host_status_counts).toEqual({});
  });

  test("workflow jobs have no wrapup: their runner leaves wrapup_dispatched false and A fires", async () => {
    const id = await job({ kind: "workflow_job", status: "running" });
    await setStatus(db, id, "failed");
    expect(await triggersOf(db, id)).toEqual(["started", "error"]);
  });
});

describe("bookkeeping belongs to the protocol", () => {
  test("it is not on the job row, so a host write can neither suppress nor repeat a notification", async () => {
    const id = await job({ status: "running" });
    await setStatus(db, id, "successful", false);
    const before = await jobRow(id);
    for (const column of ["final_condition_at", "started_condition_at", "final_trigger", "wrapup_required", "wrapup_processed_at"]) {
      await expect(db.query(`update notifier.jobs set ${column} = null where id = $1`, [id])).rejects.toMatchObject({ code: "42703" });
    }
    // A stale full-row save (every column as it was when the job ran), then the reaper.
    await db.query(
      `update notifier.jobs set status = 'running', host_status_counts = null, wrapup_dispatched = true,
              finished_at = null where id = $1`,
      [id],
    );
    await setStatus(db, id, "failed");
    const after = await jobRow(id);
    expect([after.final_condition_at, after.started_condition_at, after.final_trigger]).toEqual([
      before.final_condition_at,
      before.started_condition_at,
      "success",
    ]);
    expect(await triggersOf(db, id)).toEqual(["started", "success"]);

    const inserted = await insertJob(db, { status: "pending" });
    await setStatus(db, inserted, "successful", false);
    expect(await triggersOf(db, inserted)).toEqual(["success"]);
  });
});

describe("fan-out", () => {
  test("one row per distinct template of all matching subscriptions, scoped by template and organization", async () => {
    const scoped = await insertJob(db, { status: "pending", job_template_id: 7, organization_id: 3 });
    const ids = {
      anyJob: (await db.query("select id::int from notifier.notification_templates where name = 'everything'")).rows[0].id,
      template7: await addTemplate(db, "template 7", [{ trigger: "started", job_template_id: 7 }]),
      template8: await addTemplate(db, "template 8", [{ trigger: "started", job_template_id: 8 }]),
      org3: await addTemplate(db, "org 3", [{ trigger: "started", organization_id: 3 }]),
      org4: await addTemplate(db, "org 4", [{ trigger: "started", organization_id: 4 }]),
      both: await addTemplate(db, "template 7 in org 3", [{ trigger: "started", job_template_id: 7, organization_id: 3 }]),
      bothWrongOrg: await addTemplate(db, "template 7 in org 4", [{ trigger: "started", job_template_id: 7, organization_id: 4 }]),
      // overlapping subscriptions of one template still make one row
      overlapping: await addTemplate(db, "overlapping", [
        { trigger: "started" },
        { trigger: "started", job_template_id: 7 },
        { trigger: "started", organization_id: 3 },
      ]),
      otherTrigger: await addTemplate(db, "errors only", [{ trigger: "error" }]),
    };
    await setStatus(db, scoped, "running");
    const templates = (await notificationsOf(db, scoped)).map((n) => n.notification_template_id).sort((a, b) => a - b);
    expect(templates).toEqual([ids.anyJob, ids.template7, ids.org3, ids.both, ids.overlapping].sort((a, b) => a - b));

    const unscoped = await insertJob(db, { status: "pending" });
    await setStatus(db, unscoped, "running");
    const unscopedTemplates = (await notificationsOf(db, unscoped)).map((n) => n.notification_template_id).sort((a, b) => a - b);
    expect(unscopedTemplates).toEqual([ids.anyJob, ids.overlapping].sort((a, b) => a - b));

    await db.query("delete from notifier.notification_templates where id <> $1", [ids.anyJob]);
  });

  test("a job nobody subscribes to records its conditions and wakes nobody", async () => {
    await db.query("begin");
    await db.query("delete from notifier.subscriptions");
    const id = await job({ status: "running" });
    await setStatus(db, id, "successful", false);
    expect(await triggersOf(db, id)).toEqual([]);
    expect((await jobRow(id)).final_condition_at).toBeInstanceOf(Date);
    await db.query("rollback");
    expect(await receivedWakeUps()).toEqual([]);
  });

  test("rows created by one transaction for many jobs wake the listener once", async () => {
    await db.query("begin");
    for (let i = 0; i < 5; i++) await job({ status: "running" });
    await db.query("commit");
    expect(await receivedWakeUps()).toEqual(["notifier:pending"]);
  });
});

describe("snapshots", () => {
  test("each row describes the job as it was when the row was created", async () => {
    const id = await job({ status: "running", extra: { branch: "main" } } as never);
    await setStatus(db, id, "successful", true);
    await saveStatsEvent(db, id, { ok: { h1: 1, h2: 1 }, changed: { h2: 1 } });
    const [started, success] = await notificationsOf(db, id);
    expect(started!.job_snapshot).toMatchObject({ id, status: "running", host_status_counts: null, finished_at: null });
    expect(success!.job_snapshot).toMatchObject({ id, status: "successful", host_status_counts: { ok: 1, changed: 1 } });
    expect(success!.job_snapshot).toHaveProperty("extra", { branch: "main" });
    expect(Object.keys(success!.job_snapshot)).not.toContain("final_condition_at");
  });
});
