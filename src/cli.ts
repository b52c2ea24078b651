import { Command, CommanderError } from "commander";
import { databaseUrlOption, parseDatabaseUrl } from "./databaseUrl.js";
import { EXIT_FAILED, EXIT_USAGE, UsageError } from "./errors.js";
import { runMigrations } from "./migrate.js";
import { registerExplainCommand } from "./commands/explain.js";
import { registerNotificationsCommand } from "./commands/notifications.js";
import { registerTemplatesCommand } from "./commands/templates.js";
import { listenCommand } from "./commands/listen.js";
import { startCommand } from "./commands/start.js";

const program = new Command("pg-job-notifier")
  .description("Job notifications decided by PostgreSQL triggers, delivered by a small service.")
  .option("--verbose", "print stack traces with errors")
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(text) });

program
  .command("migrate")
  .description("apply every committed migration to the database (idempotent)")
  .addOption(databaseUrlOption())
  .addHelpText("after", "\nExample:\n  DATABASE_URL=postgres://localhost/awx pg-job-notifier migrate")
  .action(async (options: { databaseUrl?: string }) => {
    await runMigrations(parseDatabaseUrl(options.databaseUrl));
    process.stdout.write("migrations applied\n");
  });

registerExplainCommand(program);
registerTemplatesCommand(program);
registerNotificationsCommand(program);

program.addCommand(listenCommand());
program.addCommand(startCommand());

try {
  await program.parseAsync();
} catch (error) {
  process.exitCode = exitCodeFor(error);
  if (!(error instanceof CommanderError)) {
    const verbose = program.opts<{ verbose?: boolean }>().verbose;
    process.stderr.write(`pg-job-notifier: ${verbose ? (error as Error).stack : (error as Error).message}\n`);
  }
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
  if (error instanceof UsageError) return EXIT_USAGE;
  return EXIT_FAILED;
}
