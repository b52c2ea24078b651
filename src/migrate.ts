import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";
import JSON5 from "json5";
import { Logger } from "@graphile/logger";
import { migrate, type Settings } from "graphile-migrate";
import { APPLICATION_NAMES, connectionString as driverConnectionString } from "./databaseUrl.js";

/** The repository (or installed package) root, where `.gmrc` and `migrations/` live. */
export const PACKAGE_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Reads `.gmrc` and anchors its folders to the package, so the CLI works from any directory. */
async function loadSettings(connectionString: string): Promise<Settings> {
  const settings = JSON5.parse(await readFile(path.join(PACKAGE_ROOT, ".gmrc"), "utf8")) as Settings;
  return {
    ...settings,
    placeholders: withRoleDefaults(settings.placeholders),
    // graphile-migrate takes a string only: the TLS settings every other connection gets, as parameters.
    connectionString: await driverConnectionString(connectionString, APPLICATION_NAMES.migrate),
    migrationsFolder: path.resolve(PACKAGE_ROOT, settings.migrationsFolder ?? "migrations"),
    logger: quietLogger,
  };
}

/**
 * The roles' names when their environment variables are unset: the least-privilege roles
 * (migration 000008) and the NOLOGIN owner of the SECURITY DEFINER functions (migration 000013).
 */
export const DEFAULT_ROLE_NAMES: Record<string, string> = {
  ":NOTIFIER_HOST_ROLE": "notifier_host",
  ":NOTIFIER_SERVICE_ROLE": "notifier_service",
  ":NOTIFIER_READONLY_ROLE": "notifier_readonly",
  ":NOTIFIER_OWNER_ROLE": "notifier_owner",
};

/**
 * `.gmrc` reads the role placeholders from the environment ("!ENV"), which graphile-migrate
 * refuses when the variable is unset; resolving them here with the defaults above lets
 * `pg-job-notifier migrate` run with nothing but DATABASE_URL.
 */
function withRoleDefaults(placeholders: Settings["placeholders"] = {}): Settings["placeholders"] {
  return Object.fromEntries(
    Object.entries(placeholders).map(([key, value]) => [
      key,
      value === "!ENV" && key in DEFAULT_ROLE_NAMES ? process.env[key.slice(1)] || DEFAULT_ROLE_NAMES[key]! : value,
    ]),
  );
}

/** graphile-migrate announces every migration it runs; only its warnings and errors are shown. */
const quietLogger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") process.stderr.write(`${message}\n`);
});

/**
 * graphile-migrate keeps its connection pool open for 200 ms after use, and exits the whole
 * process (code 1) if that idle pool sees an error, such as the server shutting down. Its
 * internal clearAllPools() (not part of the public API, pinned with the 1.4 version) closes it now.
 */
const { clearAllPools } = createRequire(import.meta.url)("graphile-migrate/dist/pgReal.js") as { clearAllPools(): void };

/** Applies every committed migration to the database; a no-op when it is up to date. */
export async function runMigrations(connectionString: string): Promise<void> {
  try {
    await migrate(await loadSettings(connectionString));
  } finally {
    clearAllPools();
  }
}
