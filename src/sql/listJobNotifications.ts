import { sql, utcIsoText, type CommonQueryMethods } from "../db.js";
import { z } from "zod";

export const JobNotification = z.object({
  id: z.string(),
  jobId: z.string(),
  templateName: z.string(),
  notificationType: z.string(),
  trigger: z.string(),
  status: z.string(),
  attempts: z.number(),
  error: z.string().nullable(),
  /** When a pending row is next attempted. */
  runAt: z.string(),
  sentAt: z.string().nullable(),
});
export type JobNotification = z.infer<typeof JobNotification>;

/**
 * The notification rows of the given jobs, started before final, with their template's name;
 * with `status`, only rows in that status. Ids and times come back as text (ISO 8601, UTC).
 */
export async function listJobNotifications(
  db: CommonQueryMethods,
  options: { jobIds: readonly string[]; status?: string },
): Promise<readonly JobNotification[]> {
  if (options.jobIds.length === 0) return [];
  return db.any(sql.type(JobNotification)`
    select n.id::text as id, n.job_id::text as "jobId", t.name as "templateName",
           n.notification_type as "notificationType", n.trigger, n.status, n.attempts, n.error,
           ${utcIsoText("n.run_at")} as "runAt",
           ${utcIsoText("n.sent_at")} as "sentAt"
      from notifier.notifications n
      join notifier.notification_templates t on t.id = n.notification_template_id
     where n.job_id = any(${sql.array(options.jobIds, "int8")})
       and (${options.status ?? null}::text is null or n.status = ${options.status ?? null}::text)
     order by n.job_id desc, n.trigger <> 'started', n.id`);
}
