import type pg from "pg";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import {
  awxFullSave,
  awxLoad,
  awxSaveEvents,
  awxSetStatus,
  awxWrapup,
  createAwxJob,
  createAwxSchema,
  tableShape,
  updateModel,
  type AwxModel,
} from "./helpers/awx.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { addTemplate, backendPid, notificationsOf, triggersOf, waitUntilBlocked } from "./helpers/jobs.js";

// CONTRACT §8: the protocol attached to AWX's own main_unifiedjob (and to any table), with AWX's
// writers reproduced as AWX issues them. The concurrency suites run on this fixture too
// (interleavings, isolation and stress tests, parameterised over test/helpers/hosts.ts).

const AWX_TABLES = ["main_unifiedjob", "main_workflowapproval", "main_job", "main_jobevent", "django_content_type"];

let url: string;
let db: pg.Client;
let other: pg.Client;
let observer: pg.Client;

beforeAll(async () => {
  url = await createTestDatabase();
  [db, other, observer] = await Promise.all([connect(url), connect(url), connect(url)]);
  await createAwxSchema(db);
  await addTemplate(db, "ops");
  await addTemplate(db, "approvals", [{ trigger: "approval" }]);
});

afterEach(async () => {
  await Promise.all([db.query("rollback"), other.query("rollback")]);
});

async function attached<T>(work: () => Promise<T>): Promise<T> {
  await db.query("select notifier.attach_awx()");
  return work();
}

/** A job through AWX's runner up to running (update_model for pending, waiting, running). */
async function startedJob(model: AwxModel = "job", fields: Parameters<typeof createAwxJob>[2] = {}): Promise<number> {
  const id = await createAwxJob(db, model, fields);
  for (const status of ["pending", "waiting", "running"]) await awxSetStatus(db, id, status);
  return id;
}

async function inTransaction(client: pg.Client, work: () => Promise<void>): Promise<void> {
  await client.query("begin");
  await work();
  await client.query("commit");
}

/** How many times `work` (one transaction) ran the attachment's trigger function. */
async function functionCalls(work: () => Promise<void>): Promise<number> {
  // The backend's pending counts may still hold earlier transactions' calls: count the difference.
  const calls = async () =>
    (await db.query("select coalesce(pg_stat_get_xact_function_calls('notifier.tg_awx__write'::regproc), 0)::int as calls")).rows[0].calls as number;
  await db.query("begin");
  await db.query("set local track_functions = 'all'");
  const before = await calls();
  await work();
  const after = await calls();
  await db.query("commit");
  return after - before;
}

