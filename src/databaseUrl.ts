import { readFileSync } from "node:fs";
import { Option } from "commander";
import type { ConnectionOptions } from "node:tls";
import type pg from "pg";
import { parse, parseIntoClientConfig } from "pg-connection-string";
import { UsageError } from "./errors.js";

/** libpq's sslmode values (https://www.postgresql.org/docs/current/libpq-ssl.html). */
export const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** The application_name of each connection the product opens (pg_stat_activity shows it). */
export const APPLICATION_NAMES = {
  pool: "pg-job-notifier/pool",
  listen: "pg-job-notifier/listen",
  sleepLock: "pg-job-notifier/sleep-lock",
  migrate: "pg-job-notifier/migrate",
  /** `start --demo`'s two job writers. */
  demoStatusWriter: "pg-job-notifier/demo-status-writer",
  demoWrapupWriter: "pg-job-notifier/demo-wrapup-writer",
} as const;
export type ApplicationName = (typeof APPLICATION_NAMES)[keyof typeof APPLICATION_NAMES];

/** Query parameters that decide TLS: read here once, never by a driver's own parser. */
const TLS_PARAMETERS = ["sslmode", "sslrootcert", "sslcert", "sslkey", "ssl", "uselibpqcompat", "sslnegotiation"] as const;

/**
 * The TLS of a connection string, decided once. `allow` and `prefer` connect without TLS: libpq
 * would fall back between the two itself, which node-postgres cannot, and neither mode verifies
 * the server, so neither ever protected against anyone on the path (use require or stronger).
 * `require` encrypts without verifying (with sslrootcert: as verify-ca), `verify-ca` checks the
 * chain against sslrootcert, `verify-full` also the host name (system CAs without sslrootcert).
 * node-postgres's `no-verify` is read as `require`.
 */
interface Tls {
  /** The mode every driver is given, in pg-connection-string's libpq-compatible dialect. */
  mode: "disable" | "require" | "verify-ca" | "verify-full";
  /** sslrootcert, sslcert, sslkey as given. */
  files: Partial<Record<"sslrootcert" | "sslcert" | "sslkey", string>>;
}

/**
 * Validates a libpq connection URI (postgres:// or postgresql://), including its TLS parameters
 * (sslmode, sslrootcert, sslcert, sslkey), and returns it unchanged. The error names the setting
 * and never echoes the value, which may hold a password.
 */
export function parseDatabaseUrl(value: string | undefined, setting = "DATABASE_URL"): string {
  if (!value) throw new UsageError(`${setting} is not set (a postgres:// connection string is required)`);
  tlsOf(value, setting);
  return value;
}

function tlsOf(value: string, setting: string): Tls {
  if (!/^postgres(ql)?:\/\//.test(value)) {
    throw new UsageError(`${setting} must be a postgres:// or postgresql:// connection URI`);
  }
  let parameters: URLSearchParams;
  try {
    parameters = new URL(value).searchParams;
  } catch {
    throw new UsageError(`${setting} is not a valid connection URI`);
  }
  const given = parameters.get("sslmode") ?? "prefer";
  const sslMode = given === "no-verify" ? "require" : given;
  if (!(SSL_MODES as readonly string[]).includes(sslMode)) {
    throw new UsageError(`${setting} sslmode must be one of ${SSL_MODES.join(", ")}`);
  }
  const files: Tls["files"] = {};
  for (const name of ["sslrootcert", "sslcert", "sslkey"] as const) {
    const file = parameters.get(name);
    if (!file) continue;
    try {
      readFileSync(file);
    } catch (error) {
      throw new UsageError(`${setting} ${name}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    }
    files[name] = file;
  }
  if (Boolean(files.sslcert) !== Boolean(files.sslkey)) {
    throw new UsageError(`${setting} sslcert and sslkey must be given together`);
  }
  if (sslMode === "verify-ca" && !files.sslrootcert) {
    throw new UsageError(`${setting} sslmode=verify-ca needs sslrootcert (the CA certificate file to verify the server against)`);
  }
  try {
    parse(value);
  } catch {
    throw new UsageError(`${setting} is not a valid connection URI`);
  }
  const mode = sslMode === "allow" || sslMode === "prefer" ? "disable" : (sslMode as Tls["mode"]);
  return { mode, files };
}

/**
 * `url` as every driver is given it: TLS parameters replaced by the ones decided by tlsOf (in
 * pg-connection-string's libpq-compatible form, which node-postgres, pg-listen and
 * graphile-migrate all parse the same way) and application_name set. For drivers that take only
 * a string (graphile-migrate).
 */
export function connectionString(url: string, application: ApplicationName): string {
  const tls = tlsOf(url, "DATABASE_URL");
  const parsed = new URL(url);
  for (const name of TLS_PARAMETERS) parsed.searchParams.delete(name);
  parsed.searchParams.delete("application_name");
  parsed.searchParams.set("application_name", application);
  if (tls.mode !== "disable") {
    parsed.searchParams.set("uselibpqcompat", "true");
    for (const [name, file] of Object.entries(tls.files)) parsed.searchParams.set(name, file);
  }
  parsed.searchParams.set("sslmode", tls.mode);
  return parsed.toString();
}

/** node-postgres settings of a connection named `application` (pg.Client, pg-listen). */
export function connectionConfig(url: string, application: ApplicationName): pg.ClientConfig {
  return parseIntoClientConfig(connectionString(url, application));
}

/**
 * For slonik, whose own URI parser knows only three sslmode values: the URI without TLS
 * parameters and the TLS options, from connectionConfig, to pass beside it.
 */
export function slonikConnection(url: string, application: ApplicationName): { uri: string; ssl: ConnectionOptions | undefined } {
  const driverUrl = connectionString(url, application);
  const { ssl } = parseIntoClientConfig(driverUrl);
  const withoutTls = new URL(driverUrl);
  for (const name of TLS_PARAMETERS) withoutTls.searchParams.delete(name);
  return { uri: withoutTls.toString(), ssl: ssl === true ? {} : ssl || undefined };
}

/** The same server as `url`, another database. */
export function urlForDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** The --database-url flag every database command takes; DATABASE_URL is its default. */
export const databaseUrlOption = () =>
  new Option("--database-url <url>", "libpq connection URI").env("DATABASE_URL");
