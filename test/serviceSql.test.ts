import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createDatabasePool, createHotPathPool, sql } from "../src/db.js";
import { claimDue, type ClaimedNotification, type ClaimOptions } from "../src/sql/claimDue.js";
import { extendLeases } from "../src/sql/extendLeases.js";
import { recordOutcomes, type AttemptOutcome } from "../src/sql/recordOutcomes.js";
import { readHealth } from "../src/sql/readHealth.js";
import { releaseClaims } from "../src/sql/releaseClaims.js";
import { retryNotifications } from "../src/sql/retryNotifications.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { eventually } from "./helpers/eventually.js";
import { addWebhook, rowsOf, runJob } from "./helpers/service.js";

const databaseUrl = await createTestDatabase();
const client = await connect(databaseUrl);
const db = await createDatabasePool(databaseUrl);
const hotPath = await createHotPathPool(databaseUrl);
afterAll(async () => {
  await hotPath.end();
  await db.end();
});
const templateId = await addWebhook(client, "sql", { url: "http://127.0.0.1:9/hook" });

const policy = { retryDelaySeconds: 10, maxAttempts: 3 };
const claim = (worker: string, limit = 100, leaseSeconds = 60, options: Partial<ClaimOptions> = {}) =>
  claimDue(hotPath, { worker, limit, leaseSeconds, maxAttempts: policy.maxAttempts, maxAgeSeconds: null, ...options });
const outcome = (row: ClaimedNotification, kind: AttemptOutcome["kind"], overrides: Partial<AttemptOutcome> = {}): AttemptOutcome => ({
  id: row.id, leaseToken: row.leaseToken, kind, error: kind === "sent" || kind === "released" ? null : "HTTP 503: busy",
  httpStatus: null, retryAfterSeconds: null, subject: "s", body: null, recipients: kind === "sent" ? "r" : null,
  notificationsSent: kind === "sent" ? 1 : null, deliveredTargets: [], ...overrides,
});
const record = (outcomes: AttemptOutcome[]) => recordOutcomes(hotPath, outcomes, policy);
const dueNow = (id: string) => client.query("update notifier.notifications set run_at = now() where id = $1", [id]);

beforeEach(async () => {
  await client.query("delete from notifier.notifications");
  await client.query("update notifier.settings set delivery_paused = false");
});

describe("the database pool", () => {
  it("checks rows against sql.type schemas", async () => {
    await expect(db.one(sql.type(z.object({ n: z.string() }))`select 1 as n`)).rejects.toThrow(/validation|schema/i);
    expect(await db.oneFirst(sql.type(z.object({ n: z.number() }))`select 1::bigint as n`)).toBe(1);
  });
});

