import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { APPLICATION_NAMES, connectionConfig } from "./databaseUrl.js";
import { writeOut } from "./terminal.js";
import { DEFAULT_REFRESH_SECONDS } from "./web/page.js";

/** Settings of `start --demo`. */
export interface DemoOptions {
  /** The database the service delivers from (already migrated). */
  databaseUrl: string;
  /** Where the demo writes its lines (the receiver's and the job writers'). */
  print?: (line: string) => void;
  /** How many jobs to play before going quiet (the service and receiver keep running). */
  jobs?: number;
  /** Pause between two jobs, in milliseconds. */
  pauseMs?: number;
  /** The web view's address, to point the newcomer at it. */
  webViewUrl?: string;
}

export const DEMO_TEMPLATE_NAME = "demo receiver";
export const DEFAULT_DEMO_JOBS = 40;
export const DEFAULT_DEMO_PAUSE_MS = 1_500;

export interface Demo {
  /** The built-in receiver's URL (loopback). */
  receiverUrl: string;
  /** Stops playing jobs, closes the writers' connections and the receiver. */
  stop(): Promise<void>;
}

/**
 * `start --demo`: a built-in webhook receiver on loopback that prints one line per notification,
 * a template posting to it subscribed to started/success/error, and a stream of jobs written the
 * way a job runner and a callback receiver write them — on two connections that race, in random
 * order, sometimes at the same instant, some runs emitting no wrapup event, some failing.
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const print = options.print ?? ((line: string) => writeOut(`${line}\n`));
  const receiver = await startReceiver(print);
  const statusWriter = new pg.Client(await connectionConfig(options.databaseUrl, APPLICATION_NAMES.demoStatusWriter));
  const wrapupWriter = new pg.Client(await connectionConfig(options.databaseUrl, APPLICATION_NAMES.demoWrapupWriter));
  const stopping = new AbortController();
  // Ctrl-C in a terminal also reaches an embedded PostgreSQL, which may close these connections
  // before stop() is called: stop playing, quietly.
  for (const writer of [statusWriter, wrapupWriter]) writer.on("error", () => stopping.abort());
  try {
    await statusWriter.connect();
    await wrapupWriter.connect();
    await seedTemplate(statusWriter, receiver.url);
  } catch (error) {
    await Promise.allSettled([statusWriter.end(), wrapupWriter.end(), receiver.close()]);
    throw error;
  }
  print(`demo: template '${DEMO_TEMPLATE_NAME}' posts to the built-in receiver at ${receiver.url}`);
  if (options.webViewUrl) print(`demo: watch the notifications in the web view at ${options.webViewUrl}/?refresh=${DEFAULT_REFRESH_SECONDS}`);

  const playing = playJobs({
    statusWriter,
    wrapupWriter,
    print,
    jobs: options.jobs ?? DEFAULT_DEMO_JOBS,
    pauseMs: options.pauseMs ?? DEFAULT_DEMO_PAUSE_MS,
    signal: stopping.signal,
  }).catch((error: Error) => {
    if (!stopping.signal.aborted) print(`demo: the job writers stopped: ${error.message}`);
  });

  return {
    receiverUrl: receiver.url,
    async stop() {
      stopping.abort();
      await playing;
      await Promise.allSettled([statusWriter.end(), wrapupWriter.end()]);
      await receiver.close();
    },
  };
}

/** Creates (or points at the receiver again) the demo template and its three subscriptions. */
async function seedTemplate(client: pg.Client, url: string): Promise<void> {
  await client.query("begin");
  try {
    const { rows } = await client.query<{ id: string }>(
      `insert into notifier.notification_templates (name, notification_type, notification_configuration)
       values ($1, 'webhook', jsonb_build_object('url', $2::text, 'timeout', 5))
       on conflict (name) where removed_at is null do update set notification_configuration = excluded.notification_configuration
       returning id`,
      [DEMO_TEMPLATE_NAME, url],
    );
    await client.query(
      `insert into notifier.subscriptions (notification_template_id, trigger)
       select $1, t from unnest(array['started', 'success', 'error']) t
        where not exists (select 1 from notifier.subscriptions s
                           where s.notification_template_id = $1 and s.trigger = t
                             and s.job_template_id is null and s.organization_id is null)`,
      [rows[0]!.id],
    );
    await client.query("commit");
  } catch (error) {
    await client.query("rollback");
    throw error;
  }
}

