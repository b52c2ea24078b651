import { constants } from "node:os";
import { Command } from "commander";
import { addServiceOptions, readServiceSettings, type ServiceConfig } from "../config.js";
import { databaseUrlOption, parseDatabaseUrl } from "../databaseUrl.js";
import { EXIT_FAILED } from "../errors.js";
import type { Logger } from "../logger.js";
import { startNotifierService, type NotifierService } from "../services/notifierService.js";

/**
 * One Ctrl-C can arrive twice (the terminal signals the whole process group and `npm start`
 * forwards it as well): a repeat this soon is the same request, not an impatient second one.
 */
const REPEATED_SIGNAL_WINDOW_MS = 1000;
/** Exit anyway if something keeps the event loop alive after a clean stop. */
const EXIT_WATCHDOG_MS = 3000;

export function listenCommand(): Command {
  return addServiceOptions(
    new Command("listen")
      .description("run the delivery service until SIGINT/SIGTERM")
      .addOption(databaseUrlOption())
      .exitOverride(),
  )
    .addHelpText("after", "\nExample:\n  DATABASE_URL=postgres://notifier@db/awx pg-job-notifier listen --concurrency 32 --http 0.0.0.0:9187")
    .action(async (_options, command: Command) => {
      const config: ServiceConfig = {
        ...readServiceSettings(command),
        databaseUrl: parseDatabaseUrl(command.opts<{ databaseUrl?: string }>().databaseUrl),
      };
      await runUntilSignalled(await startNotifierService(config));
    });
}

/**
 * Runs until SIGTERM or SIGINT, then stops gracefully and resolves (exit 0). A second signal
 * exits at once. `afterStop` runs after the service stopped (e.g. to stop an embedded server).
 */
export async function runUntilSignalled(service: NotifierService, afterStop: () => Promise<void> = async () => {}): Promise<void> {
  const logger: Logger = service.logger;
  exitOnUncaughtError(logger);
  await new Promise<void>((resolve, reject) => {
    let firstSignalAt = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (firstSignalAt === 0) {
        firstSignalAt = Date.now();
        logger.info({ signal }, "signal received: shutting down (send it again to exit at once)");
        service.stop().then(afterStop).then(resolve, reject);
        return;
      }
      if (Date.now() - firstSignalAt < REPEATED_SIGNAL_WINDOW_MS) return;
      logger.warn({ signal }, "second signal: exiting at once");
      process.exit(128 + constants.signals[signal]);
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
  setTimeout(() => process.exit(process.exitCode ?? 0), EXIT_WATCHDOG_MS).unref();
}

/**
 * The last resort: an error nothing caught leaves the process in an unknown state, so it is
 * logged as one line and the process exits non-zero (for the supervisor to restart it), rather
 * than dying with a bare stack trace or running on half-broken. Rows it held are claimed again
 * after their lease.
 */
export function exitOnUncaughtError(logger: Logger): void {
  const exit = (kind: string) => (error: unknown) => {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    logger.fatal({ kind, stack: error instanceof Error ? error.stack : undefined }, `${kind}: ${message.replace(/\s*\n\s*/g, " ")}: exiting`);
    process.exit(EXIT_FAILED);
  };
  process.on("uncaughtException", exit("uncaught exception"));
  process.on("unhandledRejection", exit("unhandled rejection"));
}