describe("attach awx", () => {
  test("the host tables gain no column, index or constraint; detach removes exactly the notifier_* triggers", async () => {
    const before = await tableShape(db, AWX_TABLES);
    const sql = (await db.query("select notifier.attach_awx() as sql")).rows[0].sql as string;
    expect(sql).toContain("create or replace trigger notifier_100_job_update");
    const after = (await tableShape(db, AWX_TABLES)) as { relname: string; triggers: string[] | null }[];
    const withoutTriggers = (shape: unknown) =>
      (shape as Record<string, unknown>[]).map(({ triggers: _, ...rest }) => rest);
    expect(withoutTriggers(after)).toEqual(withoutTriggers(before));
    expect(after.find((t) => t.relname === "main_unifiedjob")!.triggers).toEqual(["notifier_100_job_insert", "notifier_100_job_update"]);
    expect(after.find((t) => t.relname === "main_workflowapproval")!.triggers).toEqual(["notifier_100_approval_timed_out"]);
    expect(after.find((t) => t.relname === "main_jobevent")!.triggers).toBeNull(); // no trigger on the event tables

    // idempotent: a second attach changes nothing
    await db.query("select notifier.attach_awx()");
    expect(await tableShape(db, AWX_TABLES)).toEqual(after);

    await db.query("select notifier.detach('awx')");
    expect(await tableShape(db, AWX_TABLES)).toEqual(before);
    const id = await startedJob();
    await awxSetStatus(db, id, "failed", 0);
    expect(await triggersOf(db, id)).toEqual([]); // after detach, host writes create nothing
    expect((await db.query("select count(*)::int as n from notifier.attachment_registry where name = 'awx'")).rows[0].n).toBe(0);
    const { rows } = await db.query("select count(*)::int as n from pg_proc where proname like 'awx\\_\\_%' or proname like 'tg\\_awx\\_\\_%'");
    expect(rows[0].n).toBe(0);
  });

  test("a job's life as AWX writes it: started, events, the final status, the wrapup, then a reaper and a full save", async () => {
    await attached(async () => {
      const id = await createAwxJob(db, "job", { name: "deploy \"web\"", templateId: 7, organizationId: 3 });
      await inTransaction(db, () => awxSetStatus(db, id, "pending"));
      await inTransaction(db, () => awxSetStatus(db, id, "waiting"));
      expect(await triggersOf(db, id)).toEqual([]);
      await inTransaction(db, () => awxSetStatus(db, id, "running"));
      expect(await triggersOf(db, id)).toEqual(["started"]);

      await awxSaveEvents(db, id, ["playbook_on_start", "runner_on_ok", "runner_on_ok", "playbook_on_stats"]);
      await inTransaction(db, () => awxSetStatus(db, id, "successful", 5));
      expect(await triggersOf(db, id)).toEqual(["started"]); // B required: emitted_events > 0
      await inTransaction(db, () => awxWrapup(db, id, { ok: { h1: 1, h2: 1 }, changed: { h2: 1 } }));
      expect(await triggersOf(db, id)).toEqual(["started", "success"]);

      const stale = await awxLoad(db, id);
      await inTransaction(db, () => awxSetStatus(db, id, "error")); // the reaper rewriting a final status
      await awxFullSave(db, id, stale, { status: "failed" });
      await awxFullSave(db, id, stale);
      expect(await triggersOf(db, id)).toEqual(["started", "success"]);

      const [started, success] = await notificationsOf(db, id);
      expect(started!.job_snapshot).toMatchObject({ id, kind: "job", status: "running", name: 'deploy "web"', job_template_id: 7, organization_id: 3, host_status_counts: null });
      expect(success!.job_snapshot).toMatchObject({
        id, kind: "job", status: "successful", wrapup_dispatched: true, host_status_counts: { ok: 1, changed: 1 },
        created_by: 1, traceback: "", timed_out: false, wrapup_expired_at: null,
        extra: { playbook: "site.yml", limit: "web", inventory: 3, project: 4, launch_type: "manual", failed: false },
      });
      expect(typeof success!.job_snapshot.finished).toBe("string");
      for (const snapshot of [started!.job_snapshot, success!.job_snapshot]) {
        const text = JSON.stringify(snapshot);
        for (const secret of ["job_env", "job_args", "start_args", "s3cr3t-token", "hunter2", "vault-password"]) {
          expect(text).not.toContain(secret);
        }
      }
    });
  });

  test("an update touching neither column runs no function; touching them without a transition neither", async () => {
    await attached(async () => {
      const id = await startedJob();
      const stale = await awxLoad(db, id);
      expect(await functionCalls(async () => {
        await updateModel(db, id, { job_explanation: "'still going'", modified: "now()" });
        await updateModel(db, id, { emitted_events: "42" });
        await awxFullSave(db, id, stale); // status running → running, host_status_counts NULL → NULL
        await updateModel(db, id, { status: "'running'" });
      })).toBe(0);
      expect(await functionCalls(() => awxSetStatus(db, id, "failed", 0))).toBe(1);
      expect(await functionCalls(async () => {
        await awxSetStatus(db, id, "error"); // final → final
        await awxWrapup(db, id); // nothing more to decide, but a transition of B: one call
      })).toBe(1);
      expect(await triggersOf(db, id)).toEqual(["started", "error"]);
    });
  });

  test("pre-start failures (emitted_events 0) and workflow jobs fire at A; EOF kinds wait for {}", async () => {
    await attached(async () => {
      const prestart = await createAwxJob(db, "job");
      await awxSetStatus(db, prestart, "pending");
      await awxSetStatus(db, prestart, "failed"); // the task manager: emitted_events stays 0
      expect(await triggersOf(db, prestart)).toEqual(["error"]);

      const workflow = await startedJob("workflowjob");
      await awxSetStatus(db, workflow, "successful", 0);
      expect(await triggersOf(db, workflow)).toEqual(["started", "success"]);

      for (const model of ["inventoryupdate", "systemjob", "projectupdate", "adhoccommand"] as const) {
        const id = await startedJob(model);
        await awxSetStatus(db, id, "canceled", 3);
        expect(await triggersOf(db, id)).toEqual(["started"]);
        await awxWrapup(db, id, {}); // job_stats_wrapup writes {} for EOF kinds and jobs without hosts
        const rows = await notificationsOf(db, id);
        expect(rows.map((r) => [r.trigger, r.job_snapshot.kind, r.job_snapshot.host_status_counts])).toEqual([
          ["started", { inventoryupdate: "inventory_update", systemjob: "system_job", projectupdate: "project_update", adhoccommand: "ad_hoc_command" }[model], null],
          ["error", rows[0]!.job_snapshot.kind, {}],
        ]);
      }
    });
  });

  test("a lost wrapup: the grace fires the final rows once, without host counts", async () => {
    await attached(async () => {
      const id = await startedJob();
      await awxSetStatus(db, id, "successful", 9);
      expect((await db.query("select notifier.expire_wrapups() as n")).rows[0].n).toBe(0); // within the 300 s default
      await db.query("update notifier.settings set wrapup_grace = '0 seconds'");
      try {
        expect((await db.query("select notifier.expire_wrapups() as n")).rows[0].n).toBe(1);
        expect((await db.query("select notifier.expire_wrapups() as n")).rows[0].n).toBe(0);
      } finally {
        await db.query("update notifier.settings set wrapup_grace = default");
      }
      await awxWrapup(db, id); // arrives too late: nothing more
      const rows = await notificationsOf(db, id);
      expect(rows.map((r) => r.trigger)).toEqual(["started", "success"]);
      expect(rows[1]!.job_snapshot.host_status_counts).toBeNull();
      expect(rows[1]!.job_snapshot.wrapup_expired_at).not.toBeNull();
    });
  });

  test("the blocked writer: AWX's wrapup waits on the runner's SELECT … FOR UPDATE and creates the rows", async () => {
    await attached(async () => {
      const id = await startedJob();
      await db.query("begin");
      await awxSetStatus(db, id, "failed", 4);
      await other.query("begin");
      const otherPid = await backendPid(other);
      const wrapup = awxWrapup(other, id);
      await waitUntilBlocked(observer, otherPid);
      await db.query("commit");
      await wrapup;
      expect(await triggersOf(db, id)).toEqual(["started"]);
      await other.query("commit");
      expect(await triggersOf(db, id)).toEqual(["started", "error"]);
    });
  });
});

