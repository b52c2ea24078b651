import { z } from "zod";
import { epochMs, sql, type CommonQueryMethods } from "../db.js";

/** Times are epoch milliseconds (null when not reached), whatever type parsers the pool has. */
const time = z.number().nullable();

export const JobDescription = z.object({
  id: z.number(),
  kind: z.string(),
  name: z.string(),
  status: z.string(),
  wrapupDispatched: z.boolean(),
  /** The kind's wrapup event (playbook_on_stats, EOF), or null when it has none. */
  wrapupEvent: z.string().nullable(),
  /** wrapup_dispatched as captured when the status became final; null before that. */
  wrapupRequired: z.boolean().nullable(),
  wrapupProcessedAt: time,
  wrapupExpiredAt: time,
  hostStatusCounts: z.record(z.number()).nullable(),
  createdAt: z.number(),
  startedAt: time,
  finishedAt: time,
  startedConditionAt: time,
  finalConditionAt: time,
  finalTrigger: z.string().nullable(),
  /** The database's clock, so "due now" and "overdue" are judged on the server's time. */
  now: z.number(),
});
export type JobDescription = z.infer<typeof JobDescription>;

/** Where the two-condition protocol stands for one job (notifier.job_notification_state); null if unknown. */
export async function describeJob(db: CommonQueryMethods, jobId: number): Promise<JobDescription | null> {
  return db.maybeOne(sql.type(JobDescription)`
    select j.id, j.kind, j.name, j.status,
           j.wrapup_dispatched as "wrapupDispatched",
           s.wrapup_event as "wrapupEvent",
           j.wrapup_required as "wrapupRequired",
           ${epochMs("j.wrapup_processed_at")} as "wrapupProcessedAt",
           ${epochMs("j.wrapup_expired_at")} as "wrapupExpiredAt",
           j.host_status_counts as "hostStatusCounts",
           ${epochMs("j.created_at")} as "createdAt",
           ${epochMs("j.started_at")} as "startedAt",
           ${epochMs("j.finished_at")} as "finishedAt",
           ${epochMs("j.started_condition_at")} as "startedConditionAt",
           ${epochMs("j.final_condition_at")} as "finalConditionAt",
           j.final_trigger as "finalTrigger",
           (extract(epoch from clock_timestamp()) * 1000)::float8 as now
      from notifier.jobs j
      join notifier.job_notification_state s on s.job_id = j.id
     where j.id = ${jobId}`);
}
