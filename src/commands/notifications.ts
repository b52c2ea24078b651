import type { Command } from "commander";
import { databaseUrlOption } from "../databaseUrl.js";
import { NOTIFICATION_STATUSES } from "../job.js";
import { OperationError, UsageError } from "../errors.js";
import { listNotifications, type NotificationFilter } from "../sql/listNotifications.js";
import { retryNotifications } from "../sql/retryNotifications.js";
import { formatTable, formatTime, isoTime, oneLine, parsePositiveInteger, printJson, withDatabase } from "./common.js";
import { writeOut } from "../terminal.js";

/** Rows `notifications list` shows when --limit is not given. */
export const DEFAULT_LIST_LIMIT = 50;

export function registerNotificationsCommand(program: Command): void {
  const notifications = program
    .command("notifications")
    .description("list notification rows and send failed ones again")
    .addHelpText(
      "after",
      `
Examples:
  pg-job-notifier notifications list --status failed
  pg-job-notifier notifications list --job 42 --json
  pg-job-notifier notifications retry 17 18`,
    );

  notifications
    .command("list")
    .description("list notification rows, newest first")
    .option("--status <status>", `only rows in this status (${NOTIFICATION_STATUSES.join(" | ")})`)
    .option("--job <id>", "only the rows of this job")
    .option("--limit <n>", `at most this many rows (default ${DEFAULT_LIST_LIMIT})`)
    .option("--json", "print a JSON array instead of a table")
    .addOption(databaseUrlOption())
    .addHelpText("after", "\nExample:\n  pg-job-notifier notifications list --status failed --limit 20")
    .action(async (options: { status?: string; job?: string; limit?: string; json?: boolean; databaseUrl?: string }) => {
      const filter = readFilter(options);
      const rows = await withDatabase(options.databaseUrl, (db) => listNotifications(db, filter));
      if (options.json) {
        printJson(
          rows.map((row) => ({
            id: row.id,
            jobId: row.jobId,
            trigger: row.trigger,
            template: row.templateName,
            type: row.notificationType,
            status: row.status,
            attempts: row.attempts,
            nextAttemptAt: row.status === "pending" ? isoTime(row.runAt) : null,
            lockedBy: row.lockedBy,
            lockedUntil: isoTime(row.lockedUntil),
            error: row.error,
            recipients: row.recipients,
            createdAt: isoTime(row.createdAt),
            sentAt: isoTime(row.sentAt),
            attemptHistory: row.attemptHistory,
          })),
        );
        return;
      }
      if (rows.length === 0) {
        writeOut("no notifications\n");
        return;
      }
      const table = formatTable(
        ["ID", "JOB", "TRIGGER", "TEMPLATE", "TYPE", "STATUS", "ATTEMPTS", "NEXT ATTEMPT / SENT", "ERROR"],
        rows.map((row) => [
          String(row.id),
          String(row.jobId),
          row.trigger,
          row.templateName,
          row.notificationType,
          row.status,
          String(row.attempts),
          formatTime(row.status === "pending" ? row.runAt : row.sentAt),
          row.error ? oneLine(row.error) : "-",
        ]),
      );
      writeOut(`${table}\n`);
    });

  notifications
    .command("retry")
    .description("put failed rows back to pending (attempts reset, due now) and wake the delivery service")
    .argument("<id...>", "notifier.notifications.id of failed rows")
    .addOption(databaseUrlOption())
    .addHelpText("after", "\nExample:\n  pg-job-notifier notifications retry 17 18")
    .action(async (idTexts: string[], options: { databaseUrl?: string }) => {
      const ids = [...new Set(idTexts.map((text) => parsePositiveInteger(text, "notification id")))];
      const retried = new Set(await withDatabase(options.databaseUrl, (db) => retryNotifications(db, ids)));
      if (retried.size > 0) writeOut(`back to pending: ${[...retried].join(", ")}\n`);
      const left = ids.filter((id) => !retried.has(String(id)));
      if (left.length > 0) {
        throw new OperationError(`not retried (not failed, or no such notification): ${left.join(", ")}`);
      }
    });
}

function readFilter(options: { status?: string; job?: string; limit?: string }): NotificationFilter {
  if (options.status !== undefined && !(NOTIFICATION_STATUSES as readonly string[]).includes(options.status)) {
    throw new UsageError(`--status must be one of ${NOTIFICATION_STATUSES.join(", ")}`);
  }
  return {
    status: options.status as NotificationFilter["status"],
    jobId: options.job === undefined ? undefined : parsePositiveInteger(options.job, "--job"),
    limit: options.limit === undefined ? DEFAULT_LIST_LIMIT : parsePositiveInteger(options.limit, "--limit"),
  };
}
