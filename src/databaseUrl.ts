import { readFileSync } from "node:fs";
import { Option } from "commander";
import type { ConnectionOptions } from "node:tls";
import pg from "pg";
import { parse, parseIntoClientConfig } from "pg-connection-string";
import { UsageError } from "./errors.js";

/** libpq's sslmode values (https://www.postgresql.org/docs/current/libpq-ssl.html). */
export const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** The application_name of each connection the product opens (pg_stat_activity shows it). */
export const APPLICATION_NAMES = {
  pool: "pg-job-notifier/pool",
  /** The delivery hot path's own pool: claims, outcomes, lease extensions (src/db.ts). */
  delivery: "pg-job-notifier/delivery",
  listen: "pg-job-notifier/listen",
  sleepLock: "pg-job-notifier/sleep-lock",
  migrate: "pg-job-notifier/migrate",
  /** `start --demo`'s two job writers. */
  demoStatusWriter: "pg-job-notifier/demo-status-writer",
  demoWrapupWriter: "pg-job-notifier/demo-wrapup-writer",
  /** The first connection that settles sslmode=prefer or allow. */
  tlsProbe: "pg-job-notifier/tls-probe",
} as const;
export type ApplicationName = (typeof APPLICATION_NAMES)[keyof typeof APPLICATION_NAMES];

/** Query parameters that decide TLS: read here once, never by a driver's own parser. */
const TLS_PARAMETERS = ["sslmode", "sslrootcert", "sslcert", "sslkey", "ssl", "uselibpqcompat", "sslnegotiation"] as const;

/**
 * The TLS of a connection string, as libpq reads it. `require` encrypts without verifying (with
 * sslrootcert: as verify-ca), `verify-ca` checks the chain against sslrootcert, `verify-full` also
 * the host name (system CAs without sslrootcert). `prefer` (the default) and `allow` encrypt
 * without verifying, or not at all: which one is decided once per URL and process by a first
 * connection (negotiatedTls). node-postgres's `no-verify` is read as `require`.
 */
interface Tls {
  sslMode: SslMode;
  /** sslrootcert, sslcert, sslkey as given. */
  files: Partial<Record<"sslrootcert" | "sslcert" | "sslkey", string>>;
}

/** What every driver is given, in pg-connection-string's libpq-compatible dialect. */
type DriverTls = { mode: "disable" | "require" | "verify-ca" | "verify-full"; files: Tls["files"] };

/** The answer of a server without TLS to a client that asks for it (node-postgres's words). */
const NO_TLS = "The server does not support SSL connections";

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
  return { sslMode: sslMode as SslMode, files };
}

/** How prefer and allow turned out for each URL in this process. */
const negotiated = new Map<string, Promise<DriverTls["mode"]>>();

/**
 * The TLS a connection to `url` uses. For prefer and allow, the first call asks the server: prefer
 * tries TLS (unverified) and falls back to none when the server has no TLS; allow tries without
 * TLS and uses TLS when the server refuses an unencrypted connection (pg_hba `hostssl`). A failed
 * attempt is not remembered, so a later call asks again.
 */
async function negotiatedTls(url: string): Promise<DriverTls> {
  const { sslMode, files } = tlsOf(url, "DATABASE_URL");
  if (sslMode !== "prefer" && sslMode !== "allow") return { mode: sslMode, files };
  // Neither verifies the server: no CA, as libpq (a client certificate is still offered).
  const offered = { sslcert: files.sslcert, sslkey: files.sslkey };
  let decided = negotiated.get(url);
  if (!decided) {
    decided = sslMode === "prefer"
      ? probe(url, { mode: "require", files: offered }).then(() => "require" as const, (error: Error) => {
          if (error.message === NO_TLS) return "disable" as const;
          throw error;
        })
      : probe(url, { mode: "disable", files: {} }).then(() => "disable" as const, (error: Error & { code?: string }) => {
          if (error.code === "28000" && /no encryption/.test(error.message)) return "require" as const;
          throw error;
        });
    negotiated.set(url, decided);
    decided.catch(() => negotiated.delete(url));
  }
  const mode = await decided;
  return { mode, files: mode === "disable" ? {} : offered };
}

/** Opens and closes one connection with `tls`. */
async function probe(url: string, tls: DriverTls): Promise<void> {
  const client = new pg.Client(parseIntoClientConfig(driverUrl(url, tls, APPLICATION_NAMES.tlsProbe)));
  client.on("error", () => {});
  try {
    await client.connect();
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * `url` with its TLS parameters replaced by `tls` (in pg-connection-string's libpq-compatible
 * form, which node-postgres, pg-listen and graphile-migrate all parse the same way) and
 * application_name set.
 */
function driverUrl(url: string, tls: DriverTls, application: ApplicationName): string {
  const parsed = new URL(url);
  for (const name of TLS_PARAMETERS) parsed.searchParams.delete(name);
  parsed.searchParams.delete("application_name");
  parsed.searchParams.set("application_name", application);
  if (tls.mode !== "disable") {
    parsed.searchParams.set("uselibpqcompat", "true");
    for (const [name, file] of Object.entries(tls.files)) if (file) parsed.searchParams.set(name, file);
  }
  parsed.searchParams.set("sslmode", tls.mode);
  return parsed.toString();
}

/** `url` as a driver that takes only a string (graphile-migrate) is given it. */
export async function connectionString(url: string, application: ApplicationName): Promise<string> {
  return driverUrl(url, await negotiatedTls(url), application);
}

/** node-postgres settings of a connection named `application` (pg.Client, pg-listen). */
export async function connectionConfig(url: string, application: ApplicationName): Promise<pg.ClientConfig> {
  return parseIntoClientConfig(await connectionString(url, application));
}

/**
 * For slonik, whose own URI parser knows only three sslmode values: the URI without TLS
 * parameters, and the TLS options to pass beside it.
 */
export async function slonikConnection(url: string, application: ApplicationName): Promise<{ uri: string; ssl: ConnectionOptions | undefined }> {
  const withTls = await connectionString(url, application);
  const { ssl } = parseIntoClientConfig(withTls);
  const withoutTls = new URL(withTls);
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
