import type { HotPathDb } from "../db.js";

/**
 * Pushes back the lease of rows this process still holds under their claim's token, while their
 * sends are queued, running or being recorded. Returns the ids extended: a row missing from it is
 * no longer this process's (notifier.extend_leases, migration 42).
 */
export async function extendLeases(db: HotPathDb, held: readonly { id: string; leaseToken: string }[], leaseSeconds: number): Promise<Set<string>> {
  if (held.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>({
    name: "notifier_extend_leases",
    text: "select id::text as id from notifier.extend_leases($1::int8[], $2::uuid[], make_interval(secs => $3::float8)) as id",
    values: [held.map((row) => row.id), held.map((row) => row.leaseToken), leaseSeconds],
  });
  return new Set(rows.map((row) => row.id));
}
