import { Option } from "commander";
import { parse } from "pg-connection-string";
import { UsageError } from "./errors.js";

/**
 * Validates a libpq connection URI (postgres:// or postgresql://) and returns it unchanged.
 * The error names the setting and never echoes the value, which may hold a password.
 */
export function parseDatabaseUrl(value: string | undefined, setting = "DATABASE_URL"): string {
  if (!value) throw new UsageError(`${setting} is not set (a postgres:// connection string is required)`);
  if (!/^postgres(ql)?:\/\//.test(value)) {
    throw new UsageError(`${setting} must be a postgres:// or postgresql:// connection URI`);
  }
  try {
    new URL(value);
    parse(value);
  } catch {
    throw new UsageError(`${setting} is not a valid connection URI`);
  }
  return value;
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