describe("approvals (main_workflowapproval)", () => {
  test("running sends a started row, the decision an approval row; only 'approval' subscriptions match", async () => {
    await attached(async () => {
      const approved = await startedJob("workflowapproval");
      await awxSetStatus(db, approved, "successful", 0);
      const rows = await notificationsOf(db, approved);
      const approvalsTemplate = (await db.query("select id::int from notifier.notification_templates where name = 'approvals'")).rows[0].id;
      expect(rows.map((r) => [r.trigger, r.notification_template_id])).toEqual([["started", approvalsTemplate], ["approval", approvalsTemplate]]);
      expect(rows[1]!.job_snapshot).toMatchObject({ kind: "workflow_approval", status: "successful", timed_out: false });

      // AWX's timeout: the parent row (status failed) then the child row (timed_out), one transaction
      const timedOut = await startedJob("workflowapproval");
      await inTransaction(db, async () => {
        await awxSetStatus(db, timedOut, "failed");
        await db.query("update main_workflowapproval set timed_out = true where unifiedjob_ptr_id = $1", [timedOut]);
      });
      const decision = (await notificationsOf(db, timedOut)).filter((r) => r.trigger === "approval");
      expect(decision.map((r) => [r.job_snapshot.status, r.job_snapshot.timed_out])).toEqual([["failed", true]]);

      const denied = await startedJob("workflowapproval");
      await awxSetStatus(db, denied, "failed");
      expect((await notificationsOf(db, denied)).map((r) => [r.trigger, r.job_snapshot.timed_out])).toEqual([["started", false], ["approval", false]]);

      const canceled = await startedJob("workflowapproval");
      await awxSetStatus(db, canceled, "canceled");
      await awxSetStatus(db, canceled, "failed"); // rewritten after: still no decision
      expect(await triggersOf(db, canceled)).toEqual(["started"]);
    });
  });
});

