import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";
import { TRIGGERS, type JobSnapshot } from "../job.js";

/** A row this process now holds under a lease, with what is needed to send it. */
export const ClaimedNotification = z.object({
  /** notifications.id as text: the Idempotency-Key. */
  id: z.string(),
  /** The claim's token: outcomes and lease extensions name it (fenced, CONTRACT §5.11). */
  leaseToken: z.string(),
  jobId: z.number(),
  trigger: z.enum(TRIGGERS),
  /** This attempt's number: the claim counted it (CONTRACT §5.9). */
  attempts: z.number().int(),
  jobSnapshot: z.custom<JobSnapshot>((value) => typeof value === "object" && value !== null),
  deliveredTargets: z.array(z.string()),
  /** Rendered by an earlier attempt, reused so a retry sends the same message. */
  subject: z.string().nullable(),
  body: z.string().nullable(),
  templateId: z.number(),
  templateName: z.string(),
  notificationType: z.string(),
  configuration: z.record(z.unknown()),
  messages: z.unknown(),
});
export type ClaimedNotification = z.infer<typeof ClaimedNotification>;

export interface ClaimOptions {
  /** Identifies this process in locked_by. */
  worker: string;
  /** Most rows to claim. */
  limit: number;
  leaseSeconds: number;
  /** A due row whose attempts reached this had its last attempt lost: it fails instead. */
  maxAttempts: number;
  /** Due rows created longer ago fail as expired; null: no limit. */
  maxAgeSeconds: number | null;
  /** Rows this process still holds in memory: never claimed again by it. */
  skipIds?: readonly string[];
  /** Templates this process takes no more rows of right now (their share is full, or their breaker open). */
  skipTemplates?: readonly number[];
}

/**
 * Claims up to `limit` due pending rows, oldest first, for `worker` until the lease ends, through
 * notifier.claim_due (migrations 11 and 42), whose plan PostgreSQL keeps for the session. Each
 * claim counts one attempt and hands out a fresh lease token; rows whose last attempt never
 * reported, or older than the maximum age, end failed there instead. Nothing is claimed while
 * notifier.settings.delivery_paused is set.
 */
export async function claimDue(db: CommonQueryMethods, options: ClaimOptions): Promise<readonly ClaimedNotification[]> {
  return db.any(sql.type(ClaimedNotification)`
    select id::text as "id",
           lease_token::text as "leaseToken",
           job_id as "jobId",
           trigger,
           attempts,
           job_snapshot as "jobSnapshot",
           delivered_targets as "deliveredTargets",
           subject,
           body,
           template_id as "templateId",
           template_name as "templateName",
           notification_type as "notificationType",
           notification_configuration as "configuration",
           messages
      from notifier.claim_due(${options.worker}, ${options.limit}, make_interval(secs => ${options.leaseSeconds}::float8),
                              ${options.maxAttempts}::integer,
                              ${options.maxAgeSeconds}::float8 * interval '1 second',
                              ${sql.array(options.skipIds ?? [], "int8")}, ${sql.array(options.skipTemplates ?? [], "int8")})`);
}
