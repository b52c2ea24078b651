import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { Writable } from "node:stream";
import { createLogger } from "../../src/logger.js";
import { terminalSafe } from "../../src/terminal.js";
import { connect, createTestDatabase } from "../helpers/database.js";
import { HttpReceiver } from "../helpers/httpReceiver.js";
import { addWebhook, runCli, runJob, ServiceProcess, waitUntilSettled } from "../helpers/service.js";

// A job name or a receiver's error that a terminal would obey: ANSI sequences (clear screen,
// retitle, fake colours), a carriage return that overwrites the line, bidi overrides that show
// text in another order. The CLI prints them escaped, visibly, and JSON stays JSON.

const HOSTILE_NAME = "deploy\u001b[2J\u001b]0;pwned\u0007 \u202eevil\u202c \u2066x\u2069 \u009b31m\rOK";
const HOSTILE_ERROR = "\u001b[31mall good\u001b[0m\r\u202edetacilpmoc";
/** What no line printed to a terminal may contain (newlines and tabs apart). */
const DANGEROUS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

let databaseUrl: string;
let db: pg.Client;
beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  db = await connect(databaseUrl);
});

describe("terminalSafe", () => {
  it("escapes control and bidi characters as \\u sequences, keeping newlines, tabs and other Unicode", () => {
    expect(terminalSafe("a\u001b[2Jb\r\n\tc \u202e é 日本 🚀")).toBe("a\\u001b[2Jb\\u000d\n\tc \\u202e é 日本 🚀");
  });
});

describe("logs on a terminal (pretty)", () => {
  it("escape control and bidi characters in messages and fields", () => {
    let written = "";
    const destination = new Writable({ write(chunk, _encoding, done) { written += String(chunk); done(); } });
    const logger = createLogger({ level: "info", pretty: true, destination });
    logger.warn({ error: HOSTILE_ERROR, job: HOSTILE_NAME }, `send failed for ${HOSTILE_NAME}`);
    // pino-pretty's own colours are ESC sequences: look at what is left without them.
    const withoutColours = written.replace(/\u001b\[\d+(;\d+)*m/g, "");
    expect(withoutColours).not.toMatch(DANGEROUS);
    expect(withoutColours).toContain("deploy\\u001b[2J");
  });
});

describe("the CLI", () => {
  it("prints hostile job names and remote errors escaped in explain, notifications list and templates", async () => {
    const receiver = await HttpReceiver.start();
    receiver.responder = () => ({ status: 500, body: HOSTILE_ERROR });
    await addWebhook(db, `hook \u001b[1m${"\u202e"}`, { url: `${receiver.url}/hook` }, { triggers: ["success"] });
    const service = await ServiceProcess.start({ databaseUrl, env: { NOTIFIER_MAX_ATTEMPTS: "1" } });
    const jobId = await runJob(db, HOSTILE_NAME);
    const [row] = await waitUntilSettled(db);
    expect(row!.status).toBe("failed");
    service.kill();
    await service.waitForExit();

    const env = { DATABASE_URL: databaseUrl };
    for (const args of [["explain", String(jobId)], ["notifications", "list"], ["templates", "list"]]) {
      const result = await runCli(args, env);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout, args.join(" ")).not.toMatch(DANGEROUS);
      expect(result.stdout).toContain("\\u001b");
    }
    const explained = await runCli(["explain", String(jobId)], env);
    expect(explained.stdout).toContain("deploy\\u001b[2J\\u001b]0;pwned\\u0007 \\u202eevil\\u202c");
    // JSON output: nothing raw on the terminal, and the same strings once parsed.
    for (const args of [["explain", String(jobId), "--json"], ["notifications", "list", "--json"], ["templates", "list", "--json"]]) {
      const result = await runCli(args, env);
      expect(result.stdout, args.join(" ")).not.toMatch(DANGEROUS);
      JSON.parse(result.stdout);
    }
    const json = JSON.parse((await runCli(["explain", String(jobId), "--json"], env)).stdout);
    expect(json.job.name).toBe(HOSTILE_NAME);
    // An error naming the hostile template goes to stderr escaped too.
    const missing = await runCli(["templates", "show", `nope\u001b[2J`], env);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).not.toMatch(DANGEROUS);
  });
});
