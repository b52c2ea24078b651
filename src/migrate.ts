import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";
import JSON5 from "json5";
import pg from "pg";
import { Logger } from "@graphile/logger";
import { migrate, type Settings } from "graphile-migrate";
import { APPLICATION_NAMES, connectionConfig, connectionString as driverConnectionString } from "./databaseUrl.js";
import { OperationError, sqlState } from "./errors.js";
import { foreignLedgerMessage, forgetOurMigrations, inspectLedger, readCommittedMigrations } from "./ledger.js";
import { lockHolders, oldestSnapshotHolder } from "./lockHolders.js";
import { writeErr } from "./terminal.js";

/** The repository (or installed package) root, where `.gmrc` and `migrations/` live. */
export const PACKAGE_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** `.gmrc` as written. */
async function readGmrc(): Promise<Settings> {
  return JSON5.parse(await readFile(path.join(PACKAGE_ROOT, ".gmrc"), "utf8")) as Settings;
}

/** Reads `.gmrc` and anchors its folders to the package, so the CLI works from any directory. */
async function loadSettings(connectionString: string): Promise<Settings> {
  const settings = await readGmrc();
  return {
    ...settings,
    placeholders: withRoleDefaults(settings.placeholders),
    // graphile-migrate takes a string only: the TLS settings every other connection gets, as parameters.
    connectionString: await driverConnectionString(connectionString, APPLICATION_NAMES.migrate),
    migrationsFolder: await migrationsFolder(settings),
    logger: quietLogger,
  };
}

/**
 * The migrations folder `.gmrc` names, anchored to the package. Reads no connection string: the
 * TLS of one is settled by connecting (sslmode prefer), which a folder name must not need.
 */
export async function migrationsFolder(settings?: Settings): Promise<string> {
  return path.resolve(PACKAGE_ROOT, (settings ?? await readGmrc()).migrationsFolder ?? "migrations");
}

/**
 * The roles' names when their environment variables are unset: the least-privilege roles
 * (migration 000008) and the NOLOGIN owner of the SECURITY DEFINER functions (migration 000013).
 */
export const DEFAULT_ROLE_NAMES: Record<string, string> = {
  ":NOTIFIER_HOST_ROLE": "notifier_host",
  ":NOTIFIER_SERVICE_ROLE": "notifier_service",
  ":NOTIFIER_READONLY_ROLE": "notifier_readonly",
  ":NOTIFIER_OWNER_ROLE": "notifier_owner",
};

/** The group roles' names (their environment variables, or the defaults). */
export function roleNames(): string[] {
  return Object.keys(DEFAULT_ROLE_NAMES).map((key) => process.env[key.slice(1)] || DEFAULT_ROLE_NAMES[key]!);
}

/**
 * `.gmrc` reads the role placeholders from the environment ("!ENV"), which graphile-migrate
 * refuses when the variable is unset; resolving them here with the defaults above lets
 * `pg-job-notifier migrate` run with nothing but DATABASE_URL.
 */
function withRoleDefaults(placeholders: Settings["placeholders"] = {}): Settings["placeholders"] {
  return Object.fromEntries(
    Object.entries(placeholders).map(([key, value]) => [
      key,
      value === "!ENV" && key in DEFAULT_ROLE_NAMES ? process.env[key.slice(1)] || DEFAULT_ROLE_NAMES[key]! : value,
    ]),
  );
}

/** graphile-migrate announces every migration it runs; only its warnings and errors are shown. */
const quietLogger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") writeErr(`${message}\n`);
  const running = /Running migration '([^']+)'/.exec(message);
  if (running) currentMigrationFile = running[1]!;
});

/** The file graphile-migrate is running, so a lock timeout can name it. */
let currentMigrationFile: string | null = null;

/**
 * graphile-migrate keeps its connection pool open for 200 ms after use, and exits the whole
 * process (code 1) if that idle pool sees an error, such as the server shutting down. Its
 * internal clearAllPools() (not part of the public API, pinned with the 1.4 version) closes it now.
 */
const { clearAllPools } = createRequire(import.meta.url)("graphile-migrate/dist/pgReal.js") as { clearAllPools(): void };

