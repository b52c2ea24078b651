import { spawn, type ChildProcess, type ChildProcessByStdio } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import type { Readable } from "node:stream";
import type pg from "pg";
import { afterAll } from "vitest";
import { freePort } from "../../src/embedded.js";
import { PACKAGE_ROOT } from "../../src/migrate.js";
import { eventually } from "./eventually.js";

const CLI = path.join(PACKAGE_ROOT, "bin", "pg-job-notifier");

/** Every process started by the calling test file, killed after it (so tests may start their own). */
const started = new Set<ChildProcess>();
afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

/** One JSON log line of the service (pino): level 30 info, 40 warn, 50 error. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** Settings for tests: short leases and delays, so recovery is seen within a test's patience. */
export const FAST_SETTINGS: Record<string, string> = {
  NOTIFIER_POLL_INTERVAL: "0.5",
  NOTIFIER_RETRY_DELAY: "0.2",
  NOTIFIER_SWEEP_INTERVAL: "0.5",
  NOTIFIER_SHUTDOWN_GRACE: "5",
};

export interface ServiceProcessOptions {
  databaseUrl: string;
  /** NOTIFIER_* variables on top of FAST_SETTINGS. */
  env?: Record<string, string>;
  args?: string[];
  /** Wait until GET /healthz answers 200 (default true). */
  waitUntilHealthy?: boolean;
}

/**
 * A real `bin/pg-job-notifier listen` process with --http on a free port, its JSON logs
 * collected. Killed (SIGKILL) after the test file if still running; may be started inside a test.
 */
export class ServiceProcess {
  readonly logs: LogLine[] = [];
  /** Everything it wrote, stdout and stderr, to search for leaked secrets. */
  output = "";
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess, readonly httpUrl: string) {
    let pending = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      this.output += chunk.toString();
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          // not a log line
        }
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = once(child, "exit").then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  }

  static async start(options: ServiceProcessOptions): Promise<ServiceProcess> {
    const port = await freePort();
    const child = spawn(CLI, ["listen", "--http", `127.0.0.1:${port}`, ...(options.args ?? [])], {
      cwd: PACKAGE_ROOT,
      env: { ...process.env, ...FAST_SETTINGS, ...options.env, DATABASE_URL: options.databaseUrl },
      stdio: ["ignore", "pipe", "pipe"],
    });
    started.add(child);
    const service = new ServiceProcess(child, `http://127.0.0.1:${port}`);
    if (options.waitUntilHealthy ?? true) await service.waitUntilHealthy();
    return service;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** GET /healthz status, or 0 when nothing answers. */
  async health(): Promise<number> {
    try {
      return (await fetch(`${this.httpUrl}/healthz`)).status;
    } catch {
      return 0;
    }
  }

  async waitUntilHealthy(timeoutMs = 30_000): Promise<void> {
    await this.waitFor(async () => (await this.health()) === 200, "GET /healthz to answer 200", timeoutMs);
  }

  async metrics(): Promise<string> {
    return (await fetch(`${this.httpUrl}/metrics`)).text();
  }

  /** Resolves with the first log line matching, waiting for it if needed. */
  async waitForLog(matches: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    let found: LogLine | undefined;
    await this.waitFor(() => (found = this.logs.find(matches)) !== undefined, "a matching log line", timeoutMs);
    return found!;
  }

  async waitForExit(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`the service did not exit within ${timeoutMs} ms\n${this.output}`)), timeoutMs).unref());
    return Promise.race([this.exited, timeout]);
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    this.child.kill(signal);
  }

  private async waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
    let exited = false;
    await eventually(async () => {
      if (await condition()) return true;
      // Stop waiting at once for a process that is gone (its output says why).
      exited = !this.running;
      return exited;
    }, { timeoutMs, what }).catch((error: Error) => {
      throw new Error(`${error.message}:\n${this.output}`);
    });
    if (exited) throw new Error(`the service exited (${this.child.exitCode ?? this.child.signalCode}) while waiting for ${what}:\n${this.output}`);
  }
}

/** What a finished process did: its exit code and everything it wrote. */
export interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Waits for a process spawned with piped stdout and stderr to exit, collecting what it writes. */
export async function exitOf(child: ChildProcessByStdio<null, Readable, Readable>): Promise<Exited> {
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const [code] = await once(child, "exit");
  return { code: code as number | null, stdout, stderr };
}

/** Runs the CLI to completion (for configuration errors and the like). */
export async function runCli(args: string[], env: Record<string, string | undefined>): Promise<Exited> {
  return exitOf(spawn(CLI, args, { cwd: PACKAGE_ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] }));
}

type Queryable = Pick<pg.ClientBase, "query">;

/**
 * A webhook template subscribed to `triggers` for the jobs of `jobTemplateId` (every job when
 * null, the default); returns its id. Scoping lets tests in one database keep their rows apart.
 */
export async function addWebhook(
  db: Queryable,
  name: string,
  configuration: Record<string, unknown>,
  options: { triggers?: string[]; messages?: unknown; jobTemplateId?: number | null } = {},
): Promise<number> {
  const { rows } = await db.query(
    `insert into notifier.notification_templates (name, notification_type, notification_configuration, messages)
     values ($1, 'webhook', $2, $3) returning id`,
    [name, JSON.stringify(configuration), options.messages === undefined ? null : JSON.stringify(options.messages)],
  );
  const id = Number(rows[0].id);
  for (const trigger of options.triggers ?? ["started", "success", "error"]) {
    await db.query("insert into notifier.subscriptions (notification_template_id, trigger, job_template_id) values ($1, $2, $3)", [
      id, trigger, options.jobTemplateId ?? null,
    ]);
  }
  return id;
}

/**
 * A job that starts running and then (unless finalStatus is "running") finishes without a
 * wrapup event, as a host writes it; returns its id.
 */
export async function runJob(db: Queryable, name: string, finalStatus = "successful", jobTemplateId: number | null = null): Promise<number> {
  const { rows } = await db.query(
    "insert into notifier.jobs (name, status, job_template_id) values ($1, 'running', $2) returning id",
    [name, jobTemplateId],
  );
  const id = Number(rows[0].id);
  if (finalStatus !== "running") await db.query("update notifier.jobs set status = $2 where id = $1", [id, finalStatus]);
  return id;
}

export interface DeliveredRow {
  id: number;
  job_id: number;
  trigger: string;
  status: string;
  attempts: number;
  error: string | null;
  subject: string | null;
  body: string | null;
  sent_at: Date | null;
}

export async function rowsOf(db: Queryable, where = "true", values: unknown[] = []): Promise<DeliveredRow[]> {
  const { rows } = await db.query(
    `select id::int, job_id::int, trigger, status, attempts, error, subject, body, sent_at
       from notifier.notifications where ${where} order by id`,
    values,
  );
  return rows;
}

/** Waits until no row is pending (or the deadline passes); returns every row. */
export async function waitUntilSettled(db: Queryable, timeoutMs = 60_000): Promise<DeliveredRow[]> {
  let last: DeliveredRow[] = [];
  return eventually(async () => {
    last = await rowsOf(db);
    return last.every((row) => row.status !== "pending") && last;
  }, { timeoutMs, intervalMs: 100, what: "every row to settle" }).catch(() => {
    throw new Error(`rows still pending: ${JSON.stringify(last.filter((row) => row.status === "pending"))}`);
  });
}
