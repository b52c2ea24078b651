import { constants } from "node:os";
import { Command } from "commander";
import { addServiceOptions, readServiceSettings, type ServiceConfig } from "../config.js";
import { databaseUrlOption, parseDatabaseUrl } from "../databaseUrl.js";
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