/** NOTIFIER_LOCK_TIMEOUT's default: how long one migration statement may wait for a lock. */
export const DEFAULT_LOCK_TIMEOUT_SECONDS = 5;
/** --retry-wait's default: seconds between attempts after a lock timeout. */
export const DEFAULT_RETRY_WAIT_SECONDS = 10;

/** SQLSTATE lock_not_available: a statement gave up waiting at lock_timeout. */
export const LOCK_NOT_AVAILABLE = "55P03";
/** graphile-migrate's message when another `migrate` holds its advisory lock. */
const MIGRATE_LOCK_BUSY = "Failed to get exclusive lock";
const ANOTHER_MIGRATE = "another migrate is running on this database (graphile-migrate's advisory lock is taken)";

export interface MigrateOptions {
  /**
   * Seconds any statement of any migration may wait for a lock (the session's lock_timeout, so
   * committed migrations get it too). A DDL statement queued behind a long reader would make every
   * host write on that table queue behind it; failing fast lets the writes through.
   */
  lockTimeoutSeconds?: number;
  /** How many times to try again after a lock timeout (default 0). */
  retries?: number;
  retryWaitSeconds?: number;
  /** Where one-line notes go (a reinstall, a retry); default stderr. */
  say?: (line: string) => void;
  /** Another folder of committed migrations (tests that install an older release first). */
  migrationsFolder?: string;
}

/** What `migrate` did. */
export type MigrateOutcome = "applied" | "up to date";

/**
 * Applies every committed migration to the database; a no-op (reading the ledger only, no DDL
 * rights needed) when it is up to date. Refuses a ledger that holds someone else's migrations;
 * reinstalls when schema notifier is gone but the ledger still lists it. A lock timeout is an
 * OperationError of one line naming the migration and the busy table; with `retries` it is tried
 * again (applied migrations are recorded, so a retry resumes where the last attempt stopped).
 */
export async function runMigrations(connectionString: string, options: MigrateOptions = {}): Promise<MigrateOutcome> {
  const say = options.say ?? ((line: string) => writeErr(`${line}\n`));
  const retries = options.retries ?? 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await migrateOnce(connectionString, options, say);
    } catch (error) {
      if (!(error instanceof LockBusyError) || attempt >= retries) throw error;
      const wait = options.retryWaitSeconds ?? DEFAULT_RETRY_WAIT_SECONDS;
      say(`${error.message}; trying again in ${wait}s (${attempt + 1} of ${retries} retries)`);
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    }
  }
}

/** A migration gave up waiting for a lock, or another `migrate` was running: worth trying again. */
export class LockBusyError extends OperationError {
  override name = "LockBusyError";
}

async function migrateOnce(connectionString: string, options: MigrateOptions, say: (line: string) => void): Promise<MigrateOutcome> {
  const lockTimeoutSeconds = options.lockTimeoutSeconds ?? DEFAULT_LOCK_TIMEOUT_SECONDS;
  const loaded = await loadSettings(connectionString);
  const settings = { ...loaded, migrationsFolder: options.migrationsFolder ?? loaded.migrationsFolder };
  const committed = await readCommittedMigrations(settings.migrationsFolder!);
  const lockTimeout = `${Math.round(lockTimeoutSeconds * 1000)}ms`;
  const ledgerExists = await withClient(connectionString, lockTimeout, async (client) => {
    const ledger = await inspectLedger(client, committed);
    if (ledger.foreign.length > 0) throw new OperationError(foreignLedgerMessage(ledger.foreign));
    if (ledger.ours.length > 0 && !ledger.schemaPresent) {
      const forgotten = await forgetOurMigrations(client, committed);
      say(`schema notifier is gone but graphile_migrate.migrations still listed ${forgotten} of its migrations: forgot them, installing again`);
    } else if (ledger.schemaPresent && ledger.ours.length === committed.length) {
      return null; // up to date: nothing for graphile-migrate to do, and no DDL rights needed
    } else if (ledger.schemaPresent && ledger.ours.length === 0) {
      throw new OperationError(
        "schema notifier exists but graphile_migrate.migrations lists none of pg-job-notifier's migrations " +
          "(a schema of that name made by something else, or a ledger emptied by hand); nothing was changed",
      );
    }
    await dropInvalidIndexes(client, say);
    return ledger.exists;
  });
  if (ledgerExists === null) return "up to date";

  currentMigrationFile = null;
  try {
    await migrate({
      ...settings,
      // Session settings of graphile-migrate's connection: every migration, old or new, runs under them.
      pgSettings: { lock_timeout: lockTimeout },
      // The ledger exists: graphile-migrate need not run its CREATE SCHEMA IF NOT EXISTS (which
      // needs CREATE on the database even when the schema is there); it checks the tables instead.
      manageGraphileMigrateSchema: !ledgerExists,
    });
    return "applied";
  } catch (error) {
    if (error instanceof Error && error.message === MIGRATE_LOCK_BUSY) {
      throw new LockBusyError(ANOTHER_MIGRATE);
    }
    if (sqlState(error) === LOCK_NOT_AVAILABLE) {
      const file = currentMigrationFile;
      const busy = file ? await describeWait(connectionString, path.join(settings.migrationsFolder!, "committed", file)) : null;
      throw new LockBusyError(
        `lock timeout (${lockTimeoutSeconds}s NOTIFIER_LOCK_TIMEOUT): ${file ?? "a migration"} ` +
          `${busy ?? "could not lock a table it changes; nothing of it was applied"}`,
      );
    }
    throw error;
  } finally {
    clearAllPools();
  }
}

