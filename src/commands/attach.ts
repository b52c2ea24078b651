import type { Command } from "commander";
import { databaseUrlOption } from "../databaseUrl.js";
import { OperationError, sqlState, UsageError } from "../errors.js";
import { LOCK_NOT_AVAILABLE } from "../migrate.js";
import { attachAwx } from "../sql/attachAwx.js";
import { attachTable } from "../sql/attachTable.js";
import { detach } from "../sql/detach.js";
import { listAttachments } from "../sql/listAttachments.js";
import { formatTable, formatTime, INVALID_PARAMETER_VALUE, isoTime, printJson, withDatabase } from "./common.js";
import { migrateDatabaseUrl, migrateUrlOption } from "./install.js";
import { writeOut } from "../terminal.js";

/**
 * `attach awx`, `attach table`, `attachments`, `detach` (CONTRACT §8): each calls the SQL function
 * of the same name in schema notifier, which validates, generates and runs the DDL.
 */
export function registerAttachCommands(program: Command): void {
  const attach = program
    .command("attach")
    .description("attach the protocol to a host's own job table (AWX's main_unifiedjob, or any table)")
    .addHelpText(
      "after",
      `
The host table gains no column, index or constraint: only row triggers named notifier_*.
attach and detach run as the schema's owner: NOTIFIER_MIGRATE_DATABASE_URL when set (as migrate).
Each command sets lock_timeout (5 s): behind a long transaction on the table it fails at once
and can be run again. docs/attaching.md shows the SQL and the locks.

Examples:
  pg-job-notifier attach awx
  pg-job-notifier attach awx --schema awx --dry-run
  pg-job-notifier attach table ci.builds --id build_id --status state --wrapup report \\
      --status-map '{"queued": "pending", "building": "running", "passed": "successful", "broken": "failed"}'`,
    );

  attach
    .command("awx")
    .description("attach to an AWX 21+ database (main_unifiedjob)")
    .option("--schema <schema>", "the schema of AWX's tables", "public")
    .option("--dry-run", "print the SQL without running it")
    .addOption(migrateUrlOption())
    .action(async (options: { schema: string; dryRun?: boolean; databaseUrl?: string }) => {
      const ddl = await run(migrateDatabaseUrl(options.databaseUrl), (db) => attachAwx(db, options.schema, options.dryRun));
      // --dry-run's SQL is printed byte for byte, to be piped into psql.
      if (options.dryRun) process.stdout.write(ddl);
      else writeOut(`attached to ${options.schema}.main_unifiedjob as "awx"\n`);
    });

  attach
    .command("table")
    .description("attach to any job table whose status column holds AWX's words (or is mapped to them)")
    .argument("<table>", "the host's job table, schema-qualified if not on the search path")
    .requiredOption("--id <column>", "the job id column (integer)")
    .requiredOption("--status <column>", "the status column (text)")
    .option("--wrapup <column>", "B: the column that becomes non-NULL when the wrapup was processed")
    .option("--wrapup-events <table>", "B from an event row instead: the (possibly partitioned) events table")
    .option("--event-job <column>", "with --wrapup-events: its job id column (default job_id)")
    .option("--event-name <column>", "with --wrapup-events: its event name column (default event)")
    .option("--wrapup-event-names <names>", "with --wrapup-events: comma-separated wrapup event names (default playbook_on_stats,EOF)")
    .option("--dispatched <sql>", "boolean SQL over the row: false means no wrapup will come (default true)")
    .option("--name <column>", "the job's name")
    .option("--job-template <column>", "matched against subscriptions.job_template_id")
    .option("--organization <column>", "matched against subscriptions.organization_id")
    .option("--kind <sql>", "text SQL over the row: the job's kind (default 'job')")
    .option("--status-map <json>", 'the host\'s status words in AWX\'s, e.g. {"done": "successful"}')
    .option("--exclude <columns>", "comma-separated columns never put in message snapshots (secrets)")
    .option("--dry-run", "print the SQL without running it")
    .addOption(migrateUrlOption())
    .action(async (table: string, options: TableOptions) => {
      if (!options.wrapup && !options.wrapupEvents) throw new UsageError("attach table needs --wrapup <column> or --wrapup-events <table>");
      const statusMap = options.statusMap === undefined ? undefined : parseStatusMap(options.statusMap);
      const ddl = await run(migrateDatabaseUrl(options.databaseUrl), (db) =>
        attachTable(
          db,
          {
            table,
            idColumn: options.id,
            statusColumn: options.status,
            wrapupColumn: options.wrapup ?? null,
            wrapupEvents: options.wrapupEvents
              ? {
                  table: options.wrapupEvents,
                  jobColumn: options.eventJob,
                  nameColumn: options.eventName,
                  names: options.wrapupEventNames?.split(",").map((name) => name.trim()).filter(Boolean),
                }
              : undefined,
            dispatched: options.dispatched,
            nameColumn: options.name,
            jobTemplateColumn: options.jobTemplate,
            organizationColumn: options.organization,
            kind: options.kind,
            statusMap,
            snapshotExclude: options.exclude?.split(",").map((column) => column.trim()).filter(Boolean),
          },
          options.dryRun,
        ),
      );
      if (options.dryRun) process.stdout.write(ddl);
      else writeOut(`attached to ${table}\n`);
    });

  program
    .command("attachments")
    .description("list the attachments with their health (triggers present and enabled, columns still there)")
    .option("--json", "print a JSON array instead of a table")
    .addOption(databaseUrlOption())
    .action(async (options: { json?: boolean; databaseUrl?: string }) => {
      const rows = await run(options.databaseUrl, listAttachments);
      if (options.json) {
        printJson(rows.map((row) => ({ ...row, attachedAt: isoTime(row.attachedAt) })));
        return;
      }
      writeOut(
        `${formatTable(
          ["NAME", "PRESET", "TABLE", "HEALTH", "ATTACHED"],
          rows.map((row) => [row.name, row.preset, row.table, row.healthy ? "ok" : row.problems.join("; "), formatTime(row.attachedAt)]),
        )}\n`,
      );
      // A broken attachment is a failure a script can see.
      if (rows.some((row) => !row.healthy)) process.exitCode = 1;
    });

  program
    .command("detach")
    .description("remove exactly what attach created on a host table (its notifier_* triggers)")
    .argument("<name>", "awx, or the attached table")
    .addOption(migrateUrlOption())
    .action(async (name: string, options: { databaseUrl?: string }) => {
      await run(migrateDatabaseUrl(options.databaseUrl), (db) => detach(db, name));
      writeOut(`detached ${name}\n`);
    });
}