describe("claimDue", () => {
  it("claims the started row first and the final one only once started is no longer pending", async () => {
    const job = await runJob(client, "ordered");
    const first = await claim("a");
    expect(first.map((row) => row.trigger)).toEqual(["started"]);
    expect(first[0]).toMatchObject({ jobId: job, templateName: "sql", notificationType: "webhook", attempts: 1 });
    expect(first[0]!.jobSnapshot.status).toBe("running");
    await record([outcome(first[0]!, "sent")]);
    const second = await claim("a");
    expect(second.map((row) => row.trigger)).toEqual(["success"]);
    expect(second[0]!.jobSnapshot.status).toBe("successful");
  });

  it("lets the final row go once the started row has failed", async () => {
    await runJob(client, "started fails");
    const [started] = await claim("a");
    expect(await record([outcome(started!, "permanent", { error: "gone" })])).toEqual(new Map([[started!.id, "failed"]]));
    expect((await claim("a")).map((row) => row.trigger)).toEqual(["success"]);
  });

  it("never hands a leased row to another worker until the lease lapses or is released", async () => {
    await runJob(client, "leased", "running");
    const [row] = await claim("a", 10, 0.5);
    expect(await claim("b")).toEqual([]);
    expect(await extendLeases(hotPath, [row!], 60)).toEqual(new Set([row!.id]));
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await claim("b")).toEqual([]);
    expect(await releaseClaims(hotPath, "a")).toBe(1);
    // Released: the attempt its claim counted is given back.
    expect((await claim("b")).map((claimed) => [claimed.id, claimed.attempts])).toEqual([[row!.id, 1]]);
  });

  it("claims a row again after its lease lapsed, with a new token", async () => {
    await runJob(client, "lapsed", "running");
    const [row] = await claim("a", 10, 0.2);
    const again = await eventually(async () => (await claim("b")).find((claimed) => claimed.id === row!.id));
    expect(again.leaseToken).not.toBe(row!.leaseToken);
    expect(again.attempts).toBe(2);
  });

  it("never claims the ids the caller still holds, nor rows of the templates it skips", async () => {
    await runJob(client, "held", "running");
    const [row] = await claim("a", 10, 0.1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await claim("a", 10, 60, { skipIds: [row!.id] })).toEqual([]);
    expect(await claim("a", 10, 60, { skipTemplates: [templateId] })).toEqual([]);
    expect((await claim("a")).map((claimed) => claimed.id)).toEqual([row!.id]);
  });

  it("respects the limit and run_at", async () => {
    for (let i = 0; i < 3; i++) await runJob(client, `many ${i}`, "running");
    expect(await claim("a", 2)).toHaveLength(2);
    const [last] = await claim("a", 2);
    await record([outcome(last!, "error", { retryAfterSeconds: 3600 })]);
    expect(await claim("b")).toEqual([]);
    expect((await readHealth(db)).pending).toBe(3);
  });

  it("fails a row whose last attempt never reported (its process died) instead of claiming it again", async () => {
    const job = await runJob(client, "poison", "running");
    for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
      const [row] = await claim(`crashing ${attempt}`, 10, 0.05);
      expect(row!.attempts).toBe(attempt);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await claim("survivor")).toEqual([]);
    const [row] = await rowsOf(client, "job_id = $1", [job]);
    expect(row).toMatchObject({ status: "failed", attempts: 3 });
    expect(row!.error).toMatch(/attempt 3 of 3 never reported an outcome/);
  });

  it("fails rows older than the maximum age as expired", async () => {
    const job = await runJob(client, "stale", "running");
    await client.query("update notifier.notifications set created_at = now() - interval '2 days' where job_id = $1", [job]);
    expect(await claim("a", 10, 60, { maxAgeSeconds: 86400 })).toEqual([]);
    const [row] = await rowsOf(client, "job_id = $1", [job]);
    expect(row).toMatchObject({ status: "failed", attempts: 0 });
    expect(row!.error).toMatch(/^expired: still pending 2 days/);
  });

  it("a row retried by hand after it expired is not expired again at once", async () => {
    const job = await runJob(client, "stale, retried", "running");
    await client.query("update notifier.notifications set created_at = now() - interval '2 days' where job_id = $1", [job]);
    expect(await claim("a", 10, 60, { maxAgeSeconds: 86400 })).toEqual([]);
    const [expired] = await rowsOf(client, "job_id = $1", [job]);
    expect(await retryNotifications(db, [expired!.id])).toEqual([String(expired!.id)]);
    expect((await claim("a", 10, 60, { maxAgeSeconds: 86400 })).map((row) => row.id)).toEqual([String(expired!.id)]);
    await client.query("update notifier.notifications set status = 'pending', lease_token = null, locked_until = null, retried_at = now() - interval '25 hours' where job_id = $1", [job]);
    expect(await claim("a", 10, 60, { maxAgeSeconds: 86400 })).toEqual([]);
    expect((await rowsOf(client, "job_id = $1", [job]))[0]!.error).toMatch(/^expired: still pending 1 day 01:00:00 after it was retried/);
  });

  it("claims nothing while delivery is paused", async () => {
    await runJob(client, "paused", "running");
    await client.query("update notifier.settings set delivery_paused = true");
    expect(await claim("a")).toEqual([]);
    await client.query("update notifier.settings set delivery_paused = false");
    expect(await claim("a")).toHaveLength(1);
  });
});

