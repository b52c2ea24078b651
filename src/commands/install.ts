import { Option, type Command } from "commander";
import { parseDatabaseUrl } from "../databaseUrl.js";
import { parseDuration } from "../duration.js";
import { DEFAULT_LOCK_TIMEOUT_SECONDS, DEFAULT_RETRY_WAIT_SECONDS, runMigrations } from "../migrate.js";
import { uninstall } from "../uninstall.js";
import { parsePositiveInteger } from "./common.js";
import { writeOut } from "../terminal.js";

/**
 * The URL of the commands that change the schema (migrate, uninstall, attach, detach): --database-url, else
 * NOTIFIER_MIGRATE_DATABASE_URL (an owner's URL, so the service's DATABASE_URL needs no DDL
 * rights), else DATABASE_URL. Errors name the setting the value came from.
 */
export function migrateDatabaseUrl(flag: string | undefined): string {
  if (flag) return parseDatabaseUrl(flag, "--database-url");
  if (process.env.NOTIFIER_MIGRATE_DATABASE_URL) return parseDatabaseUrl(process.env.NOTIFIER_MIGRATE_DATABASE_URL, "NOTIFIER_MIGRATE_DATABASE_URL");
  return parseDatabaseUrl(process.env.DATABASE_URL, "DATABASE_URL");
}

/** --database-url of the commands that change the schema (migrate, uninstall, attach, detach). */
export const migrateUrlOption = () =>
  new Option("--database-url <url>", "libpq connection URI of a role that owns the schema (default NOTIFIER_MIGRATE_DATABASE_URL, else DATABASE_URL)");

const lockTimeoutOption = () =>
  new Option("--lock-timeout <duration>", `longest wait for any lock before giving up (default ${DEFAULT_LOCK_TIMEOUT_SECONDS}s)`).env("NOTIFIER_LOCK_TIMEOUT");

/** --lock-timeout / NOTIFIER_LOCK_TIMEOUT in seconds. */
function lockTimeout(command: Command): number | undefined {
  const value = command.opts<{ lockTimeout?: string }>().lockTimeout;
  if (value === undefined) return undefined;
  const setting = command.getOptionValueSource("lockTimeout") === "cli" ? "--lock-timeout" : "NOTIFIER_LOCK_TIMEOUT";
  return parseDuration(value, setting);
}

export function registerInstallCommands(program: Command): void {
  const migrate = program
    .command("migrate")
    .description("apply every committed migration to the database (idempotent; never queues host writes for longer than the lock timeout)")
    .addOption(migrateUrlOption())
    .addOption(lockTimeoutOption())
    .option("--retries <n>", "after a lock timeout, try again up to N times (default 0)")
    .option("--retry-wait <duration>", `wait between tries (default ${DEFAULT_RETRY_WAIT_SECONDS}s)`)
    .addHelpText(
      "after",
      `
A migration that cannot get a lock within the lock timeout fails with one line naming the busy
table; what was applied before it stays applied, so running migrate again resumes.

Examples:
  NOTIFIER_MIGRATE_DATABASE_URL=postgres://owner@db/awx pg-job-notifier migrate
  pg-job-notifier migrate --lock-timeout 2s --retries 5 --retry-wait 30s`,
    );
  migrate.action(async (options: { databaseUrl?: string; retries?: string; retryWait?: string }) => {
    const outcome = await runMigrations(migrateDatabaseUrl(options.databaseUrl), {
      lockTimeoutSeconds: lockTimeout(migrate),
      retries: options.retries === undefined || options.retries === "0" ? 0 : parsePositiveInteger(options.retries, "--retries"),
      retryWaitSeconds: options.retryWait === undefined ? undefined : parseDuration(options.retryWait, "--retry-wait"),
    });
    writeOut(outcome === "applied" ? "migrations applied\n" : "up to date\n");
  });

  const remove = program
    .command("uninstall")
    .description("remove everything the product created: triggers on host tables, schema notifier, its ledger rows")
    .option("--force", "uninstall even while notification rows are pending (they are never sent)")
    .option("--drop-roles", "also drop the group roles (NOTIFIER_HOST_ROLE, …; kept when another database uses them)")
    .addOption(migrateUrlOption())
    .addOption(lockTimeoutOption())
    .addHelpText("after", "\nExample:\n  NOTIFIER_MIGRATE_DATABASE_URL=postgres://owner@db/awx pg-job-notifier uninstall");
  remove.action(async (options: { databaseUrl?: string; force?: boolean; dropRoles?: boolean }) => {
    await uninstall(migrateDatabaseUrl(options.databaseUrl), {
      force: options.force,
      dropRoles: options.dropRoles,
      lockTimeoutSeconds: lockTimeout(remove),
    });
    writeOut("uninstalled\n");
  });
}