describe("validation, locks and health", () => {
  test("a missing column or a wrong type: one error naming it (22023), nothing created", async () => {
    await db.query("create schema awx_old");
    await db.query("set search_path = awx_old, public");
    await createAwxSchema(db);
    await db.query("reset search_path");
    await db.query("alter table awx_old.main_unifiedjob drop column host_status_counts");
    const before = await tableShape(db, AWX_TABLES);
    await expect(db.query("select notifier.attach_awx('awx_old')")).rejects.toMatchObject({
      code: "22023",
      message: "attach: column awx_old.main_unifiedjob.host_status_counts does not exist",
    });
    await db.query("alter table awx_old.main_unifiedjob add column host_status_counts text");
    const withText = await tableShape(db, AWX_TABLES);
    await expect(db.query("select notifier.attach_awx('awx_old')")).rejects.toMatchObject({
      code: "22023",
      message: "attach: column awx_old.main_unifiedjob.host_status_counts is text, expected jsonb",
    });
    expect(before).not.toEqual(withText);
    expect(await tableShape(db, AWX_TABLES)).toEqual(withText);
    expect((await db.query("select count(*)::int as n from notifier.attachment_registry where table_schema = 'awx_old'")).rows[0].n).toBe(0);
    await expect(db.query("select notifier.attach_awx('nowhere')")).rejects.toMatchObject({ message: "attach: schema nowhere does not exist" });
  });

  test("attach behind a long host transaction fails fast with a lock timeout, and the host write goes on", async () => {
    await db.query("select notifier.attach_awx()");
    const id = await startedJob();
    await other.query("begin");
    await updateModel(other, id, { job_explanation: "'busy'" });
    await expect(db.query("select notifier.attach_awx()")).rejects.toMatchObject({ code: "55P03" });
    await expect(db.query("select notifier.detach('awx')")).rejects.toMatchObject({ code: "55P03" });
    await other.query("commit");
    expect((await db.query("select healthy from notifier.attachments() where name = 'awx'")).rows[0].healthy).toBe(true);
  });

  test("attachments() reports a disabled trigger and a column dropped by an upgrade", async () => {
    await db.query("select notifier.attach_awx()");
    const health = async () => (await db.query("select healthy, problems from notifier.attachments() where name = 'awx'")).rows[0];
    expect(await health()).toEqual({ healthy: true, problems: [] });
    await db.query("alter table main_unifiedjob disable trigger notifier_100_job_update");
    expect(await health()).toEqual({ healthy: false, problems: ["trigger notifier_100_job_update on public.main_unifiedjob is disabled"] });
    await db.query("alter table main_unifiedjob enable trigger notifier_100_job_update");
    await db.query("begin");
    await db.query("alter table main_unifiedjob drop column host_status_counts cascade");
    expect(await health()).toMatchObject({
      healthy: false,
      problems: expect.arrayContaining(["column public.main_unifiedjob.host_status_counts is gone", "trigger notifier_100_job_update on public.main_unifiedjob is missing"]),
    });
    await db.query("rollback");
    expect(await health()).toEqual({ healthy: true, problems: [] });

    // A column only the snapshot reads: the triggers survive the drop, the generated function would fail a host write.
    await db.query("begin");
    await db.query("alter table main_unifiedjob drop column launch_type");
    expect(await health()).toEqual({
      healthy: false,
      problems: [expect.stringMatching(/^the generated functions fail: column r\.launch_type does not exist \(run attach again\)$/)],
    });
    await expect(db.query("select notifier.attach_awx()")).rejects.toMatchObject({
      message: "attach: column public.main_unifiedjob.launch_type does not exist",
    });
    await db.query("rollback");
  });
});

describe("attach table", () => {
  test("a non-AWX table with its own status vocabulary, mapped", async () => {
    await db.query(`create schema ci;
      create table ci.builds (
        build_id bigint generated always as identity (start with 1000000) primary key, -- ids apart from the AWX jobs'
        title text not null,
        pipeline integer,
        team integer,
        state text not null default 'queued',
        report jsonb,
        expects_report boolean not null default true,
        api_token text not null default 'tok-123'
      )`);
    const before = await tableShape(db, ["builds"]);
    await db.query(`select notifier.attach_table('ci.builds', id_column => 'build_id', status_column => 'state', wrapup_column => 'report',
      dispatched => 'expects_report', name_column => 'title', job_template_column => 'pipeline', organization_column => 'team',
      status_map => '{"queued": "pending", "building": "running", "passed": "successful", "broken": "failed", "aborted": "canceled"}',
      snapshot_exclude => '{api_token}')`);
    const build = async (title: string) =>
      Number((await db.query("insert into ci.builds (title, pipeline, team) values ($1, 7, 3) returning build_id", [title])).rows[0].build_id);

    const a = await build("a");
    await db.query("update ci.builds set state = 'building' where build_id = $1", [a]);
    await db.query("update ci.builds set state = 'passed' where build_id = $1", [a]);
    expect(await triggersOf(db, a)).toEqual(["started"]);
    await db.query(`update ci.builds set report = '{"ok": 3}' where build_id = $1`, [a]);
    const rows = await notificationsOf(db, a);
    expect(rows.map((r) => r.trigger)).toEqual(["started", "success"]);
    expect(rows[1]!.job_snapshot).toMatchObject({ id: a, name: "a", status: "successful", state: "passed", host_status_counts: { ok: 3 }, job_template_id: 7, organization_id: 3 });
    expect(rows[1]!.job_snapshot).not.toHaveProperty("api_token");

    const b = await build("b");
    await db.query("update ci.builds set state = 'aborted', expects_report = false where build_id = $1", [b]);
    expect(await triggersOf(db, b)).toEqual(["error"]);

    const state = (await db.query("select waiting_for, status from notifier.job_notification_state where attachment = 'ci.builds' and job_id = $1", [await build("c")])).rows[0];
    expect(state).toEqual({ waiting_for: "final status", status: "pending" });

    await expect(db.query("select notifier.attach_table('ci.builds', 'build_id', 'nope', 'report')")).rejects.toMatchObject({
      message: "attach: column ci.builds.nope does not exist",
    });
    await expect(db.query("select notifier.attach_table('ci.builds', 'build_id', 'state', 'report', dispatched => 'no_such_column > 0')")).rejects.toMatchObject({
      code: "22023",
      message: expect.stringMatching(/^attach: dispatched no_such_column > 0: column "no_such_column" does not exist/),
    });
    await db.query("select notifier.detach('ci.builds')");
    expect(await tableShape(db, ["builds"])).toEqual(before);
  });
});

