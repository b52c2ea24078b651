import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";

/** notifier.health()'s default cap: pending rows are counted up to this many. */
export const PENDING_COUNT_CAP = 10_000;

export const Health = z.object({
  /** Pending rows, claimed or not, counted up to PENDING_COUNT_CAP. */
  pending: z.number(),
  /** More than PENDING_COUNT_CAP rows are pending. */
  pendingCapped: z.boolean(),
  /** Seconds since the pending row due longest ago became due; 0 when none is due. */
  oldestDueSeconds: z.number(),
  /** Seconds since the oldest job still waiting for its wrapup event finished; 0 when none waits. */
  oldestAwaitingWrapupSeconds: z.number(),
  /** pg_notification_queue_usage(): fraction (0–1) of the instance's NOTIFY queue in use. */
  notificationQueueUsage: z.number(),
});
export type Health = z.infer<typeof Health>;

/** notifier.health(): every figure read from a partial index, bounded (ages by the database clock). */
export async function readHealth(db: CommonQueryMethods): Promise<Health> {
  return db.one(sql.type(Health)`
    select h.pending, h.pending_capped as "pendingCapped",
           coalesce(greatest(0, extract(epoch from now() - h.oldest_due_at)), 0)::float8 as "oldestDueSeconds",
           coalesce(extract(epoch from now() - h.awaiting_wrapup_since), 0)::float8 as "oldestAwaitingWrapupSeconds",
           h.notification_queue_usage as "notificationQueueUsage"
      from notifier.health(${PENDING_COUNT_CAP}) h`);
}
