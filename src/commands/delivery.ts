import type { Command } from "commander";
import { databaseUrlOption } from "../databaseUrl.js";
import { setDeliveryPaused } from "../sql/setDeliveryPaused.js";
import { withDatabase } from "./common.js";
import { writeOut } from "../terminal.js";

/**
 * `pause` / `resume`: the delivery kill switch (notifier.settings.delivery_paused), for a staging
 * clone of a production database that must not page production's receivers. Every service
 * process on the database stops claiming at its next claim; sends already in flight finish.
 */
export function registerDeliveryCommands(program: Command): void {
  for (const [name, paused, description] of [
    ["pause", true, "stop every service on this database from sending (rows stay pending) until `resume`"],
    ["resume", false, "let the services send again after `pause`"],
  ] as const) {
    program
      .command(name)
      .description(description)
      .addOption(databaseUrlOption())
      .addHelpText("after", `\nExample:\n  DATABASE_URL=postgres://staging-db/awx pg-job-notifier ${name}`)
      .action(async (options: { databaseUrl?: string }) => {
        await withDatabase(options.databaseUrl, (db) => setDeliveryPaused(db, paused));
        writeOut(paused ? "delivery paused: no service sends until `pg-job-notifier resume`\n" : "delivery resumed\n");
      });
  }
}