describe("attach table with the wrapup from a partitioned events table", () => {
  test("an AFTER ROW trigger on the parent with a WHEN on the event name: future partitions covered, other events call nothing", async () => {
    await db.query(`create schema runner;
      create table runner.runs (
        id integer generated always as identity (start with 2000000) primary key,
        name text not null, state text not null default 'pending', emitted integer not null default 0);
      create table runner.run_events (
        id bigint generated always as identity, run_id integer not null, event text not null,
        created timestamptz not null, data jsonb not null default '{}') partition by range (created);
      create table runner.run_events_old partition of runner.run_events for values from ('2000-01-01') to ('2020-01-01')`);
    const before = await tableShape(db, ["runs", "run_events", "run_events_old"]);
    await db.query(`select notifier.attach_table('runner.runs', 'id', 'state', null, dispatched => 'emitted > 0', name_column => 'name',
      wrapup_events => 'runner.run_events', event_job_column => 'run_id', event_name_column => 'event', wrapup_event_names => '{stats}')`);
    // a partition created after the attach (AWX creates one per hour)
    await db.query("create table runner.run_events_new partition of runner.run_events for values from ('2020-01-01') to ('2100-01-01')");
    const run = Number((await db.query("insert into runner.runs (name) values ('r1') returning id")).rows[0].id);
    await db.query("update runner.runs set state = 'running' where id = $1", [run]);
    await db.query("update runner.runs set state = 'successful', emitted = 12 where id = $1", [run]);
    expect(await triggersOf(db, run)).toEqual(["started"]);
    const state = async () =>
      (await db.query("select waiting_for from notifier.job_state($1) where attachment = 'runner.runs'", [run])).rows[0].waiting_for;
    expect(await state()).toBe("wrapup event (stats in runner.run_events)");

    await db.query("begin");
    await db.query("set local track_functions = 'all'");
    const calls = async () =>
      (await db.query("select coalesce(pg_stat_get_xact_function_calls('notifier.tg_runner_runs__wrapup_event'::regproc), 0)::int as n")).rows[0].n as number;
    const start = await calls();
    await db.query("insert into runner.run_events (run_id, event, created) select $1, 'runner_on_ok', now() from generate_series(1, 50)", [run]);
    expect(await calls()).toBe(start);
    await db.query("commit");
    expect(await triggersOf(db, run)).toEqual(["started"]);

    await db.query("insert into runner.run_events (run_id, event, created) values ($1, 'stats', now())", [run]);
    expect(await triggersOf(db, run)).toEqual(["started", "success"]);
    expect(await state()).toBeNull();
    await db.query("insert into runner.run_events (run_id, event, created) values ($1, 'stats', now())", [run]); // a duplicate
    expect(await triggersOf(db, run)).toEqual(["started", "success"]);
    expect((await db.query("select healthy from notifier.attachments() where name = 'runner.runs'")).rows[0].healthy).toBe(true);

    await db.query("select notifier.detach('runner.runs')");
    await db.query("drop table runner.run_events_new");
    expect(await tableShape(db, ["runs", "run_events", "run_events_old"])).toEqual(before);
  });
});
