import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli as runProcess } from "./helpers/service.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { HttpReceiver } from "./helpers/httpReceiver.js";
import { afterFile } from "./helpers/afterFile.js";

// `bin/pg-job-notifier templates add|list|show|test|remove`, run as a child process.

const PASSWORD = "hunter2-do-not-print";

let url: string;
let db: pg.Client;

/** Runs the real bin/pg-job-notifier against this file's database. */
const cli = (args: string[], env: Record<string, string> = {}) => runProcess(args, { DATABASE_URL: url, ...env });
let folder: string;

async function templateCount(): Promise<number> {
  const { rows } = await db.query("select count(*)::int as n from notifier.notification_templates");
  return rows[0].n;
}

beforeAll(async () => {
  url = await createTestDatabase();
  db = await connect(url);
  folder = await mkdtemp(path.join(os.tmpdir(), "cli-templates-"));
  afterFile(() => rm(folder, { recursive: true, force: true }));
});

describe("templates add", () => {
  it("adds a template from flags with its scoped subscriptions", async () => {
    const result = await cli([
      "templates", "add", "--name", "ops-hook", "--type", "webhook",
      "--config", JSON.stringify({ url: "http://127.0.0.1:9/hook", username: "ops", password: PASSWORD }),
      "--messages", JSON.stringify({ error: { message: "{{ job.name }} broke" } }),
      "--subscribe", "started,error", "--organization", "7",
    ]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/template "ops-hook" added \(id \d+, webhook\): subscribed to started, error \(any job template, organization 7\)/);
    expect(result.stdout).not.toContain(PASSWORD);
    const { rows } = await db.query(
      `select t.notification_configuration as config, t.messages, s.trigger, s.job_template_id, s.organization_id
         from notifier.notification_templates t join notifier.subscriptions s on s.notification_template_id = t.id
        where t.name = 'ops-hook' order by s.trigger desc`,
    );
    expect(rows).toEqual([
      { config: { url: "http://127.0.0.1:9/hook", username: "ops", password: PASSWORD }, messages: { error: { message: "{{ job.name }} broke" } },
        trigger: "started", job_template_id: null, organization_id: "7" },
      { config: { url: "http://127.0.0.1:9/hook", username: "ops", password: PASSWORD }, messages: { error: { message: "{{ job.name }} broke" } },
        trigger: "error", job_template_id: null, organization_id: "7" },
    ]);
  });

  it("adds a template from a JSON file, flags overriding it", async () => {
    const file = path.join(folder, "mail.json");
    await writeFile(file, JSON.stringify({
      name: "from-file",
      notification_type: "email",
      notification_configuration: { host: "smtp.example.com", sender: "awx@example.com", recipients: ["ops@example.com"], password: PASSWORD },
      subscribe: ["success"],
      job_template_id: 12,
    }));
    const result = await cli(["templates", "add", "--file", file, "--name", "mail-ops"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const { rows } = await db.query(
      `select t.notification_type, s.trigger, s.job_template_id::int from notifier.notification_templates t
         join notifier.subscriptions s on s.notification_template_id = t.id where t.name = 'mail-ops'`,
    );
    expect(rows).toEqual([{ notification_type: "email", trigger: "success", job_template_id: 12 }]);

    const configFile = path.join(folder, "hook-config.json");
    await writeFile(configFile, JSON.stringify({ url: "http://127.0.0.1:9/from-file", password: PASSWORD }));
    const fromConfigFile = await cli(["templates", "add", "--name", "config-file-hook", "--type", "webhook", "--config-file", configFile]);
    expect(fromConfigFile).toMatchObject({ code: 0, stderr: "" });
    const stored = await db.query("select notification_configuration as config from notifier.notification_templates where name = 'config-file-hook'");
    expect(stored.rows[0].config).toEqual({ url: "http://127.0.0.1:9/from-file", password: PASSWORD });
  });

  it("refuses an invalid template with the database's own message naming the key, writing nothing", async () => {
    const before = await templateCount();
    const cases: [string[], string][] = [
      [["--type", "webhook", "--config", '{"uri": "http://x"}'], "notification_configuration.uri: unknown key for type webhook"],
      [["--type", "webhook", "--config", "{}"], "notification_configuration.url: required for type webhook"],
      [["--type", "email", "--config", '{"host": "h", "sender": "s", "recipients": []}'], "notification_configuration.recipients: must not be empty"],
      [["--type", "webhook", "--config", '{"url": "http://x", "http_method": "GET"}'], "notification_configuration.http_method: must be one of POST, PUT"],
      [["--type", "webhook", "--config", '{"url": "http://x"}', "--messages", '{"finished": {}}'], "messages.finished: unknown key"],
      [["--type", "webhook", "--config", '{"url": "http://x"}', "--messages", '{"success": {"body": "{{ job.name "}}'], "messages.success.body:"],
      [["--type", "webhook", "--config", '{"url": "http://x", "password": "hunter2-do-not-print"'], "--config is not valid JSON"],
      [["--type", "webhook", "--config", '{"url": "http://x"}', "--subscribe", "finished"], 'unknown trigger "finished"'],
      [["--type", "fax", "--config", "{}"], "--type"],
    ];
    for (const [flags, message] of cases) {
      const result = await cli(["templates", "add", "--name", "bad", ...flags]);
      expect(result.code, flags.join(" ")).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).not.toContain(PASSWORD);
    }
    expect(await templateCount()).toBe(before);
  });

  it("refuses a duplicate name: exit 1", async () => {
    const result = await cli(["templates", "add", "--name", "ops-hook", "--type", "webhook", "--config", '{"url": "http://127.0.0.1:9/"}']);
    expect(result).toEqual({ code: 1, stdout: "", stderr: 'pg-job-notifier: template "ops-hook" already exists\n' });
  });
});

describe("templates list and show", () => {
  it("lists templates with their triggers, secrets masked", async () => {
    const text = await cli(["templates", "list"]);
    expect(text.code).toBe(0);
    const line = text.stdout.split("\n").find((candidate) => candidate.includes("ops-hook"));
    expect(line).toMatch(/^\d+\s+ops-hook\s+webhook\s+started,error\s+\{/);
    expect(line).toContain('"password":"********"');
    expect(text.stdout).toContain("mail-ops");
    const json = await cli(["templates", "list", "--json"]);
    for (const output of [text.stdout, json.stdout]) expect(output).not.toContain(PASSWORD);
    const listed = JSON.parse(json.stdout);
    expect(listed.find((t: { name: string }) => t.name === "mail-ops").configuration.password).toBe("********");
  });

  it("shows one template with subscriptions and messages, secrets masked", async () => {
    const result = await cli(["templates", "show", "ops-hook"]);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain(PASSWORD);
    expect(JSON.parse(result.stdout)).toMatchObject({
      name: "ops-hook",
      notification_type: "webhook",
      notification_configuration: { url: "http://127.0.0.1:9/hook", username: "ops", password: "********" },
      messages: { error: { message: "{{ job.name }} broke" } },
      subscriptions: [
        { trigger: "started", job_template_id: null, organization_id: 7 },
        { trigger: "error", job_template_id: null, organization_id: 7 },
      ],
    });
    const missing = await cli(["templates", "show", "nope"]);
    expect(missing).toEqual({ code: 1, stdout: "", stderr: 'pg-job-notifier: template "nope" not found\n' });
  });
});

describe("templates test", () => {
  it("sends one message now to a real receiver and prints where it went", async () => {
    const receiver = await HttpReceiver.start();
    await cli([
      "templates", "add", "--name", "live-hook", "--type", "webhook",
      "--config", JSON.stringify({ url: `${receiver.url}/hooks/awx`, username: "ops", password: PASSWORD }),
      "--messages", JSON.stringify({ error: { body: '{"text": {{ job.name | json }}, "status": "{{ job.status }}"}' } }),
    ]);
    const result = await cli(["templates", "test", "live-hook", "--trigger", "error"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`test message from template "live-hook" sent to ${receiver.url}/hooks/awx\n`);
    const [request] = await receiver.waitForRequests(1);
    expect(request!.url).toBe("/hooks/awx");
    expect(request!.headers["idempotency-key"]).toMatch(/^test-/);
    expect(request!.headers.authorization).toBe(`Basic ${Buffer.from(`ops:${PASSWORD}`).toString("base64")}`);
    expect(JSON.parse(request!.body)).toEqual({ text: "pg-job-notifier test message", status: "failed" });
    // A test writes no notification row.
    const { rows } = await db.query("select count(*)::int as n from notifier.notifications");
    expect(rows[0].n).toBe(0);

    receiver.responder = () => ({ status: 500, body: `upstream rejected ${PASSWORD}` });
    const failed = await cli(["templates", "test", "live-hook"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^pg-job-notifier: test of template "live-hook" failed: .*500/);
    expect(failed.stderr.trim().split("\n")).toHaveLength(1);
    expect(failed.stderr + failed.stdout).not.toContain(PASSWORD);
  });

  it("--trigger approval renders a workflow approval's decision with AWX's message or the template's", async () => {
    const receiver = await HttpReceiver.start();
    await cli([
      "templates", "add", "--name", "approvals-hook", "--type", "webhook", "--config", JSON.stringify({ url: `${receiver.url}/a` }),
      "--messages", JSON.stringify({ workflow_approval: { approved: { body: '{"text": {{ approval_node_name | json }}, "state": "{{ approval_status }}"}' } } }),
    ]);
    const result = await cli(["templates", "test", "approvals-hook", "--trigger", "approval"]);
    expect(result.stderr).toBe("");
    const [request] = await receiver.waitForRequests(1);
    expect(JSON.parse(request!.body)).toEqual({ text: "pg-job-notifier test message", state: "approved" });
  });

  it("fails with exit 1 when the receiver is unreachable", async () => {
    const result = await cli(["templates", "test", "ops-hook"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/test of template "ops-hook" failed: .*127\.0\.0\.1:9/);
    expect(result.stderr).not.toContain(PASSWORD);
  });
});

describe("templates remove", () => {
  it("removes a template softly: subscriptions gone, hidden, its row kept; the name is free again; an unknown name is exit 1", async () => {
    const result = await cli(["templates", "remove", "mail-ops"]);
    expect(result).toEqual({
      code: 0, stderr: "", stdout: 'template "mail-ops" removed (no new notifications; its history stays until retention purges it)\n',
    });
    const { rows } = await db.query(
      `select t.removed_at is not null as removed,
              (select count(*) from notifier.subscriptions s where s.notification_template_id = t.id)::int as subscriptions
         from notifier.notification_templates t where name = 'mail-ops'`,
    );
    expect(rows).toEqual([{ removed: true, subscriptions: 0 }]);
    expect((await cli(["templates", "list", "--json"])).stdout).not.toContain("mail-ops");
    expect((await cli(["templates", "show", "mail-ops"])).code).toBe(1);
    const again = await cli(["templates", "remove", "mail-ops"]);
    expect(again).toEqual({ code: 1, stdout: "", stderr: 'pg-job-notifier: template "mail-ops" not found\n' });
    const readded = await cli(["templates", "add", "--name", "mail-ops", "--type", "webhook", "--config", '{"url": "http://127.0.0.1:9/x"}']);
    expect(readded.code).toBe(0);
  });
});
