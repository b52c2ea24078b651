import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli as runProcess } from "./helpers/service.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { addTemplate, insertJob, notificationsOf, setStatus } from "./helpers/jobs.js";

// `bin/pg-job-notifier notifications list|retry`, run as a child process.

let url: string;
let db: pg.Client;

/** Runs the real bin/pg-job-notifier against this file's database. */
const cli = (args: string[], env: Record<string, string> = {}) => runProcess(args, { DATABASE_URL: url, ...env });
let firstJob: number;
let secondJob: number;
let failedId: number;
let sentId: number;

beforeAll(async () => {
  url = await createTestDatabase();
  db = await connect(url);
  await addTemplate(db, "ops-hook");
  firstJob = await insertJob(db, { name: "first", status: "running" });
  await setStatus(db, firstJob, "failed", false);
  secondJob = await insertJob(db, { name: "second", status: "running" });
  const [started, final] = await notificationsOf(db, firstJob);
  sentId = started!.id;
  failedId = final!.id;
  await db.query("update notifier.notifications set status = 'successful', attempts = 1, sent_at = now() where id = $1", [sentId]);
  await db.query(
    `update notifier.notifications
        set status = 'failed', attempts = 5, error = 'POST http://127.0.0.1:9/hook: connect ECONNREFUSED', run_at = now() - interval '1 hour'
      where id = $1`,
    [failedId],
  );
});

describe("notifications list", () => {
  it("lists rows newest first, filtered by status, job and limit", async () => {
    const all = await cli(["notifications", "list"]);
    expect(all.code).toBe(0);
    const ids = all.stdout.trim().split("\n").slice(1).map((line) => Number(line.split(/\s+/)[0]));
    expect(ids).toHaveLength(3);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    const failed = await cli(["notifications", "list", "--status", "failed"]);
    const failedLines = failed.stdout.trim().split("\n");
    expect(failedLines[0]).toMatch(/^ID\s+JOB\s+TRIGGER\s+TEMPLATE\s+TYPE\s+STATUS\s+ATTEMPTS/);
    expect(failedLines.slice(1)).toHaveLength(1);
    expect(failedLines[1]).toMatch(new RegExp(`^${failedId}\\s+${firstJob}\\s+error\\s+ops-hook\\s+webhook\\s+failed\\s+5\\s+.*ECONNREFUSED`));

    const ofJob = JSON.parse((await cli(["notifications", "list", "--job", String(secondJob), "--json"])).stdout);
    expect(ofJob).toMatchObject([{ jobId: secondJob, trigger: "started", status: "pending", attempts: 0, nextAttemptAt: expect.any(String), attemptHistory: [] }]);
    await db.query(`update notifier.notifications set attempt_history = '[{"attempt": 1, "outcome": "error", "http_status": 503, "error": "HTTP 503: busy"}]' where job_id = $1`, [secondJob]);
    const withHistory = JSON.parse((await cli(["notifications", "list", "--job", String(secondJob), "--json"])).stdout);
    expect(withHistory[0].attemptHistory).toEqual([{ attempt: 1, outcome: "error", http_status: 503, error: "HTTP 503: busy" }]);

    const limited = JSON.parse((await cli(["notifications", "list", "--limit", "1", "--json"])).stdout);
    expect(limited).toHaveLength(1);

    const none = await cli(["notifications", "list", "--job", "999999"]);
    expect(none).toEqual({ code: 0, stdout: "no notifications\n", stderr: "" });
  });

  it("bad filters are exit 2", async () => {
    for (const args of [["--status", "sent"], ["--job", "x"], ["--limit", "0"]]) {
      const result = await cli(["notifications", "list", ...args]);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
  });
});

describe("notifications retry", () => {
  it("puts a failed row back to pending, attempts reset and due now", async () => {
    const result = await cli(["notifications", "retry", String(failedId)]);
    expect(result).toEqual({ code: 0, stderr: "", stdout: `back to pending: ${failedId}\n` });
    const { rows } = await db.query(
      "select status, attempts, run_at <= now() as due, locked_by from notifier.notifications where id = $1",
      [failedId],
    );
    expect(rows[0]).toEqual({ status: "pending", attempts: 0, due: true, locked_by: null });
  });

  it("refuses rows that are not failed, naming them: exit 1; bad ids: exit 2", async () => {
    const result = await cli(["notifications", "retry", String(sentId), "999999"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`pg-job-notifier: not retried (not failed, or no such notification): ${sentId}, 999999\n`);
    const { rows } = await db.query("select status from notifier.notifications where id = $1", [sentId]);
    expect(rows[0].status).toBe("successful");

    expect((await cli(["notifications", "retry", "abc"])).code).toBe(2);
    expect((await cli(["notifications", "retry"])).code).toBe(2);
  });
});
