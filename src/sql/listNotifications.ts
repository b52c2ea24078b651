import { z } from "zod";
import { epochMs, sql, type CommonQueryMethods } from "../db.js";
import { NOTIFICATION_STATUSES, type NotificationStatus } from "../job.js";

export const NotificationRecord = z.object({
  id: z.number(),
  jobId: z.number(),
  templateId: z.number(),
  templateName: z.string(),
  notificationType: z.string(),
  trigger: z.string(),
  status: z.enum(NOTIFICATION_STATUSES),
  attempts: z.number(),
  error: z.string().nullable(),
  recipients: z.string().nullable(),
  /** Epoch milliseconds: when a pending row is next attempted. */
  runAt: z.number(),
  /** The service process holding the lease, and until when (epoch ms); null when not claimed. */
  lockedBy: z.string().nullable(),
  lockedUntil: z.number().nullable(),
  createdAt: z.number(),
  sentAt: z.number().nullable(),
  /** The last failed attempts (migration 40): attempt, at, outcome, http_status, error, sent, targets. */
  attemptHistory: z.array(z.record(z.unknown())),
});
export type NotificationRecord = z.infer<typeof NotificationRecord>;

export interface NotificationFilter {
  jobId?: number;
  status?: NotificationStatus;
  /** Most rows, newest first. */
  limit: number;
}

/** Notification rows with their template's name, newest first. */
export async function listNotifications(db: CommonQueryMethods, filter: NotificationFilter): Promise<readonly NotificationRecord[]> {
  const jobId = filter.jobId ?? null;
  const status = filter.status ?? null;
  return db.any(sql.type(NotificationRecord)`
    select n.id, n.job_id as "jobId", n.notification_template_id as "templateId", t.name as "templateName",
           n.notification_type as "notificationType", n.trigger, n.status, n.attempts, n.error, n.recipients,
           ${epochMs("n.run_at")} as "runAt",
           n.locked_by as "lockedBy",
           ${epochMs("n.locked_until")} as "lockedUntil",
           ${epochMs("n.created_at")} as "createdAt",
           ${epochMs("n.sent_at")} as "sentAt",
           n.attempt_history as "attemptHistory"
      from notifier.notifications n
      join notifier.notification_templates t on t.id = n.notification_template_id
     where (${jobId}::bigint is null or n.job_id = ${jobId}::bigint)
       and (${status}::text is null or n.status = ${status}::text)
     order by n.id desc
     limit ${filter.limit}`);
}
