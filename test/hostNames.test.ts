import type pg from "pg";
import { beforeAll, expect, test } from "vitest";
import { HOST_NAMES_PER_BUCKET } from "../src/job.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { insertJob, saveStatsEvent } from "./helpers/jobs.js";

// The wrapup's playbook_on_stats also records the host names of each bucket (notifier.jobs
// .host_names), each host in the one bucket host_status_counts counts it in, bounded per bucket;
// host_status_counts itself is unchanged (test/hostStatusCounts.test.ts).

let db: pg.Client;
beforeAll(async () => {
  db = await connect(await createTestDatabase());
});

async function afterStats(eventData: unknown): Promise<{ host_names: unknown; host_status_counts: unknown }> {
  const id = await insertJob(db, { status: "running" });
  await saveStatsEvent(db, id, eventData);
  const { rows } = await db.query("select host_names, host_status_counts from notifier.jobs where id = $1", [id]);
  return rows[0];
}

test.each([
  ["REFERENCE.md's example", { ok: { h1: 1, h2: 1 }, changed: { h2: 1 }, failures: { h3: 1 }, skipped: { h4: 1 } },
    { skipped: ["h4"], ok: ["h1"], changed: ["h2"], failures: ["h3"] }],
  ["a host in every bucket is named once, as dark", { skipped: { a: 1 }, ok: { a: 1 }, failures: { a: 1 }, dark: { a: 1 } }, { dark: ["a"] }],
  ["names are sorted", { failures: { web3: 1, db1: 1, "web-1": 1 } }, { failures: ["db1", "web-1", "web3"] }],
  ["a bucket given as a list of names", { ok: ["a", "b"], changed: ["b"] }, { ok: ["a"], changed: ["b"] }],
  ["no hosts", { processed: { a: 1 } }, {}],
])("%s", async (_, eventData, expected) => {
  expect((await afterStats(eventData)).host_names).toEqual(expected);
});

test(`at most ${HOST_NAMES_PER_BUCKET} names per bucket; the counts still count every host`, async () => {
  const failures = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`host${String(i).padStart(3, "0")}`, 1]));
  const { host_names, host_status_counts } = await afterStats({ failures, ok: { other: 1 } });
  const names = (host_names as { failures: string[] }).failures;
  expect(names).toHaveLength(HOST_NAMES_PER_BUCKET);
  expect(names[0]).toBe("host000");
  expect(names.at(-1)).toBe("host099");
  expect(host_status_counts).toEqual({ failures: 250, ok: 1 });
});

test("an EOF wrapup records counts and no names", async () => {
  const id = await insertJob(db, { kind: "system_job", status: "running" });
  await db.query(`insert into notifier.job_events (job_id, event, event_data) values ($1, 'EOF', '{"failures": {"a": 1}}')`, [id]);
  const { rows } = await db.query("select host_names, host_status_counts from notifier.jobs where id = $1", [id]);
  expect(rows[0]).toEqual({ host_names: null, host_status_counts: {} });
});

test("the final notification's snapshot carries the names", async () => {
  const { rows: [template] } = await db.query(
    `insert into notifier.notification_templates (name, notification_type, notification_configuration)
     values ('names', 'webhook', '{"url": "http://127.0.0.1:9/x"}') returning id`,
  );
  await db.query("insert into notifier.subscriptions (notification_template_id, trigger, job_template_id) values ($1, 'error', 77)", [template.id]);
  const id = await insertJob(db, { status: "running", job_template_id: 77, wrapup_dispatched: true });
  await db.query("update notifier.jobs set status = 'failed' where id = $1", [id]);
  await saveStatsEvent(db, id, { ok: { a: 1 }, failures: { b: 1 } });
  const { rows } = await db.query("select job_snapshot from notifier.notifications where job_id = $1", [id]);
  expect(rows.map((row) => row.job_snapshot.host_names)).toEqual([{ ok: ["a"], failures: ["b"] }]);
});

test("the trigger's one-pass counts equal notifier.host_status_counts_from_stats", async () => {
  const events = [
    { ok: { h1: 1, h2: 1 }, changed: { h2: 1 }, failures: { h3: 1 }, skipped: { h4: 1 } },
    { skipped: { a: 1 }, ok: { a: 1 }, changed: { a: 1 }, failures: { a: 1 }, dark: { a: 1 } },
    { ok: ["a", "b"], changed: ["b"], dark: { c: 0 } },
    { ok: 5, changed: "a", failures: null },
    {},
    { failures: Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`h${i}`, 1])) },
  ];
  for (const event of events) {
    const { rows } = await db.query(
      "select (notifier.host_buckets_from_stats($1::jsonb)).counts as one_pass, notifier.host_status_counts_from_stats($1::jsonb) as counts",
      [JSON.stringify(event)],
    );
    expect(rows[0].one_pass, JSON.stringify(event)).toEqual(rows[0].counts);
  }
});
