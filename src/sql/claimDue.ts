import type { HotPathDb } from "../db.js";
import type { JobSnapshot, Trigger } from "../job.js";

/** A row this process now holds under a lease, with what is needed to send it. */
export interface ClaimedNotification {
  /** notifications.id as text: the Idempotency-Key. */
  id: string;
  /** The claim's token: outcomes and lease extensions name it (fenced, CONTRACT §5.11). */
  leaseToken: string;
  jobId: number;
  trigger: Trigger;
  /** This attempt's number: the claim counted it (CONTRACT §5.9). */
  attempts: number;
  jobSnapshot: JobSnapshot;
  deliveredTargets: string[];
  /** Rendered by an earlier attempt, reused so a retry sends the same message. */
  subject: string | null;
  body: string | null;
  templateId: number;
  templateName: string;
  notificationType: string;
  /**
   * The template's notification_configuration and messages as JSON text: the same text for every
   * row of a template, so the deliverer parses and checks it once per template version.
   */
  configurationText: string;
  messagesText: string | null;
}

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

const CLAIM_DUE = `
  select id::text as "id", lease_token::text as "leaseToken", job_id as "jobId", trigger, attempts,
         job_snapshot as "jobSnapshot", delivered_targets as "deliveredTargets", subject, body,
         template_id as "templateId", template_name as "templateName", notification_type as "notificationType",
         notification_configuration::text as "configurationText", messages::text as "messagesText"
    from notifier.claim_due($1, $2, make_interval(secs => $3::float8), $4::integer, $5::float8 * interval '1 second',
                            $6::int8[], $7::int8[])`;

/**
 * Claims up to `limit` due pending rows, oldest first, for `worker` until the lease ends, through
 * notifier.claim_due (migrations 11 and 42), whose plan PostgreSQL keeps for the session. Each
 * claim counts one attempt and hands out a fresh lease token; rows whose last attempt never
 * reported, or older than the maximum age, end failed there instead. Nothing is claimed while
 * notifier.settings.delivery_paused is set. A named statement: planned once per connection. The
 * rows are the function's, typed by its declaration; nothing checks them again here.
 */
export async function claimDue(db: HotPathDb, options: ClaimOptions): Promise<ClaimedNotification[]> {
  const { rows } = await db.query<ClaimedNotification>({
    name: "notifier_claim_due",
    text: CLAIM_DUE,
    values: [options.worker, options.limit, options.leaseSeconds, options.maxAttempts, options.maxAgeSeconds,
             options.skipIds ?? [], options.skipTemplates ?? []],
  });
  return rows;
}
