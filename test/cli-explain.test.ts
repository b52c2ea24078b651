import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli as runProcess } from "./helpers/service.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { insertJob, notificationsOf, saveStatsEvent, setStatus } from "./helpers/jobs.js";

// `bin/pg-job-notifier explain JOB_ID [--json]`, run as a child process against a real database.

const PASSWORD = "hunter2-do-not-print";

let url: string;
let db: pg.Client;

/** Runs the real bin/pg-job-notifier against this file's database. */
const cli = (args: string[], env: Record<string, string> = {}) => runProcess(args, { DATABASE_URL: url, ...env });

async function explainJson(jobId: number, env: Record<string, string> = {}) {
  const result = await cli(["explain", String(jobId), "--json"], env);
  expect(result).toMatchObject({ code: 0, stderr: "" });
  return JSON.parse(result.stdout);
}

async function explainText(jobId: number, env: Record<string, string> = {}): Promise<string> {
  const result = await cli(["explain", String(jobId)], env);
  expect(result).toMatchObject({ code: 0, stderr: "" });
  return result.stdout;
}

beforeAll(async () => {
  url = await createTestDatabase();
  db = await connect(url);
  const { rows } = await db.query(
    `insert into notifier.notification_templates (name, notification_type, notification_configuration)
     values ('ops-hook', 'webhook', $1) returning id`,
    [JSON.stringify({ url: "http://127.0.0.1:9/hook", username: "ops", password: PASSWORD })],
  );
  await db.query(
    "insert into notifier.subscriptions (notification_template_id, trigger) select $1, unnest(array['started', 'success', 'error'])",
    [rows[0].id],
  );
});