/**
 * A `CREATE INDEX CONCURRENTLY` that failed (a lock timeout while it waited for older
 * transactions, a cancel) leaves an invalid index behind, and the migration, not recorded, would
 * fail on "already exists" when run again. Drops such leftovers in schema notifier first, under
 * graphile-migrate's advisory lock so a build in progress in another `migrate` is left alone.
 */
async function dropInvalidIndexes(client: pg.Client, say: (line: string) => void): Promise<void> {
  const { rows: [lock] } = await client.query<{ locked: boolean }>("select pg_try_advisory_lock($1) as locked", [GRAPHILE_MIGRATE_LOCK]);
  if (!lock!.locked) throw new LockBusyError(ANOTHER_MIGRATE);
  try {
    const { rows } = await client.query<{ name: string }>(
      `select format('%I.%I', n.nspname, c.relname) as name
         from pg_catalog.pg_index i
         join pg_catalog.pg_class c on c.oid = i.indexrelid
         join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where not i.indisvalid and n.nspname = 'notifier'`,
    );
    for (const { name } of rows) {
      await client.query(`drop index concurrently if exists ${name}`);
      say(`dropped ${name}, an invalid index left by an interrupted concurrent build; building it again`);
    }
  } finally {
    await client.query("select pg_advisory_unlock($1)", [GRAPHILE_MIGRATE_LOCK]);
  }
}

/** graphile-migrate's advisory lock key (dist/pgReal.js ADVISORY_LOCK_MIGRATE). */
const GRAPHILE_MIGRATE_LOCK = "4727445306447283";

/** A short-lived connection with the migration's lock_timeout. */
async function withClient<T>(connectionString: string, lockTimeout: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(await connectionConfig(connectionString, APPLICATION_NAMES.migrate));
  await client.connect();
  try {
    await client.query("select pg_catalog.set_config('lock_timeout', $1, false)", [lockTimeout]);
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * What the migration waited for, as the rest of the sentence after its file name: the existing
 * tables it names that other sessions hold locks on ("could not lock notifier.notifications
 * (locked by pid 4242, idle in transaction for 63s); …"), or for a CREATE INDEX CONCURRENTLY,
 * which waits for every older transaction, the oldest one; null when nothing is seen.
 */
async function describeWait(connectionString: string, file: string): Promise<string | null> {
  const text = await readFile(file, "utf8").catch(() => "");
  const names = [...new Set([...text.matchAll(/\b([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)\b/g)].map((match) => match[1]!))];
  return withClient(connectionString, "0", async (client) => {
    const held = await lockHolders(client, names);
    if (held.length > 0) return `could not lock ${held.join(", ")}; nothing of it was applied`;
    if (!/create\s+(unique\s+)?index\s+concurrently/i.test(text)) return null;
    const oldest = await oldestSnapshotHolder(client);
    return `waited for older transactions to end, as a concurrent index build does${oldest ? ` (oldest: ${oldest})` : ""}; ` +
      "the next migrate drops the invalid index it left and builds it again";
  });
}