interface TableOptions {
  id: string;
  status: string;
  wrapup?: string;
  wrapupEvents?: string;
  eventJob?: string;
  eventName?: string;
  wrapupEventNames?: string;
  dispatched?: string;
  name?: string;
  jobTemplate?: string;
  organization?: string;
  kind?: string;
  statusMap?: string;
  exclude?: string;
  dryRun?: boolean;
  databaseUrl?: string;
}

function parseStatusMap(text: string): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError("--status-map must be a JSON object such as {\"done\": \"successful\"}");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError("--status-map must be a JSON object such as {\"done\": \"successful\"}");
  }
  return value as Record<string, string>;
}

/** Runs one attach function; its validation errors are bad usage (exit 2), a lock timeout one line (exit 1). */
async function run<T>(databaseUrl: string | undefined, work: Parameters<typeof withDatabase<T>>[1]): Promise<T> {
  try {
    return await withDatabase(databaseUrl, work);
  } catch (error) {
    const message = ((error as { cause?: Error }).cause ?? (error as Error)).message;
    if (sqlState(error) === INVALID_PARAMETER_VALUE) throw new UsageError(message);
    if (sqlState(error) === LOCK_NOT_AVAILABLE) {
      throw new OperationError("a transaction on the host table holds a conflicting lock (lock_timeout expired); nothing changed, run it again");
    }
    throw error;
  }
}
