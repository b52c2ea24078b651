import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createDatabasePool, sql } from "../src/db.js";
import { claimDue } from "../src/sql/claimDue.js";
import { extendLease } from "../src/sql/extendLease.js";
import { markFailed } from "../src/sql/markFailed.js";
import { markSent } from "../src/sql/markSent.js";
import { releaseClaims } from "../src/sql/releaseClaims.js";
import { retryDelaySeconds, scheduleRetry } from "../src/sql/scheduleRetry.js";
import { readHealth } from "../src/sql/readHealth.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { addWebhook, rowsOf, runJob } from "./helpers/service.js";

const databaseUrl = await createTestDatabase();
const client = await connect(databaseUrl);
const db = await createDatabasePool(databaseUrl);
afterAll(() => db.end());
await addWebhook(client, "sql", { url: "http://127.0.0.1:9/hook" });

const claim = (worker: string, limit = 100, leaseSeconds = 60) => claimDue(db, { worker, limit, leaseSeconds });
const sent = (id: string) => ({ id, subject: "s", body: null, recipients: "r", notificationsSent: 1, deliveredTargets: [] });

beforeEach(async () => {
  await client.query("delete from notifier.notifications");
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
    expect(first[0]).toMatchObject({ jobId: job, templateName: "sql", notificationType: "webhook", attempts: 0 });
    expect(first[0]!.jobSnapshot.status).toBe("running");
    await markSent(db, [sent(first[0]!.id)]);
    const second = await claim("a");
    expect(second.map((row) => row.trigger)).toEqual(["success"]);
    expect(second[0]!.jobSnapshot.status).toBe("successful");
  });

  it("lets the final row go once the started row has failed", async () => {
    await runJob(client, "started fails");
    const [started] = await claim("a");
    await markFailed(db, "a", [{ id: started!.id, error: "gone", subject: null, body: null, deliveredTargets: [] }]);
    expect((await claim("a")).map((row) => row.trigger)).toEqual(["success"]);
  });

  it("never hands a leased row to another worker until the lease lapses or is released", async () => {
    await runJob(client, "leased", "running");
    const [row] = await claim("a", 10, 0.5);
    expect(await claim("b")).toEqual([]);
    await extendLease(db, "a", [row!.id], 60);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await claim("b")).toEqual([]);
    expect(await releaseClaims(db, "a")).toBe(1);
    expect((await claim("b")).map((claimed) => claimed.id)).toEqual([row!.id]);
  });

  it("claims a row again after its lease lapsed", async () => {
    await runJob(client, "lapsed", "running");
    const [row] = await claim("a", 10, 0.2);
    await expect.poll(async () => (await claim("b")).map((claimed) => claimed.id), { timeout: 10_000 }).toEqual([row!.id]);
  });

  it("respects the limit and run_at", async () => {
    for (let i = 0; i < 3; i++) await runJob(client, `many ${i}`, "running");
    expect(await claim("a", 2)).toHaveLength(2);
    const [last] = await claim("a", 2);
    await scheduleRetry(db, "a", [{ id: last!.id, error: "later", delaySeconds: 3600, subject: "s", body: null, deliveredTargets: [] }]);
    expect(await claim("b")).toEqual([]);
    expect((await readHealth(db)).pending).toBe(3);
  });
});

describe("recording outcomes", () => {
  it("a retry counts the attempt, keeps the error and the rendered message, and frees the row", async () => {
    const job = await runJob(client, "retried", "running");
    const [row] = await claim("a");
    await scheduleRetry(db, "a", [{ id: row!.id, error: "HTTP 503", delaySeconds: 0, subject: "hello", body: "{}", deliveredTargets: ["x"] }]);
    const [again] = await claim("b");
    expect(again).toMatchObject({ id: row!.id, attempts: 1, subject: "hello", body: "{}", deliveredTargets: ["x"] });
    await markSent(db, [sent(row!.id)]);
    expect((await rowsOf(client, "job_id = $1", [job]))[0]).toMatchObject({ status: "successful", attempts: 2, error: null });
  });

  it("a stale worker cannot reschedule or fail a row another worker holds", async () => {
    const job = await runJob(client, "stolen", "running");
    const [row] = await claim("a", 10, 0.1);
    await expect.poll(async () => (await claim("b")).length, { timeout: 10_000 }).toBe(1);
    await scheduleRetry(db, "a", [{ id: row!.id, error: "late", delaySeconds: 0, subject: null, body: null, deliveredTargets: [] }]);
    await markFailed(db, "a", [{ id: row!.id, error: "late", subject: null, body: null, deliveredTargets: [] }]);
    expect((await rowsOf(client, "job_id = $1", [job]))[0]).toMatchObject({ status: "pending", attempts: 0, error: null });
  });

  it("backs off exponentially from the first delay, with ±20% jitter", () => {
    expect(retryDelaySeconds(10, 1, () => 0.5)).toBe(10);
    expect(retryDelaySeconds(10, 2, () => 0.5)).toBe(20);
    expect(retryDelaySeconds(10, 4, () => 0.5)).toBe(80);
    expect(retryDelaySeconds(10, 1, () => 0)).toBeCloseTo(8);
    expect(retryDelaySeconds(10, 1, () => 1)).toBeCloseTo(12);
  });
});
