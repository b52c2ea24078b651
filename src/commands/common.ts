import { createDatabasePool, type DatabasePool } from "../db.js";
import { parseDatabaseUrl } from "../databaseUrl.js";
import { UsageError } from "../errors.js";
import { writeOut } from "../terminal.js";

/** An operator command runs a few statements one after another: one connection is plenty. */
const COMMAND_POOL_SIZE = 1;

/** Runs `work` on a pool for DATABASE_URL (or --database-url) and closes it afterwards. */
export async function withDatabase<T>(databaseUrl: string | undefined, work: (db: DatabasePool) => Promise<T>): Promise<T> {
  const db = await createDatabasePool(parseDatabaseUrl(databaseUrl), { maximumPoolSize: COMMAND_POOL_SIZE });
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

/** A positive whole number from the command line (an id, a limit); a UsageError names `what`. */
export function parsePositiveInteger(value: string, what: string): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1) throw new UsageError(`${what} must be a positive whole number, got "${value}"`);
  return Number(value);
}

/** "2026-11-29 12:05:00 UTC" for epoch milliseconds; "-" for none. */
export function formatTime(ms: number | null | undefined): string {
  if (ms == null) return "-";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** ISO 8601 for JSON output; null stays null. */
export function isoTime(ms: number | null | undefined): string | null {
  return ms == null ? null : new Date(ms).toISOString();
}

/** Left-aligned columns with a header row, two spaces apart. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** Writes pretty JSON and a newline to stdout. */
export function printJson(value: unknown): void {
  writeOut(`${JSON.stringify(value, null, 2)}\n`);
}

/** One line, however long the text (errors keep tables readable). */
export function oneLine(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** SQLSTATE invalid_parameter_value: the product's SQL functions refusing an argument, in one line naming it. */
export const INVALID_PARAMETER_VALUE = "22023";

