import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";
import { TRIGGERS, type JobSnapshot } from "../job.js";

/** A row this process now holds under a lease, with what is needed to send it. */
export const ClaimedNotification = z.object({
  /** notifications.id as text: the Idempotency-Key. */
  id: z.string(),
  jobId: z.number(),
  trigger: z.enum(TRIGGERS),
  /** Attempts already made (this one is attempts + 1). */
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
}

/**
 * Claims up to `limit` due pending rows, oldest first, for `worker` until the lease ends, through
 * notifier.claim_due (migration 11), whose plan PostgreSQL keeps for the session: planning the
 * statement cost several times its execution on every claim (docs/benchmarks.md).
 * SKIP LOCKED lets several processes claim at once without waiting on each other; a row whose
 * lease lapsed (its process died) is due again. A final row is not claimed while the started
 * row of the same (job, template) is still pending, so started is always attempted first.
 *
 * The claim commits without waiting for its WAL flush (synchronous_commit off for its transaction
 * only, set by the function): a lease needs no durability. Were the server to crash before the
 * flush, the rows would simply be unclaimed again and sent again with the same Idempotency-Key —
 * the case of a process killed mid-send (CONTRACT §5.5); the outcome written later is flushed,
 * and the claim's commit record with it. Saves a disk flush on the path from a NOTIFY to the send.
 */
export async function claimDue(db: CommonQueryMethods, options: ClaimOptions): Promise<readonly ClaimedNotification[]> {
  return db.any(sql.type(ClaimedNotification)`
    select id::text as "id",
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
      from notifier.claim_due(${options.worker}, ${options.limit}, make_interval(secs => ${options.leaseSeconds}::float8))`);
}
