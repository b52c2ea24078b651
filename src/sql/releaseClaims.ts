import { sql, type CommonQueryMethods } from "../db.js";

/**
 * On shutdown: gives back every row `worker` still holds, uncounting the attempt its claim counted,
 * so another process sends it now (notifier.release_claims, migration 43).
 */
export async function releaseClaims(db: CommonQueryMethods, worker: string): Promise<number> {
  return db.oneFirst(sql.unsafe`select notifier.release_claims(${worker}) as released`) as Promise<number>;
}
