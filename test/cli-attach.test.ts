import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { awxSetStatus, awxWrapup, createAwxJob, createAwxSchema, updateModel } from "./helpers/awx.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { addTemplate } from "./helpers/jobs.js";
import { runCli as runProcess } from "./helpers/service.js";

// `attach awx|table`, `attachments`, `detach` as child processes against a real database with
// AWX's tables (CONTRACT §8): bad input is exit 2 with one line, a lock timeout one line.

let url: string;
let db: pg.Client;
const cli = (args: string[]) => runProcess(args, { DATABASE_URL: url });

beforeAll(async () => {
  url = await createTestDatabase();
  db = await connect(url);
  await createAwxSchema(db);
  await addTemplate(db, "ops");
});

describe("attach / attachments / detach", () => {
  it("attach awx, idempotent; AWX's jobs then notify; explain and notifications list show them", async () => {
    expect(await cli(["attach", "awx"])).toEqual({ code: 0, stdout: 'attached to public.main_unifiedjob as "awx"\n', stderr: "" });
    expect((await cli(["attach", "awx"])).code).toBe(0);
    const dry = await cli(["attach", "awx", "--dry-run"]);
    expect(dry.stdout).toContain("create or replace trigger notifier_100_job_update\n  after update of status, host_status_counts on public.main_unifiedjob");

    const listed = await cli(["attachments", "--json"]);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).map((a: { name: string; healthy: boolean }) => [a.name, a.healthy])).toEqual([
      ["awx", true],
      ["notifier.jobs", true],
    ]);

    const id = await createAwxJob(db, "job", { name: "nightly backup" });
    await awxSetStatus(db, id, "running");
    await awxSetStatus(db, id, "successful", 8);
    const waiting = await cli(["explain", String(id), "--json"]);
    expect(waiting.code).toBe(0);
    const explained = JSON.parse(waiting.stdout);
    expect(explained.job).toMatchObject({ attachment: "awx", id, kind: "job", name: "nightly backup", status: "successful", wrapupRequired: true });
    expect(explained.waitingFor[0]).toMatch(/^final notification waits for the wrapup event \(playbook_on_stats\); the grace fires it at /);
    await awxWrapup(db, id);
    const text = (await cli(["explain", String(id)])).stdout;
    expect(text).toContain(`Job #${id} "nightly backup": successful`);
    expect(text).toMatch(/final condition\s+committed at .* \(trigger success\)/);
    const rows = JSON.parse((await cli(["notifications", "list", "--job", String(id), "--json"])).stdout);
    expect(rows.map((row: { trigger: string }) => row.trigger).sort()).toEqual(["started", "success"]);
  });

  it("attach and detach run as the schema's owner: NOTIFIER_MIGRATE_DATABASE_URL over DATABASE_URL, as migrate", async () => {
    // The service's URL (here one that cannot connect) is not the one that changes the schema.
    const unreachable = "postgres://nobody@127.0.0.1:1/none";
    const dry = await runProcess(["attach", "awx", "--dry-run"], { DATABASE_URL: unreachable, NOTIFIER_MIGRATE_DATABASE_URL: url });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("notifier_100_job_update");
    const refused = await runProcess(["detach", "nothing.attached"], { DATABASE_URL: unreachable, NOTIFIER_MIGRATE_DATABASE_URL: url });
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringMatching(/is not attached/) });
  });

  it("bad input: exit 2, one line naming it, nothing created", async () => {
    await db.query("create table public.builds (id integer primary key, state text, result jsonb)");
    const cases: [string[], RegExp][] = [
      [["attach", "awx", "--schema", "nowhere"], /^pg-job-notifier: attach: schema nowhere does not exist\n/],
      [["attach", "table", "public.builds", "--id", "id", "--status", "stage", "--wrapup", "result"], /attach: column public\.builds\.stage does not exist/],
      [["attach", "table", "public.builds", "--id", "state", "--status", "state", "--wrapup", "result"], /attach: column public\.builds\.state is text, expected integer/],
      [["attach", "table", "public.builds", "--id", "id", "--status", "state", "--wrapup", "result", "--status-map", "{x"], /--status-map must be a JSON object/],
      [["attach", "table", "public.builds", "--id", "id", "--status", "state", "--wrapup", "result", "--status-map", '{"done": "finished"}'], /status_map done: not one of AWX's statuses/],
      [["attach", "table", "public.builds", "--id", "id", "--status", "state", "--wrapup", "result", "--dispatched", "nope("], /attach: dispatched nope\(: syntax error/],
      [["attach", "table", "public.nothing", "--id", "id", "--status", "state", "--wrapup", "result"], /attach: table public\.nothing does not exist/],
      [["attach", "table", "public.builds", "--status", "state", "--wrapup", "result"], /required option '--id <column>' not specified/],
      [["attach", "table", "public.builds", "--id", "id", "--status", "state"], /attach table needs --wrapup <column> or --wrapup-events <table>/],
      [["attach", "table", "public.builds", "--id", "id", "--status", "state", "--wrapup-events", "public.nope"], /attach: events table public\.nope does not exist/],
      [["detach", "public.builds"], /attach: public\.builds is not attached/],
      [["detach", "notifier.jobs"], /notifier\.jobs is the product's own table/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toMatch(message);
      expect(result.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
    const { rows } = await db.query("select count(*)::int as n from pg_trigger where tgrelid = 'public.builds'::regclass");
    expect(rows[0].n).toBe(0);
  });

  it("a blocked attach fails fast in one line (exit 1); a broken attachment makes `attachments` exit 1", async () => {
    const id = await createAwxJob(db, "job");
    const holder = await connect(url);
    await holder.query("begin");
    await updateModel(holder, id, { job_explanation: "'holding the table'" });
    const blocked = await cli(["attach", "awx"]);
    await holder.query("rollback");
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toBe(
      "pg-job-notifier: a transaction on the host table holds a conflicting lock (lock_timeout expired); nothing changed, run it again\n",
    );

    await db.query("alter table main_unifiedjob disable trigger notifier_100_job_insert");
    const broken = await cli(["attachments"]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/awx\s+awx\s+public\.main_unifiedjob\s+trigger notifier_100_job_insert on public\.main_unifiedjob is disabled/);
    await db.query("alter table main_unifiedjob enable trigger notifier_100_job_insert");

    expect(await cli(["detach", "awx"])).toEqual({ code: 0, stdout: "detached awx\n", stderr: "" });
    const { rows } = await db.query("select count(*)::int as n from pg_trigger where tgrelid = 'main_unifiedjob'::regclass and not tgisinternal");
    expect(rows[0].n).toBe(0);
  });
});
