import { sql, utcIsoText, type CommonQueryMethods } from "../db.js";
import { z } from "zod";

export const RecentJob = z.object({
  jobId: z.string(),
  kind: z.string(),
  name: z.string(),
  status: z.string(),
  /** What the final notification still waits for (the view's waiting_for), or null. */
  waitingFor: z.string().nullable(),
  finishedAt: z.string().nullable(),
  pending: z.number(),
  successful: z.number(),
  failed: z.number(),
});
export type RecentJob = z.infer<typeof RecentJob>;

/**
 * The newest jobs that have notification rows, with their counts (notifier.job_state, the state
 * view's rows read through each attached table's key, so an AWX-sized main_unifiedjob is never
 * scanned); with `status`, only jobs that have a notification in that status. Ids and times come
 * back as text (ISO 8601, UTC), whatever type parsers the pool has.
 */
export async function listRecentJobs(
  db: CommonQueryMethods,
  options: { limit: number; status?: string },
): Promise<readonly RecentJob[]> {
  const status = options.status ?? null;
  return db.any(sql.type(RecentJob)`
    select s.job_id::text as "jobId", s.kind, s.name, s.status, s.waiting_for as "waitingFor",
           ${utcIsoText("s.finished_at")} as "finishedAt",
           s.pending::int as pending, s.successful::int as successful, s.failed::int as failed
      from (select distinct n.job_id
              from notifier.notifications n
             where ${status}::text is null or n.status = ${status}::text
             order by n.job_id desc
             limit ${options.limit}) recent
     cross join lateral notifier.job_state(recent.job_id) s
     order by s.job_id desc, s.attachment`);
}
