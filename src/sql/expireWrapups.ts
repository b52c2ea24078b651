import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";

/**
 * One bounded batch of the lost-wrapup sweep (notifier.expire_wrapups: SKIP LOCKED, the grace of
 * notifier.settings.wrapup_grace): fires the final notifications of up to `batchSize` jobs whose
 * wrapup is overdue; returns how many jobs.
 */
export async function expireWrapups(db: CommonQueryMethods, batchSize: number): Promise<number> {
  return db.oneFirst(sql.type(z.object({ expired: z.number() }))`
    select notifier.expire_wrapups(batch_size => ${batchSize}::integer) as expired`);
}
