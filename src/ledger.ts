import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type pg from "pg";

/**
 * graphile-migrate's ledger (`graphile_migrate.migrations`) is one fixed schema per database: a
 * host that uses graphile-migrate itself would share it with us. These helpers tell our rows
 * (by the hashes of our committed files) from anyone else's.
 */

/** One of the product's committed migrations, as its file says. */
export interface CommittedMigration {
  /** The file's name, e.g. 000012-settings.sql. */
  file: string;
  /** The ledger's filename for it, e.g. 000012.sql. */
  filename: string;
  hash: string;
}

/** The product's committed migrations, in order, from their `--! Hash:` headers. */
export async function readCommittedMigrations(migrationsFolder: string): Promise<CommittedMigration[]> {
  const folder = path.join(migrationsFolder, "committed");
  const files = (await readdir(folder)).filter((file) => /^\d{6}(-.*)?\.sql$/.test(file)).sort();
  return Promise.all(
    files.map(async (file) => {
      const hash = /^--! Hash: (\S+)$/m.exec(await readFile(path.join(folder, file), "utf8"))?.[1];
      if (!hash) throw new Error(`migration ${file} has no "--! Hash:" header`);
      return { file, filename: `${file.slice(0, 6)}.sql`, hash };
    }),
  );
}

export interface LedgerState {
  /** graphile_migrate.migrations exists. */
  exists: boolean;
  /** Hashes of our migrations the ledger records. */
  ours: string[];
  /** Ledger rows that are not ours (another graphile-migrate user of this database). */
  foreign: { filename: string; hash: string }[];
  /** Schema notifier exists. */
  schemaPresent: boolean;
}

/** Reads the ledger (if there is one) and whether schema notifier exists. */
export async function inspectLedger(client: pg.ClientBase, committed: readonly CommittedMigration[]): Promise<LedgerState> {
  const { rows: [state] } = await client.query<{ exists: boolean; schema_present: boolean }>(
    `select to_regclass('graphile_migrate.migrations') is not null as exists,
            to_regnamespace('notifier') is not null as schema_present`,
  );
  if (!state!.exists) return { exists: false, ours: [], foreign: [], schemaPresent: state!.schema_present };
  const { rows } = await client.query<{ filename: string; hash: string }>(
    "select filename, hash from graphile_migrate.migrations order by filename",
  );
  const ourHashes = new Set(committed.map((migration) => migration.hash));
  return {
    exists: true,
    ours: rows.filter((row) => ourHashes.has(row.hash)).map((row) => row.hash),
    foreign: rows.filter((row) => !ourHashes.has(row.hash)),
    schemaPresent: state!.schema_present,
  };
}

/** One line for a ledger that holds migrations that are not ours. */
export function foreignLedgerMessage(foreign: LedgerState["foreign"]): string {
  const first = foreign[0]!;
  return `graphile_migrate.migrations holds ${foreign.length} migration${foreign.length === 1 ? "" : "s"} that ` +
    `${foreign.length === 1 ? "is" : "are"} not pg-job-notifier's (first: ${first.filename} ${first.hash}); ` +
    "this database's own graphile-migrate history cannot be shared, so nothing was changed (see docs/installing.md)";
}

/** Deletes our rows from the ledger (reinstall, uninstall); returns how many. */
export async function forgetOurMigrations(client: pg.ClientBase, committed: readonly CommittedMigration[]): Promise<number> {
  // One statement: previous_hash references the row before, checked at the statement's end.
  const { rowCount } = await client.query("delete from graphile_migrate.migrations where hash = any($1::text[])", [
    committed.map((migration) => migration.hash),
  ]);
  return rowCount ?? 0;
}
