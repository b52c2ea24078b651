/**
 * Where the benchmark runs: the server of DATABASE_URL, or an embedded PostgreSQL of its own in
 * a temporary folder, with PostgreSQL's durable defaults (fsync and synchronous_commit on: the
 * cost of a commit is part of what is measured). Every phase gets a fresh database cloned from
 * one migrated template, and everything is dropped at the end.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { parseDatabaseUrl, urlForDatabase } from "../src/databaseUrl.js";
import { startEmbeddedPostgres } from "../src/embedded.js";
import { runMigrations } from "../src/migrate.js";

/** `--pg-stat-statements`: print the costliest statements of each service phase (embedded server only). */
export const STATEMENT_STATS = process.argv.includes("--pg-stat-statements");

export interface BenchServer {
  /** A superuser (or CREATEDB) connection string on the server. */
  adminUrl: string;
  embedded: boolean;
  /** A fresh, migrated database for one phase; dropped by close(). */
  createDatabase(phase: string): Promise<string>;
  close(): Promise<void>;
}

export async function openBenchServer(): Promise<BenchServer> {
  let adminUrl: string;
  let stopServer = async () => {};
  const givenUrl = process.env.DATABASE_URL;
  if (givenUrl) {
    adminUrl = parseDatabaseUrl(givenUrl);
  } else {
    const folder = await mkdtemp(path.join(os.tmpdir(), "pg-job-notifier-bench-"));
    // Only the connection limit differs from the defaults: 16 writers, service pools and
    // graphile-worker may be connected at once.
    const server = await startEmbeddedPostgres({
      dataDir: path.join(folder, "data"),
      persistent: false,
      settings: { max_connections: 300, ...(STATEMENT_STATS ? { shared_preload_libraries: "pg_stat_statements" } : {}) },
    });
    adminUrl = server.url;
    stopServer = async () => {
      await server.stop();
      await rm(folder, { recursive: true, force: true });
    };
  }

  const prefix = `notifier_bench_${process.pid}`;
  const template = `${prefix}_template`;
  const created: string[] = [];
  let templateReady: Promise<void> | undefined;
  return {
    adminUrl,
    embedded: !givenUrl,
    async createDatabase(phase) {
      templateReady ??= (async () => {
        await adminQuery(adminUrl, `create database ${template}`);
        created.push(template);
        await runMigrations(urlForDatabase(adminUrl, template));
        if (STATEMENT_STATS) await adminQuery(urlForDatabase(adminUrl, template), "create extension pg_stat_statements");
      })();
      await templateReady;
      const name = `${prefix}_${phase}`;
      await adminQuery(adminUrl, `create database ${name} template ${template}`);
      created.push(name);
      return urlForDatabase(adminUrl, name);
    },
    async close() {
      for (const name of created.reverse()) await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
      await stopServer();
    },
  };
}

export async function adminQuery(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

/**
 * Schema `bare`: the host tables exactly as the product defines them (columns, defaults, checks,
 * identity, indexes, foreign keys: job_events and notifications have none to jobs since migration
 * 30) but without its triggers — the baseline of the write ratios.
 */
export async function createBareTables(url: string): Promise<void> {
  await adminQuery(
    url,
    `create schema bare;
     create table bare.jobs (like notifier.jobs including all);
     create table bare.job_events (like notifier.job_events including all);
     -- The outbox without the protocol: what recording a notification costs by itself.
     create table bare.notifications (like notifier.notifications including all);
     alter table bare.notifications
       add foreign key (notification_template_id) references notifier.notification_templates (id) on delete cascade;`,
  );
}

/** The machine and server the figures come from. */
export async function describeMachine(url: string): Promise<Record<string, unknown>> {
  const settings = await adminQuery(
    url,
    `select current_setting('server_version') as version, current_setting('fsync') as fsync,
            current_setting('synchronous_commit') as synchronous_commit,
            current_setting('shared_buffers') as shared_buffers`,
  );
  const row = settings.rows[0] as Record<string, string>;
  return {
    cores: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? "unknown",
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgresql_version: row.version,
    fsync: row.fsync,
    synchronous_commit: row.synchronous_commit,
    shared_buffers: row.shared_buffers,
  };
}

/** With --pg-stat-statements: forgets what was recorded so far (call before a phase). */
export async function resetStatementStats(url: string): Promise<void> {
  if (STATEMENT_STATS) await adminQuery(url, "select pg_stat_statements_reset()");
}

/** With --pg-stat-statements: prints the statements that took the most time in `url`'s database. */
export async function printStatementStats(url: string, title: string): Promise<void> {
  if (!STATEMENT_STATS) return;
  const { rows } = await adminQuery(
    url,
    `select calls, round(total_exec_time)::int as total_ms, round(mean_exec_time::numeric, 3) as mean_ms, rows,
            regexp_replace(left(query, 110), '\\s+', ' ', 'g') as query
       from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
      order by total_exec_time desc limit 12`,
  );
  process.stderr.write(`\n${title}: top statements by total time\n`);
  for (const row of rows) process.stderr.write(`${String(row.total_ms).padStart(7)} ms ${String(row.calls).padStart(7)} calls ${String(row.mean_ms).padStart(8)} ms/call ${String(row.rows).padStart(7)} rows  ${row.query}\n`);
}