describe("explain", () => {
  it("a running job: the final notification waits for a final status", async () => {
    const jobId = await insertJob(db, { name: "deploy web", status: "running" });
    const text = await explainText(jobId);
    expect(text).toContain(`Job #${jobId} "deploy web": running`);
    expect(text).toMatch(/started condition\s+committed at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    expect(text).toMatch(/final condition\s+not committed/);
    expect(text).toContain("final notification waits for a final status (the job is running)");
    expect(text).toMatch(/1 notification pending: #\d+ started to ops-hook: due now/);

    const json = await explainJson(jobId);
    expect(json.job).toMatchObject({ id: jobId, status: "running", wrapupDispatched: false, wrapupProcessed: false });
    expect(json.conditions.startedCommittedAt).toEqual(expect.any(String));
    expect(json.conditions.finalCommittedAt).toBeNull();
    expect(json.waitingFor).toContain("final notification waits for a final status (the job is running)");
    expect(json.notifications).toMatchObject([{ trigger: "started", template: "ops-hook", status: "pending", attempts: 0 }]);
  });

  it("a finished job whose wrapup was dispatched: waits for the wrapup event, with the time the grace fires it", async () => {
    const jobId = await insertJob(db, { name: "patch", status: "running" });
    await db.query("update notifier.jobs set status = 'failed', wrapup_dispatched = true where id = $1", [jobId]);
    // The grace counts from the database clock's stamp at A: move it to a known moment.
    await db.query(
      "update notifier.job_conditions set final_status_at = '2031-03-04 12:00:00+00' where attachment = 'notifier.jobs' and job_id = $1",
      [jobId],
    );
    const text = await explainText(jobId);
    expect(text).toContain(
      "final notification waits for the wrapup event (playbook_on_stats); the grace fires it at 2031-03-04 12:05:00 UTC " +
        "(notifier.settings.wrapup_grace 300 s after the final status)",
    );
    expect(text).toMatch(/wrapup dispatched\s+yes/);
    expect(text).toMatch(/wrapup event\s+playbook_on_stats not processed yet/);

    await db.query("update notifier.settings set wrapup_grace = '60 seconds'");
    const json = await explainJson(jobId);
    await db.query("update notifier.settings set wrapup_grace = default");
    expect(json.graceFiresAt).toBe("2031-03-04T12:01:00.000Z");
    expect(json.job).toMatchObject({ wrapupDispatched: true, wrapupRequired: true, wrapupProcessed: false });
    expect(json.waitingFor[0]).toContain("the grace fires it at 2031-03-04 12:01:00 UTC (notifier.settings.wrapup_grace 60 s after the final status)");

    // The wrapup event arrives: the final condition commits and nothing waits for it any more.
    await saveStatsEvent(db, jobId, { ok: { web1: 1 }, failures: { web2: 1 } });
    const after = await explainJson(jobId);
    expect(after.job.wrapupProcessed).toBe(true);
    expect(after.job.hostStatusCounts).toEqual({ ok: 1, failures: 1 });
    expect(after.conditions).toMatchObject({ finalCommittedAt: expect.any(String), finalTrigger: "error" });
    expect(after.graceFiresAt).toBeNull();
    expect(after.waitingFor.join("\n")).not.toContain("wrapup event");
    const [started, final] = after.notifications;
    expect(after.waitingFor).toContain(
      `2 notifications pending: #${started.id} started to ops-hook: due now, waiting for a delivery service to claim it; ` +
        `#${final.id} error to ops-hook: waits for #${started.id} started to be sent first`,
    );
  });

  it("a delivered job: nothing waits", async () => {
    const jobId = await insertJob(db, { name: "backup", status: "running" });
    await setStatus(db, jobId, "successful", false);
    await db.query(
      "update notifier.notifications set status = 'successful', attempts = 1, sent_at = now(), recipients = '127.0.0.1' where job_id = $1",
      [jobId],
    );
    const json = await explainJson(jobId);
    expect(json.waitingFor).toEqual([]);
    expect(json.notifications.map((row: { trigger: string; status: string }) => [row.trigger, row.status])).toEqual([
      ["started", "successful"],
      ["success", "successful"],
    ]);
    expect(json.notifications[1].sentAt).toEqual(expect.any(String));
    const text = await explainText(jobId);
    expect(text).toContain("nothing: all notifications delivered");
  });

  it("a failed notification: its attempts, last error, and how to send it again", async () => {
    const jobId = await insertJob(db, { name: "rotate keys", status: "running" });
    await setStatus(db, jobId, "error", false);
    const [started, final] = await notificationsOf(db, jobId);
    await db.query("update notifier.notifications set status = 'successful', attempts = 1, sent_at = now() where id = $1", [started!.id]);
    await db.query(
      "update notifier.notifications set status = 'failed', attempts = 5, error = 'POST http://127.0.0.1:9/hook: HTTP 502 Bad Gateway' where id = $1",
      [final!.id],
    );
    const text = await explainText(jobId);
    expect(text).toContain(`1 notification failed (#${final!.id} error to ops-hook): send again with \`pg-job-notifier notifications retry ${final!.id}\``);
    expect(text).toContain("HTTP 502 Bad Gateway");
    const json = await explainJson(jobId);
    expect(json.notifications[1]).toMatchObject({ id: final!.id, status: "failed", attempts: 5, lastError: expect.stringContaining("HTTP 502") });
  });

  it("a pending retry: when it is next attempted, and a lease while it is being sent", async () => {
    const jobId = await insertJob(db, { name: "scale out", status: "running" });
    const [started] = await notificationsOf(db, jobId);
    await db.query(
      "update notifier.notifications set attempts = 2, error = 'timed out after 30 s', run_at = '2031-03-04 12:10:00+00' where id = $1",
      [started!.id],
    );
    const text = await explainText(jobId);
    expect(text).toContain(`1 notification pending: #${started!.id} started to ops-hook: retry at 2031-03-04 12:10:00 UTC (after 2 attempts)`);

    await db.query(
      "update notifier.notifications set run_at = now(), locked_by = 'host-a:123', locked_until = '2031-03-04 12:11:00+00' where id = $1",
      [started!.id],
    );
    const json = await explainJson(jobId);
    expect(json.notifications[0].lease).toEqual({ by: "host-a:123", until: "2031-03-04T12:11:00.000Z" });
    expect(json.waitingFor.join("\n")).toContain("being sent by host-a:123 (lease until 2031-03-04 12:11:00 UTC)");
  });

  it("masks the templates' secrets in text and JSON", async () => {
    const jobId = await insertJob(db, { name: "secretive", status: "running" });
    const text = await explainText(jobId);
    const json = await cli(["explain", String(jobId), "--json"]);
    for (const output of [text, json.stdout]) {
      expect(output).toContain("ops-hook");
      expect(output).toContain("********");
      expect(output).not.toContain(PASSWORD);
    }
    expect(JSON.parse(json.stdout).templates[0].configuration).toEqual({
      url: "http://127.0.0.1:9/hook",
      username: "ops",
      password: "********",
    });
  });

  it("an unknown job: one line, exit 1", async () => {
    const result = await cli(["explain", "999999"]);
    expect(result).toEqual({ code: 1, stdout: "", stderr: "pg-job-notifier: job 999999 not found in notifier.jobs or any attached table\n" });
    const verbose = await cli(["--verbose", "explain", "999999"]);
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(/not found in notifier\.jobs or any attached table\n\s+at /);
  });

  it("bad usage: exit 2 with one line naming the problem", async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["explain", "abc"], {}, /JOB_ID must be a positive whole number/],
      [["explain"], {}, /missing required argument/],
      [["explain", "1", "--bogus"], {}, /unknown option '--bogus'/],
      [["explain", "1"], { DATABASE_URL: "mysql://root:pw@localhost/x" }, /DATABASE_URL must be a postgres:\/\//],
    ];
    for (const [args, env, message] of cases) {
      const result = await cli(args, env);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
  });
});
