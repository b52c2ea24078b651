import type { HotPathDb } from "../db.js";

/**
 * On shutdown: gives back every row `worker` still holds, uncounting the attempt its claim counted,
 * so another process sends it now (notifier.release_claims, migration 43).
 */
export async function releaseClaims(db: HotPathDb, worker: string): Promise<number> {
  const { rows } = await db.query<{ released: number }>("select notifier.release_claims($1) as released", [worker]);
  return rows[0]!.released;
}
