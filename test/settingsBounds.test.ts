import { Command } from "commander";
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { addServiceOptions, MAX_TIMER_SECONDS, MAX_TIMER_MS, readServiceSettings } from "../src/config.js";
import { notificationTypes } from "../src/types/index.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { runCli } from "./helpers/service.js";

// Issue 11 item 10: a duration no timer holds (2^31 - 1 ms, about 24.8 days: setTimeout fires a
// longer one after 1 ms) and other out-of-range settings are refused when they are read, in one
// line naming the setting; a template's `timeout` has the same bound in SQL and TypeScript.

function read(args: string[]) {
  const command = addServiceOptions(new Command("listen").exitOverride());
  command.parse(args, { from: "user" });
  return readServiceSettings(command);
}

describe("service settings", () => {
  it("takes the longest duration a timer holds, and refuses one second more", () => {
    expect(MAX_TIMER_SECONDS * 1000).toBeLessThanOrEqual(MAX_TIMER_MS);
    expect((MAX_TIMER_SECONDS + 1) * 1000).toBeGreaterThan(MAX_TIMER_MS);
    for (const flag of ["--lease", "--retry-delay", "--wrapup-grace", "--poll-interval", "--sweep-interval", "--shutdown-grace"]) {
      expect(() => read([flag, String(MAX_TIMER_SECONDS)]), flag).not.toThrow();
      expect(() => read([flag, String(MAX_TIMER_SECONDS + 1)]), flag).toThrow(
        `${flag} must be at most ${MAX_TIMER_SECONDS} seconds (about 24.8 days, the longest a timer holds)`);
      expect(() => read([flag, "99999999999999999999999"]), flag).toThrow(`${flag} must be at most`);
    }
  });

  it("refuses intervals that would spin, and counts beyond what the database or a process holds", () => {
    expect(() => read(["--poll-interval", "0.001"])).toThrow("--poll-interval must be at least 0.01");
    expect(() => read(["--sweep-interval", "0"])).toThrow("--sweep-interval must be");
    expect(() => read(["--max-attempts", String(2 ** 31)])).toThrow(`--max-attempts must be at most ${2 ** 31 - 1}`);
    expect(() => read(["--concurrency", "1000000"])).toThrow("--concurrency must be at most 10000");
    expect(read(["--concurrency", "10000", "--max-attempts", String(2 ** 31 - 1)])).toMatchObject({ concurrency: 10000 });
  });

  it("exits 2 with one line naming the variable", async () => {
    const result = await runCli(["listen"], { DATABASE_URL: "postgres://127.0.0.1:1/x", NOTIFIER_SHUTDOWN_GRACE: "2592000" });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([expect.stringContaining("NOTIFIER_SHUTDOWN_GRACE must be at most 2147483 seconds")]);
  });
});

describe("a template's timeout", () => {
  let admin: pg.Client;
  beforeAll(async () => {
    admin = await connect(await createTestDatabase());
  });

  /** Whether SQL (the template triggers) and TypeScript (the type's zod schema) accept `timeout`. */
  async function accepted(timeout: number): Promise<{ sql: boolean; typescript: boolean }> {
    const configuration = { url: "http://127.0.0.1:9/hook", timeout };
    const typescript = notificationTypes.webhook.configurationSchema.safeParse(configuration).success;
    await admin.query("savepoint bound");
    const sql = await admin
      .query("insert into notifier.notification_templates (name, notification_type, notification_configuration) values ($1, 'webhook', $2)",
        [`timeout-${timeout}`, JSON.stringify(configuration)])
      .then(() => true, (error: { code?: string; message: string }) => {
        expect(error).toMatchObject({ code: "22023", message: expect.stringMatching(/^notification_configuration\.timeout: /) });
        return false;
      });
    await admin.query("rollback to savepoint bound");
    return { sql, typescript };
  }

  it("has the same bound in SQL and TypeScript: MAX_TIMER_SECONDS", async () => {
    await admin.query("begin");
    try {
      expect(await accepted(30)).toEqual({ sql: true, typescript: true });
      expect(await accepted(MAX_TIMER_SECONDS)).toEqual({ sql: true, typescript: true });
      expect(await accepted(MAX_TIMER_SECONDS + 0.5)).toEqual({ sql: false, typescript: false });
      expect(await accepted(1e308)).toEqual({ sql: false, typescript: false });
      expect(await accepted(0)).toEqual({ sql: false, typescript: false });
      // One declaration: SQL reads the bound from the key rows generated from src/types/keys.ts.
      const { rows } = await admin.query(
        "select array_agg(distinct maximum::float8) as bounds from notifier.notification_type_keys where key = 'timeout'");
      expect(rows[0].bounds).toEqual([MAX_TIMER_SECONDS]);
    } finally {
      await admin.query("rollback");
    }
  });
});
