/**
 * The delivery service's figures, with the service run as real `bin/pg-job-notifier listen`
 * child processes against a fresh database, posting to the sink (its own process).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import pg from "pg";
import { freePort } from "../src/embedded.js";
import { PACKAGE_ROOT } from "../src/migrate.js";
import type { BenchChild } from "./child.js";
import { LATENCY_RATE_PER_S, latencyStats, steadyLoad, type LatencyResult } from "./latency.js";
import { adminQuery, printStatementStats, resetStatementStats } from "./database.js";
import { sinkSpan, type SinkSpan, type SinkStats } from "./sink.js";

const CLI = path.join(PACKAGE_ROOT, "bin", "pg-job-notifier");

/** One webhook template pointing at the sink, subscribed to `success` for every job. */
export async function subscribeSink(url: string, sinkUrl: string): Promise<void> {
  await adminQuery(url, `insert into notifier.notification_templates (name, notification_type, notification_configuration)
                         values ('sink', 'webhook', json_build_object('url', $1::text))`, [sinkUrl]);
  await adminQuery(url, `insert into notifier.subscriptions (notification_template_id, trigger) select id, 'success' from notifier.notification_templates`);
}

/**
 * A `listen` process with its log level at warn (a log line per send is not what is measured), or
 * at BENCH_SERVICE_LOG_LEVEL (`info`, the default of a real service, to see what its line per
 * sent row costs).
 */
export async function startService(url: string, concurrency: number): Promise<ChildProcess & { stopService(): Promise<void> }> {
  const port = await freePort();
  // `npm run bench -- --cpu-prof`: a V8 CPU profile of each service process (bench/profiles).
  const profile = process.argv.includes("--cpu-prof") ? ["--cpu-prof", `--cpu-prof-dir=${path.join(PACKAGE_ROOT, "bench", "profiles")}`] : [];
  const child = spawn(process.execPath, [...profile, CLI, "listen", "--concurrency", String(concurrency), "--http", `127.0.0.1:${port}`], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, DATABASE_URL: url, NOTIFIER_LOG_LEVEL: process.env.BENCH_SERVICE_LOG_LEVEL ?? "warn" },
    // At a chosen log level its lines are written (pino, synchronously) to /dev/null, not shown.
    stdio: ["ignore", process.env.BENCH_SERVICE_LOG_LEVEL ? "ignore" : "inherit", "inherit"],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited (${child.exitCode}) at start`);
    const healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then((response) => response.ok, () => false);
    if (healthy) break;
    if (Date.now() > deadline) throw new Error("the service did not become healthy within 60 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return Object.assign(child, {
    async stopService() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    },
  });
}

async function pendingCount(url: string): Promise<number> {
  return (await adminQuery(url, "select count(*)::int as n from notifier.notifications where status <> 'successful'")).rows[0].n;
}

/**
 * Latency: jobs finish at a steady rate, each through both conditions as a host writes them (the
 * runner's final status with wrapup_dispatched, then the callback receiver's playbook_on_stats
 * event — every other job in the other order). The clock starts when the second COMMIT (the
 * transaction that creates the row) is acknowledged at the client and stops when the sink has
 * the request carrying that row's Idempotency-Key.
 */
export async function measureLatency(url: string, sink: BenchChild, sinkUrl: string, seconds: number): Promise<LatencyResult> {
  await subscribeSink(url, sinkUrl);
  const firstId = (await adminQuery(
    url,
    `with inserted as (
       insert into notifier.jobs (status, name, wrapup_dispatched)
       select 'running', 'latency ' || g, true from generate_series(1, $1::int) g returning id)
     select min(id)::int as id from inserted`,
    [Math.round(seconds * LATENCY_RATE_PER_S)],
  )).rows[0].id as number;
  const service = await startService(url, 32);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let committedAt: Map<string, number>;
  try {
    await sink.call("reset", { record: true });
    await new Promise((resolve) => setTimeout(resolve, 500)); // let the service fall asleep
    const finish = { name: "finish", text: "update notifier.jobs set status = 'successful' where id = $1" };
    const wrapup = {
      name: "wrapup",
      text: `insert into notifier.job_events (job_id, event, event_data) values ($1, 'playbook_on_stats', '{"ok": {"web-01": 3}, "changed": {"web-02": 1}}')`,
    };
    const finishedBy = await steadyLoad(seconds, async (i) => {
      const jobId = firstId + i;
      const [first, second] = i % 2 === 0 ? [finish, wrapup] : [wrapup, finish];
      await client.query({ ...first, values: [jobId] });
      await client.query({ ...second, values: [jobId] });
      return String(jobId);
    });
    const stats = await sink.call<SinkStats>("waitFor", { count: finishedBy.size, timeoutMs: 60_000 });
    if (stats.count < finishedBy.size) throw new Error(`only ${stats.count} of ${finishedBy.size} notifications arrived within 60 s`);
    // The sink knows rows by Idempotency-Key (the notification id): key the commits the same way.
    const rows = (await client.query("select id::text as id, job_id::text as job from notifier.notifications order by job_id")).rows as Array<{ id: string; job: string }>;
    if (rows.length !== finishedBy.size) throw new Error(`${finishedBy.size} jobs finished but ${rows.length} notifications exist`);
    committedAt = new Map(rows.map((row) => [row.id, finishedBy.get(row.job)!]));
  } finally {
    await client.end();
    await service.stopService();
  }
  return latencyStats(committedAt, new Map(await sink.call<Array<[string, number]>>("arrivals")));
}

/**
 * Delivery rate from a backlog: `backlog` pending rows (finished jobs, one webhook each) exist
 * before any service runs; then `processes` service processes start together. The rate is
 * measured at the sink from the first request to the last, like the ceiling and
 * graphile-worker's; every row must then be recorded as successful.
 */
export async function measureDelivery(url: string, sink: BenchChild, sinkUrl: string, backlog: number, processes: number, concurrency: number): Promise<SinkSpan> {
  await subscribeSink(url, sinkUrl);
  await adminQuery(url, `insert into notifier.jobs (status, name, wrapup_dispatched)
                         select 'successful', 'backlog ' || g, false from generate_series(1, $1::int) g`, [backlog]);
  await adminQuery(url, "vacuum analyze");
  await sink.call("reset", { record: false });
  await resetStatementStats(url);
  const services = await Promise.all(Array.from({ length: processes }, () => startService(url, concurrency)));
  try {
    const stats = await sink.call<SinkStats>("waitFor", { count: backlog, timeoutMs: 120_000 });
    if (stats.count < backlog) throw new Error(`only ${stats.count} of ${backlog} rows delivered within 120 s`);
    const deadline = Date.now() + 30_000;
    while ((await pendingCount(url)) > 0) {
      if (Date.now() > deadline) throw new Error("rows delivered but not all recorded as successful within 30 s");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const duplicates = (await sink.call<SinkStats>("stats")).count - backlog;
    if (duplicates > 0) throw new Error(`${duplicates} rows were sent twice`);
    await printStatementStats(url, `delivery, ${processes} process(es)`);
    return sinkSpan(stats);
  } finally {
    await Promise.all(services.map((service) => service.stopService()));
  }
}
