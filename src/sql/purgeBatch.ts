import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";

export const PurgeCounts = z.object({ notifications: z.number(), job_events: z.number(), templates: z.number(), job_conditions: z.number() }).catchall(z.number());
export type PurgeCounts = z.infer<typeof PurgeCounts>;

export interface Retention {
  /** Seconds successful rows, old job events, removed templates and fired jobs' bookkeeping are kept. */
  retentionSeconds: number;
  /** Seconds failed rows are kept. */
  failedRetentionSeconds: number;
}

/**
 * One call of notifier.purge(): at most `batch` rows of each kind past its retention, in a short
 * transaction of its own, skipping locked rows. Returns how many rows of each kind went.
 */
export async function purgeBatch(db: CommonQueryMethods, retention: Retention, batch: number): Promise<PurgeCounts> {
  return db.oneFirst(sql.type(z.object({ counts: PurgeCounts }))`
    select notifier.purge(make_interval(secs => ${retention.retentionSeconds}),
                          make_interval(secs => ${retention.failedRetentionSeconds}),
                          ${batch}) as counts`);
}
