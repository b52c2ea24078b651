import { Command, CommanderError } from "commander";
import { EXIT_FAILED, EXIT_USAGE, UsageError } from "./errors.js";
import { registerInstallCommands } from "./commands/install.js";
import { writeErr } from "./terminal.js";
import { registerAttachCommands } from "./commands/attach.js";
import { registerDeliveryCommands } from "./commands/delivery.js";
import { registerExplainCommand } from "./commands/explain.js";
import { registerNotificationsCommand } from "./commands/notifications.js";
import { registerPurgeCommand } from "./commands/purge.js";
import { registerTemplatesCommand } from "./commands/templates.js";
import { listenCommand } from "./commands/listen.js";
import { startCommand } from "./commands/start.js";

const program = new Command("pg-job-notifier")
  .description("Job notifications decided by PostgreSQL triggers, delivered by a small service.")
  .option("--verbose", "print stack traces with errors")
  .addHelpText(
    "after",
    `
Examples (each command's --help has more):
  pg-job-notifier migrate                        apply the schema (NOTIFIER_MIGRATE_DATABASE_URL or DATABASE_URL)
  pg-job-notifier start                          embedded PostgreSQL (without DATABASE_URL) and the service
  pg-job-notifier listen --http 127.0.0.1:9187   run the delivery service
  pg-job-notifier attach awx                     notify AWX's own jobs (main_unifiedjob), AWX unchanged
  pg-job-notifier explain 42                     why job 42's notifications wait, in plain words
  pg-job-notifier templates add --name ops --type webhook \\
      --config '{"url": "https://hooks.example.com/awx"}' --subscribe success,error
  pg-job-notifier templates test ops             send one test message now
  pg-job-notifier notifications list --status failed
  pg-job-notifier notifications retry 17 18      send failed rows again
  pg-job-notifier purge --older-than 7d          delete finished rows older than a week
  pg-job-notifier uninstall                      remove everything the product created
  pg-job-notifier pause                          stop all delivery on this database (staging clones); resume

Exit codes: 0 ok, 1 the operation failed, 2 bad usage.`,
  )
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(text) });

registerInstallCommands(program);
registerExplainCommand(program);
registerAttachCommands(program);
registerTemplatesCommand(program);
registerNotificationsCommand(program);
registerPurgeCommand(program);
registerDeliveryCommands(program);

program.addCommand(listenCommand());
program.addCommand(startCommand());

try {
  await program.parseAsync();
} catch (error) {
  process.exitCode = exitCodeFor(error);
  if (!(error instanceof CommanderError)) {
    const verbose = program.opts<{ verbose?: boolean }>().verbose;
    writeErr(`pg-job-notifier: ${verbose ? (error as Error).stack : (error as Error).message}\n`);
  }
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
  if (error instanceof UsageError) return EXIT_USAGE;
  return EXIT_FAILED;
}
