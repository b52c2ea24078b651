import { sql, type CommonQueryMethods } from "../db.js";
import { z } from "zod";

export const NotificationTotals = z.object({ pending: z.number(), successful: z.number(), failed: z.number() });
export type NotificationTotals = z.infer<typeof NotificationTotals>;

/** How many notification rows are in each status, over all jobs. */
export async function countNotificationsByStatus(db: CommonQueryMethods): Promise<NotificationTotals> {
  return db.one(sql.type(NotificationTotals)`
    select count(*) filter (where status = 'pending')::int    as pending,
           count(*) filter (where status = 'successful')::int as successful,
           count(*) filter (where status = 'failed')::int     as failed
      from notifier.notifications`);
}
