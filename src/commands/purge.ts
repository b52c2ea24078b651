import type { Command } from "commander";
import { addServiceSetting, readServiceSettings } from "../config.js";
import { databaseUrlOption } from "../databaseUrl.js";
import { parseDuration } from "../duration.js";
import { purgeAll } from "../services/purger.js";
import { withDatabase } from "./common.js";
import { writeOut } from "../terminal.js";

export function registerPurgeCommand(program: Command): void {
  const command = program
    .command("purge")
    .description("delete finished notification rows, old job events, removed templates and the bookkeeping of finished jobs past their retention, in bounded batches")
    .option("--older-than <duration>", "delete finished rows (successful and failed) older than this, e.g. 7d, instead of the retentions")
    .addOption(databaseUrlOption())
    .addHelpText(
      "after",
      `
Pending rows are never deleted. Each batch skips rows that another session holds, so a purge
never waits for the service's claims or the host's writes (and never makes them wait).
The delivery service also purges every NOTIFIER_PURGE_INTERVAL.

Examples:
  pg-job-notifier purge                          NOTIFIER_RETENTION (30d) and NOTIFIER_FAILED_RETENTION (90d)
  pg-job-notifier purge --older-than 7d`,
    );
  addServiceSetting(command, "retentionSeconds");
  addServiceSetting(command, "failedRetentionSeconds");
  command.action(async (options: { olderThan?: string; databaseUrl?: string }) => {
    const settings = readServiceSettings(command);
    const olderThan = options.olderThan === undefined ? null : parseDuration(options.olderThan, "--older-than");
    const retention = {
      retentionSeconds: olderThan ?? settings.retentionSeconds,
      failedRetentionSeconds: olderThan ?? settings.failedRetentionSeconds,
    };
    const deleted = await withDatabase(options.databaseUrl, (db) => purgeAll(db, retention));
    writeOut(`purged ${deleted.notifications} notification rows, ${deleted.job_events} job events, ${deleted.templates} removed templates, ${deleted.job_conditions} job bookkeeping rows\n`);
  });
}