describe("recordOutcomes", () => {
  it("a retry keeps the error, the rendered message and the history, and frees the row for later", async () => {
    const job = await runJob(client, "retried", "running");
    const [row] = await claim("a");
    expect(await record([outcome(row!, "error", { subject: "hello", body: "{}", deliveredTargets: ["x"], httpStatus: 503 })]))
      .toEqual(new Map([[row!.id, "pending"]]));
    await dueNow(row!.id);
    const [again] = await claim("b");
    expect(again).toMatchObject({ id: row!.id, attempts: 2, subject: "hello", body: "{}", deliveredTargets: ["x"] });
    await record([outcome(again!, "sent")]);
    expect((await rowsOf(client, "job_id = $1", [job]))[0]).toMatchObject({ status: "successful", attempts: 2, error: null });
    const { rows } = await client.query("select attempt_history from notifier.notifications where id = $1", [row!.id]);
    expect(rows[0].attempt_history).toEqual([
      expect.objectContaining({ attempt: 1, outcome: "error", http_status: 503, error: "HTTP 503: busy", sent: "hello", targets: ["x"] }),
    ]);
  });

  it("backs off from the first delay, doubling, ±20% jitter, or the receiver's Retry-After when longer", async () => {
    await runJob(client, "backoff", "running");
    const [row] = await claim("a");
    const delay = async () =>
      Number((await client.query("select extract(epoch from run_at - now()) as s from notifier.notifications where id = $1", [row!.id])).rows[0].s);
    await record([outcome(row!, "error")]);
    expect(await delay()).toBeGreaterThan(7.9);
    expect(await delay()).toBeLessThan(12.1);
    await dueNow(row!.id);
    const [second] = await claim("a");
    await record([outcome(second!, "error")]);
    expect(await delay()).toBeGreaterThan(15.9);
    expect(await delay()).toBeLessThan(24.1);
    await dueNow(row!.id);
    await client.query("update notifier.notifications set attempts = 0 where id = $1", [row!.id]);
    const [third] = await claim("a");
    await record([outcome(third!, "error", { retryAfterSeconds: 120 })]);
    expect(await delay()).toBeGreaterThan(119);
  });

  it("fails the row once the attempts are spent; keeps the last 10 attempts in the history", async () => {
    const job = await runJob(client, "spent", "running");
    await client.query("update notifier.notifications set attempts = 11 where job_id = $1", [job]);
    for (let i = 0; i < 11; i++) {
      await client.query("update notifier.notifications set attempts = 0 where job_id = $1", [job]);
      const [row] = await claimDue(hotPath, { worker: "a", limit: 1, leaseSeconds: 60, maxAttempts: 100, maxAgeSeconds: null });
      await recordOutcomes(hotPath, [outcome(row!, "error", { error: `failure ${i}` })], { retryDelaySeconds: 0, maxAttempts: 100 });
      await dueNow(row!.id);
    }
    const [row] = await claim("a");
    await client.query("update notifier.notifications set attempts = 3 where id = $1", [row!.id]);
    expect(await record([outcome(row!, "error", { error: "the last one" })])).toEqual(new Map([[row!.id, "failed"]]));
    const { rows } = await client.query("select status, error, attempt_history from notifier.notifications where id = $1", [row!.id]);
    expect(rows[0]).toMatchObject({ status: "failed", error: "the last one" });
    expect(rows[0].attempt_history.map((entry: { error: string }) => entry.error)).toEqual([
      ...Array.from({ length: 9 }, (_, i) => `failure ${i + 2}`), "the last one",
    ]);
  });

  it("a stale holder's outcomes are ignored and reported: the new holder's claim stands", async () => {
    const job = await runJob(client, "stolen", "running");
    const [row] = await claim("a", 10, 0.1);
    const taken = await eventually(async () => (await claim("b")).find((claimed) => claimed.id === row!.id));
    expect(await record([outcome(row!, "error", { error: "late" })])).toEqual(new Map());
    expect(await record([outcome(row!, "sent")])).toEqual(new Map());
    expect(await extendLeases(hotPath, [row!], 60)).toEqual(new Set());
    expect((await rowsOf(client, "job_id = $1", [job]))[0]).toMatchObject({ status: "pending", attempts: 2, error: null });
    expect(await record([outcome(taken, "sent")])).toEqual(new Map([[row!.id, "successful"]]));
  });

  it("released: pending and free at once, the attempt uncounted, the targets reached kept", async () => {
    await runJob(client, "released", "running");
    const [row] = await claim("a");
    expect(await record([outcome(row!, "released", { subject: null, deliveredTargets: ["#ops"] })])).toEqual(new Map([[row!.id, "pending"]]));
    const [again] = await claim("b");
    expect(again).toMatchObject({ id: row!.id, attempts: 1, deliveredTargets: ["#ops"] });
  });

  it("stores NUL, lone surrogates and long errors it is given, made storable", async () => {
    await runJob(client, "strings", "running");
    const [row] = await claim("a");
    await record([outcome(row!, "error", { error: `nul\0 lone \ud800 end ${"x".repeat(5000)}`, subject: "a\0b", deliveredTargets: ["\udc00#x"] })]);
    const { rows } = await client.query("select error, subject, delivered_targets from notifier.notifications where id = $1", [row!.id]);
    expect(rows[0].error).toMatch(/^nul\\0 lone \ufffd end x+…$/);
    expect(rows[0].error.length).toBe(2000);
    expect(rows[0].subject).toBe("a\\0b");
    expect(rows[0].delivered_targets).toEqual(["\ufffd#x"]);
  });
});