const JOB_NAMES = [
  "Deploy web tier", "Patch database hosts", "Rotate TLS certificates", "Back up switch configs",
  "Sync cloud inventory", "Restart queue workers", "Harden SSH", "Update DNS records",
];

/** How the two writers meet at the end of a job. */
type Race = "status first" | "wrapup first" | "same instant" | "no wrapup dispatched";

interface PlayOptions {
  statusWriter: pg.Client;
  wrapupWriter: pg.Client;
  print: (line: string) => void;
  jobs: number;
  pauseMs: number;
  signal: AbortSignal;
}

async function playJobs(options: PlayOptions): Promise<void> {
  const { statusWriter, wrapupWriter, print, signal } = options;
  for (let played = 0; played < options.jobs && !signal.aborted; played += 1) {
    const name = JOB_NAMES[played % JOB_NAMES.length]!;
    const { rows } = await statusWriter.query<{ id: string }>(
      "insert into notifier.jobs (name, status) values ($1, 'pending') returning id",
      [name],
    );
    const jobId = rows[0]!.id;
    await statusWriter.query("update notifier.jobs set status = 'running' where id = $1", [jobId]);
    await sleep(200 + Math.random() * 600, undefined, { signal }).catch(() => {});
    if (signal.aborted) return;

    const finalStatus = pick(["successful", "successful", "successful", "failed", "failed", "canceled"]);
    const race: Race = pick(["status first", "wrapup first", "same instant", "same instant", "no wrapup dispatched"]);
    print(`demo: job #${jobId} '${name}' ends ${finalStatus}; writers: ${race}`);
    const writeStatus = () =>
      statusWriter.query("update notifier.jobs set status = $2, wrapup_dispatched = $3 where id = $1", [
        jobId, finalStatus, race !== "no wrapup dispatched",
      ]);
    const writeWrapup = () =>
      wrapupWriter.query(
        "insert into notifier.job_events (job_id, counter, event, event_data) values ($1, 99, 'playbook_on_stats', $2)",
        [jobId, statsFor(finalStatus)],
      );
    const gap = () => sleep(Math.random() * 150);
    if (race === "no wrapup dispatched") await writeStatus();
    else if (race === "status first") await Promise.all([writeStatus(), gap().then(writeWrapup)]);
    else if (race === "wrapup first") await Promise.all([writeWrapup(), gap().then(writeStatus)]);
    else await Promise.all([writeStatus(), writeWrapup()]);

    await sleep(options.pauseMs, undefined, { signal }).catch(() => {});
  }
  if (!signal.aborted) print(`demo: played ${options.jobs} jobs; the service and the web view keep running (Ctrl-C stops)`);
}

/** A playbook_on_stats payload: two web hosts, one of them changed, one failing on failure. */
function statsFor(status: string): Record<string, Record<string, number>> {
  const stats: Record<string, Record<string, number>> = { ok: { web1: 3, web2: 2 }, changed: { web2: 1 } };
  if (status !== "successful") stats.failures = { db1: 1 };
  return stats;
}

function pick<T>(choices: readonly T[]): T {
  return choices[Math.floor(Math.random() * choices.length)]!;
}

interface Receiver {
  url: string;
  close(): Promise<void>;
}

/** The built-in webhook receiver: answers 200 and prints each notification on one line. */
async function startReceiver(print: (line: string) => void): Promise<Receiver> {
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      print(`receiver: ${describe(Buffer.concat(chunks).toString("utf8"), request.headers["idempotency-key"])}`);
      response.writeHead(200, { "content-type": "text/plain" });
      response.end("ok");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/demo`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One line for one webhook body: job, trigger (from the status it describes), hosts. */
function describe(body: string, idempotencyKey: string | string[] | undefined): string {
  let job: { id?: unknown; name?: unknown; status?: unknown; host_status_counts?: unknown };
  try {
    job = JSON.parse(body) as typeof job;
  } catch {
    return `(not JSON) ${body.slice(0, 100)}`;
  }
  const trigger = job.status === "running" ? "started" : job.status === "successful" ? "success" : "error";
  const hosts = job.host_status_counts && typeof job.host_status_counts === "object"
    ? ` hosts ${Object.entries(job.host_status_counts).map(([bucket, count]) => `${bucket}=${count}`).join(" ") || "none"}`
    : "";
  return `job #${job.id} ${trigger} '${job.name}' (${job.status}${hosts}) notification ${idempotencyKey ?? "?"}`;
}
