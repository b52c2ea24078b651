import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";

/**
 * Puts failed rows back to pending with a fresh set of attempts, due now, and wakes the
 * listening services. Rows that are not failed (already pending or successful, or unknown ids)
 * are left alone. Returns the ids it put back. The last error stays on the row until a send
 * succeeds; NOTIFIER_MAX_AGE counts again from now (retried_at, migration 40).
 */
export async function retryNotifications(db: CommonQueryMethods, ids: readonly (string | number)[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const retried = await db.anyFirst(sql.type(z.object({ id: z.string() }))`
    update notifier.notifications
       set status = 'pending', attempts = 0, run_at = now(), retried_at = now(), locked_by = null, locked_until = null
     where id = any(${sql.array(ids.map(String), "int8")})
       and status = 'failed'
    returning id::text as id`);
  if (retried.length > 0) await db.query(sql.unsafe`select notifier.wake_listeners()`);
  return [...retried];
}
