import type pg from "pg";
import { beforeAll, expect, test } from "vitest";
import { connect, createTestDatabase } from "./helpers/database.js";
import { insertJob, saveStatsEvent } from "./helpers/jobs.js";

// CONTRACT §3: each host named under skipped, ok, changed, failures, dark is counted once, in the
// last of those buckets (in that order) that names it; buckets with no host are left out.

let db: pg.Client;
beforeAll(async () => {
  db = await connect(await createTestDatabase());
});

async function countsFromEvent(eventData: unknown): Promise<unknown> {
  const id = await insertJob(db, { status: "running" });
  await saveStatsEvent(db, id, eventData);
  const { rows } = await db.query("select host_status_counts from notifier.jobs where id = $1", [id]);
  return rows[0].host_status_counts;
}

test.each([
  ["REFERENCE.md's example", { ok: { h1: 1, h2: 1 }, changed: { h2: 1 }, failures: { h3: 1 }, skipped: { h4: 1 } }, { skipped: 1, ok: 1, changed: 1, failures: 1 }],
  ["a host in every bucket counts once, as dark", { skipped: { a: 1 }, ok: { a: 1 }, changed: { a: 1 }, failures: { a: 1 }, dark: { a: 1 } }, { dark: 1 }],
  ["order is by bucket, not by key order in the JSON", { dark: { a: 1 }, ok: { a: 1, b: 1 } }, { dark: 1, ok: 1 }],
  ["empty buckets are left out", { ok: { a: 3 }, changed: {}, failures: {}, dark: {}, skipped: {} }, { ok: 1 }],
  ["missing buckets and other keys are ignored", { processed: { a: 1 }, ignored: { b: 1 }, rescued: { c: 1 } }, {}],
  ["a host with a zero count is still named", { ok: { a: 0 }, failures: { b: 0 } }, { ok: 1, failures: 1 }],
  ["no buckets at all", {}, {}],
  ["a bucket given as a list of names", { ok: ["a", "b"], changed: ["b"] }, { ok: 1, changed: 1 }],
  ["non-object buckets are ignored", { ok: 5, changed: "a", failures: null }, {}],
])("%s", async (_, eventData, expected) => {
  expect(await countsFromEvent(eventData)).toEqual(expected);
});

test("EOF sets {} for the kinds whose wrapup it is", async () => {
  const id = await insertJob(db, { kind: "inventory_update", status: "running" });
  await db.query(`insert into notifier.job_events (job_id, event, event_data) values ($1, 'EOF', '{"ok": {"a": 1}}')`, [id]);
  const { rows } = await db.query("select host_status_counts from notifier.jobs where id = $1", [id]);
  expect(rows[0].host_status_counts).toEqual({});
});

test("bulk inserts of ordinary events leave the job alone", async () => {
  const id = await insertJob(db, { status: "running" });
  const before = (await db.query("select xmin::text from notifier.jobs where id = $1", [id])).rows[0].xmin;
  await db.query(
    `insert into notifier.job_events (job_id, counter, event, event_data)
     select $1, n, 'runner_on_ok', '{"host": "h"}' from generate_series(1, 500) n`,
    [id],
  );
  const after = (await db.query("select xmin::text, host_status_counts from notifier.jobs where id = $1", [id])).rows[0];
  expect(after).toEqual({ xmin: before, host_status_counts: null });
});
