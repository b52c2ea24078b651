/**
 * The peer: graphile-worker 0.17.3 in its fastest documented configuration — a local queue of
 * concurrency + 1 jobs and batched completion with no delay — running a task that does the same
 * POST, to the same sink, as the delivery service. Run as a child process (see child.ts); the
 * parent pre-inserts the jobs (see enqueueGraphileJobs) and measures the rate at the sink.
 */
import { request, Agent } from "undici";
import { Logger, run, runMigrations, type Runner } from "graphile-worker";
import pg from "pg";
import { BenchChild, serveParent } from "./child.js";
import { latencyStats, steadyLoad, type LatencyResult } from "./latency.js";
import type { SinkStats } from "./sink.js";

/** Only graphile-worker's errors are shown: its per-job info lines would cost it time. */
const silentLogger = new Logger(() => (level, message) => {
  if (level === "error") process.stderr.write(`graphile-worker: ${message}\n`);
});

/** The task name the backlog uses. */
export const GRAPHILE_TASK = "post_webhook";

/** Installs graphile-worker (schema graphile_worker) and inserts `count` jobs in one statement. */
export async function enqueueGraphileJobs(connectionString: string, count: number, url: string, body: string): Promise<void> {
  await runMigrations({ connectionString, logger: silentLogger });
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(
      `select graphile_worker.add_jobs(array(
         select row($1, json_build_object('url', $2::text, 'body', $3::text, 'key', g::text),
                    null, null, null, null, null, null)::graphile_worker.job_spec
           from generate_series(1, $4::int) g))`,
      [GRAPHILE_TASK, url, body, count],
    );
  } finally {
    await client.end();
  }
}

/** Installs graphile-worker in the database and starts it in a child process, idle. */
export async function startGraphileWorker(connectionString: string, concurrency: number): Promise<BenchChild> {
  await runMigrations({ connectionString, logger: silentLogger });
  const worker = await BenchChild.start("graphileWorker");
  try {
    await worker.call("start", { connectionString, concurrency });
  } catch (error) {
    await worker.stop();
    throw error;
  }
  return worker;
}

/**
 * graphile-worker's latency, measured like the service's: jobs added at a steady rate (each
 * add_job its own transaction; graphile-worker NOTIFYs on insert), from the COMMIT
 * acknowledgement to the sink receiving the task's POST.
 */
export async function measureGraphileLatency(connectionString: string, sink: BenchChild, sinkUrl: string, body: string, seconds: number, concurrency: number): Promise<LatencyResult> {
  const worker = await startGraphileWorker(connectionString, concurrency);
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await sink.call("reset", { record: true });
    await new Promise((resolve) => setTimeout(resolve, 500)); // let it fall idle
    const committedAt = await steadyLoad(seconds, async (i) => {
      const key = `gw-${i}`;
      await client.query({
        name: "add_job",
        text: "select graphile_worker.add_job($1, json_build_object('url', $2::text, 'body', $3::text, 'key', $4::text))",
        values: [GRAPHILE_TASK, sinkUrl, body, key],
      });
      return key;
    });
    const stats = await sink.call<SinkStats>("waitFor", { count: committedAt.size, timeoutMs: 60_000 });
    if (stats.count < committedAt.size) throw new Error(`only ${stats.count} of ${committedAt.size} jobs ran within 60 s`);
    await worker.call("stop");
    return latencyStats(committedAt, new Map(await sink.call<Array<[string, number]>>("arrivals")));
  } finally {
    await client.end();
    await worker.stop();
  }
}

if (process.send) {
  let runner: Runner | undefined;
  serveParent({
    start: async ({ connectionString, concurrency }) => {
      const dispatcher = new Agent({ keepAliveTimeout: 60_000 });
      runner = await run({
        connectionString: connectionString as string,
        concurrency: concurrency as number,
        noHandleSignals: true,
        pollInterval: 1000,
        logger: silentLogger,
        taskList: {
          [GRAPHILE_TASK]: async (payload) => {
            const { url, body, key } = payload as { url: string; body: string; key: string };
            const response = await request(url, {
              method: "POST",
              body,
              headers: { "content-type": "application/json", "idempotency-key": key },
              dispatcher,
            });
            await response.body.dump();
            if (response.statusCode !== 200) throw new Error(`sink answered ${response.statusCode}`);
          },
        },
        preset: {
          worker: {
            localQueue: { size: (concurrency as number) + 1 },
            completeJobBatchDelay: 0,
          },
        },
      });
      return true;
    },
    stop: async () => {
      await runner?.stop();
      return true;
    },
  });
}
