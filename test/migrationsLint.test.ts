import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { PACKAGE_ROOT } from "../src/migrate.js";

// A DBA's rules for new migrations (CONTRACT §9), checked on the files themselves so a migration
// that breaks them fails `npm test` before it reaches anyone's database:
//   - an index on a table that already exists (made by an earlier migration, or the host's) is
//     built CONCURRENTLY: a plain CREATE INDEX holds SHARE on the table for the whole build, and
//     every host transaction that writes it waits;
//   - CREATE INDEX CONCURRENTLY runs in a `--! no-transaction` migration of that one statement;
//   - the header says which locks the migration takes.
// Migrations up to 000011 predate the rules and are never edited (000010's plain index on the
// outbox is documented in docs/installing.md).

const FIRST_CHECKED = "000012";
const folder = path.join(PACKAGE_ROOT, "migrations", "committed");

interface Migration {
  file: string;
  body: string;
}

async function migrations(): Promise<Migration[]> {
  const files = (await readdir(folder)).filter((file) => /^\d{6}.*\.sql$/.test(file)).sort();
  return Promise.all(files.map(async (file) => ({ file, body: bodyOf(await readFile(path.join(folder, file), "utf8")) })));
}

/** The SQL after graphile-migrate's `--! Key: value` headers. */
function bodyOf(text: string): string {
  return text.replace(/^(--! [A-Z][^\n]*\n)*\n/, "");
}

/** SQL without comments and string literals (so a comment that mentions CREATE INDEX is no index). */
function code(sql: string): string {
  return sql
    .replace(/\$([a-z_]*)\$[\s\S]*?\$\1\$/gi, "''")
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/--[^\n]*/g, "")
    .replace(/\/\*[\s\S]*?\*\//g, "");
}

/** Tables a migration creates, schema-qualified as written (notifier.x). */
function createdTables(sql: string): string[] {
  return [...code(sql).matchAll(/\bcreate\s+(?:unlogged\s+)?table\s+(?:if\s+not\s+exists\s+)?([\w.]+)/gi)].map((m) => m[1]!.toLowerCase());
}

/** Every CREATE INDEX statement: its table and whether it is CONCURRENTLY. */
function indexes(sql: string): { table: string; concurrently: boolean; statement: string }[] {
  return [...code(sql).matchAll(/\bcreate\s+(?:unique\s+)?index\s+(concurrently\s+)?(?:if\s+not\s+exists\s+)?(?:[\w."]+\s+)?on\s+(?:only\s+)?([\w.]+)/gi)]
    .map((m) => ({ table: m[2]!.toLowerCase(), concurrently: Boolean(m[1]), statement: m[0].replace(/\s+/g, " ") }));
}

/** Problems of one migration, given the tables earlier migrations created. */
function problemsOf(migration: Migration): string[] {
  const problems: string[] = [];
  const ownTables = new Set(createdTables(migration.body));
  const noTransaction = /^--!\s*no-transaction\b/.test(migration.body);
  for (const index of indexes(migration.body)) {
    if (!index.concurrently && !ownTables.has(index.table)) {
      problems.push(`${migration.file}: "${index.statement}" on an existing table: use CREATE INDEX CONCURRENTLY in a --! no-transaction migration`);
    }
    if (index.concurrently && !noTransaction) {
      problems.push(`${migration.file}: CREATE INDEX CONCURRENTLY needs --! no-transaction as the body's first line`);
    }
  }
  const header = migration.body.slice(0, migration.body.search(/^[^-\n]/m));
  if (!/\block/i.test(header)) problems.push(`${migration.file}: the header comment does not say which locks it takes`);
  return problems;
}

describe("migrations", () => {
  test(`every migration from ${FIRST_CHECKED} builds indexes on existing tables CONCURRENTLY and states its locks`, async () => {
    const checked = (await migrations()).filter((migration) => migration.file >= FIRST_CHECKED);
    expect(checked.length).toBeGreaterThan(0);
    expect(checked.flatMap(problemsOf)).toEqual([]);
  });

  test("the check rejects a plain CREATE INDEX on an existing table, and accepts one on a table of the same migration", () => {
    const plain = { file: "000099-x.sql", body: "-- Locks: SHARE on notifier.notifications.\n\ncreate index x_idx on notifier.notifications (sent_at);\n" };
    expect(problemsOf(plain)).toEqual([
      '000099-x.sql: "create index x_idx on notifier.notifications" on an existing table: use CREATE INDEX CONCURRENTLY in a --! no-transaction migration',
    ]);
    const host = { file: "000099-x.sql", body: "-- Locks: none.\n\nCREATE UNIQUE INDEX ON public.main_unifiedjob (id);\n" };
    expect(problemsOf(host)).toHaveLength(1);
    const inTransaction = { file: "000099-x.sql", body: "-- Locks: none.\n\ncreate index concurrently x_idx on notifier.jobs (name);\n" };
    expect(problemsOf(inTransaction)).toEqual(["000099-x.sql: CREATE INDEX CONCURRENTLY needs --! no-transaction as the body's first line"]);
    const own = { file: "000099-x.sql", body: "-- Locks: none (new table).\n\ncreate table notifier.x (id int);\ncreate index x_idx on notifier.x (id);\n" };
    expect(problemsOf(own)).toEqual([]);
    const silent = { file: "000099-x.sql", body: "-- Adds a column.\n\nalter table notifier.jobs add column y int;\n" };
    expect(problemsOf(silent)).toEqual(["000099-x.sql: the header comment does not say which locks it takes"]);
    const commented = { file: "000099-x.sql", body: "-- Locks: none. (Not: create index y on notifier.jobs (x).)\n\nselect 1;\n" };
    expect(problemsOf(commented)).toEqual([]);
  });
});
