/**
 * The burst (CONTRACT §7 `burst_latency_*`): BURST_WRITERS writers finish jobs as fast as they
 * can, each job through both conditions (its playbook_on_stats event, then its final status), one
 * notification per job (a template subscribed to the final trigger only). Latency runs from each
 * job's last COMMIT, acknowledged at its writer, to the sink receiving that job's request.
 * graphile-worker's side: the same writers, the same writes, plus one graphile_worker.add_job in
 * the transaction that writes the final status.
 */
import pg from "pg";
import type { BenchChild } from "./child.js";
import { monotonicMs } from "./child.js";
import { adminQuery } from "./database.js";
import { GRAPHILE_TASK, startGraphileWorker } from "./graphileWorker.js";
import { latencyStats, type LatencyResult } from "./latency.js";
import { startService, subscribeSink } from "./service.js";
import type { SinkStats } from "./sink.js";

/** Writers of the burst, as CONTRACT §7 says. */
export const BURST_WRITERS = 16;

const WRAPUP = `insert into notifier.job_events (job_id, event, event_data) values ($1, 'playbook_on_stats', '{"ok": {"web-01": 3}}')`;
const FINISH = "update notifier.jobs set status = 'successful' where id = $1";

/** Inserts `jobs` running jobs (wrapup dispatched, so both conditions are needed); returns the first id. */
async function runningJobs(url: string, jobs: number): Promise<number> {
  return (await adminQuery(url,
    `with inserted as (insert into notifier.jobs (status, name, wrapup_dispatched)
                       select 'running', 'burst ' || g, true from generate_series(1, $1::int) g returning id)
     select min(id)::int as id from inserted`, [jobs])).rows[0].id as number;
}

/**
 * The writers: job `first + i` is finished by writer i mod BURST_WRITERS, back to back — or, with
 * a `pace`, each job no sooner than pace[i] ms after the burst began. `finish` runs the final
 * status's transaction on the writer's client. Returns each job's last COMMIT time.
 */
async function burst(url: string, first: number, jobs: number, finish: (client: pg.Client, jobId: number) => Promise<void>,
                     pace?: readonly number[]): Promise<Map<number, number>> {
  const clients = await Promise.all(Array.from({ length: BURST_WRITERS }, async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  }));
  const committedAt = new Map<number, number>();
  const began = monotonicMs();
  try {
    await Promise.all(clients.map(async (client, writer) => {
      for (let i = writer; i < jobs; i += BURST_WRITERS) {
        const jobId = first + i;
        const wait = pace ? began + pace[i]! - monotonicMs() : 0;
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        await client.query({ name: "wrapup", text: WRAPUP, values: [jobId] });
        await finish(client, jobId);
        committedAt.set(jobId, monotonicMs());
      }
    }));
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
  return committedAt;
}

/**
 * The product's burst; with `pace` (another burst's commitTimes), its writers finish each job no
 * sooner than that burst did, so both sides see rows arrive at the same rate.
 */
export async function measureBurst(url: string, sink: BenchChild, sinkUrl: string, jobs: number, concurrency: number, pace?: readonly number[]): Promise<BurstResult> {
  await subscribeSink(url, sinkUrl);
  const first = await runningJobs(url, jobs);
  await adminQuery(url, "vacuum analyze");
  const service = await startService(url, concurrency);
  let committedAt: Map<number, number>;
  try {
    await sink.call("reset", { record: true });
    await new Promise((resolve) => setTimeout(resolve, 500)); // let the service fall asleep
    committedAt = await burst(url, first, jobs, async (client, jobId) => {
      await client.query({ name: "finish", text: FINISH, values: [jobId] });
    }, pace);
    const stats = await sink.call<SinkStats>("waitFor", { count: jobs, timeoutMs: 60_000 });
    if (stats.count < jobs) throw new Error(`only ${stats.count} of ${jobs} notifications arrived within 60 s`);
  } finally {
    await service.stopService();
  }
  // The sink knows rows by Idempotency-Key (the notification id): key the commits the same way.
  const rows = (await adminQuery(url, "select id::text as id, job_id::int as job from notifier.notifications order by job_id")).rows as Array<{ id: string; job: number }>;
  if (rows.length !== jobs) throw new Error(`${jobs} jobs finished but ${rows.length} notifications exist`);
  const byKey = new Map(rows.map((row) => [row.id, committedAt.get(row.job)!]));
  return burstResult(byKey, committedAt, first, await sink.call<Array<[string, number]>>("arrivals"));
}

/**
 * A burst's latency, and how long its writers took from the first COMMIT to the last: the rate
 * rows arrived at, which sets how long a queue builds up (the product's writers, with one
 * statement per transaction and no NOTIFY while the service is awake, finish sooner than
 * graphile-worker's, which add a job and NOTIFY in each).
 */
export interface BurstResult extends LatencyResult {
  commitSpanMs: number;
  /** Each job's COMMIT, in ms after the first, by job index: the pace of a burst that follows this one. */
  commitTimes: number[];
}

function burstResult(byKey: Map<string, number>, committedAt: Map<number, number>, first: number, arrivals: Array<[string, number]>): BurstResult {
  const start = Math.min(...committedAt.values());
  const commitTimes: number[] = [];
  for (const [jobId, at] of committedAt) commitTimes[jobId - first] = at - start;
  return { ...latencyStats(byKey, new Map(arrivals), 0), commitSpanMs: Math.max(...commitTimes), commitTimes };
}

export async function measureGraphileBurst(url: string, sink: BenchChild, sinkUrl: string, body: string, jobs: number, concurrency: number): Promise<BurstResult> {
  const first = await runningJobs(url, jobs);
  const worker = await startGraphileWorker(url, concurrency);
  let committedAt: Map<number, number>;
  try {
    await sink.call("reset", { record: true });
    await new Promise((resolve) => setTimeout(resolve, 500)); // let it fall idle
    committedAt = await burst(url, first, jobs, async (client, jobId) => {
      await client.query("begin");
      await client.query({ name: "finish", text: FINISH, values: [jobId] });
      await client.query({
        name: "add_job",
        text: "select graphile_worker.add_job($1, json_build_object('url', $2::text, 'body', $3::text, 'key', $4::text))",
        values: [GRAPHILE_TASK, sinkUrl, body, `gw-${jobId}`],
      });
      await client.query("commit");
    });
    const stats = await sink.call<SinkStats>("waitFor", { count: jobs, timeoutMs: 60_000 });
    if (stats.count < jobs) throw new Error(`only ${stats.count} of ${jobs} jobs ran within 60 s`);
    await worker.call("stop");
  } finally {
    await worker.stop();
  }
  const byKey = new Map([...committedAt].map(([jobId, at]) => [`gw-${jobId}`, at]));
  return burstResult(byKey, committedAt, first, await sink.call<Array<[string, number]>>("arrivals"));
}
