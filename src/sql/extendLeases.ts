import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";

/**
 * Pushes back the lease of rows this process still holds under their claim's token, while their
 * sends are queued, running or being recorded. Returns the ids extended: a row missing from it is
 * no longer this process's (notifier.extend_leases, migration 42).
 */
export async function extendLeases(db: CommonQueryMethods, held: readonly { id: string; leaseToken: string }[], leaseSeconds: number): Promise<Set<string>> {
  if (held.length === 0) return new Set();
  const ids = await db.anyFirst(sql.type(z.object({ id: z.string() }))`
    select id::text as id
      from notifier.extend_leases(${sql.array(held.map((row) => row.id), "int8")}, ${sql.array(held.map((row) => row.leaseToken), "uuid")},
                                  make_interval(secs => ${leaseSeconds}::float8)) as id`);
  return new Set(ids);
}
