import { z } from "zod";
import { epochMs, sql, type CommonQueryMethods } from "../db.js";

/** Times are epoch milliseconds (null when not reached), whatever type parsers the pool has. */
const time = z.number().nullable();

export const JobDescription = z.object({
  /** The attachment the job belongs to ('notifier.jobs', 'awx', 'schema.table'). */
  attachment: z.string(),
  id: z.number(),
  kind: z.string(),
  name: z.string(),
  status: z.string(),
  wrapupDispatched: z.boolean().nullable(),
  /** The wrapup's name (playbook_on_stats, EOF, an attached table's wrapup column), or null when the kind has none. */
  wrapupEvent: z.string().nullable(),
  /** The dispatched flag as captured when the status became final; null before that. */
  wrapupRequired: z.boolean().nullable(),
  wrapupProcessedAt: time,
  wrapupExpiredAt: time,
  /** When A was written (database clock): the grace counts from it. */
  finalStatusAt: time,
  hostStatusCounts: z.record(z.number()).nullable(),
  createdAt: time,
  startedAt: time,
  finishedAt: time,
  startedConditionAt: time,
  finalConditionAt: time,
  finalTrigger: z.string().nullable(),
  /** What the final notification waits for, in the view's words ('final status', 'wrapup event (EOF)'); null when nothing. */
  waitingFor: z.string().nullable(),
  /** When the lost-wrapup grace fires the final notification (notifier.settings.wrapup_grace after A). */
  graceFiresAt: time,
  /** notifier.settings.wrapup_grace in seconds. */
  wrapupGraceSeconds: z.number(),
  /** The database's clock, so "due now" and "overdue" are judged on the server's time. */
  now: z.number(),
});
export type JobDescription = z.infer<typeof JobDescription>;

/** Where the two-condition protocol stands for one job (notifier.job_state, the state view's row); null if unknown. */
export async function describeJob(db: CommonQueryMethods, jobId: number): Promise<JobDescription | null> {
  return db.maybeOne(sql.type(JobDescription)`
    select s.attachment, s.job_id as id, s.kind, s.name, s.status,
           s.wrapup_dispatched as "wrapupDispatched",
           s.wrapup_event as "wrapupEvent",
           s.wrapup_required as "wrapupRequired",
           ${epochMs("s.wrapup_processed_at")} as "wrapupProcessedAt",
           ${epochMs("s.wrapup_expired_at")} as "wrapupExpiredAt",
           ${epochMs("s.final_status_at")} as "finalStatusAt",
           s.host_status_counts as "hostStatusCounts",
           ${epochMs("s.created_at")} as "createdAt",
           ${epochMs("s.started_at")} as "startedAt",
           ${epochMs("s.finished_at")} as "finishedAt",
           ${epochMs("s.started_condition_at")} as "startedConditionAt",
           ${epochMs("s.final_condition_at")} as "finalConditionAt",
           s.final_trigger as "finalTrigger",
           s.waiting_for as "waitingFor",
           ${epochMs("s.grace_fires_at")} as "graceFiresAt",
           (select extract(epoch from g.wrapup_grace)::float8 from notifier.settings g) as "wrapupGraceSeconds",
           (extract(epoch from clock_timestamp()) * 1000)::float8 as now
      from notifier.job_state(${jobId}) s
     order by s.attachment = 'notifier.jobs', s.attachment
     limit 1`);
}
