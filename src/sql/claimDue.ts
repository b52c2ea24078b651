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
 * Claims up to `limit` due pending rows, oldest first, for `worker` until the lease ends.
 * SKIP LOCKED lets several processes claim at once without waiting on each other; a row whose
 * lease lapsed (its process died) is due again. A final row is not claimed while the started
 * row of the same (job, template) is still pending, so started is always attempted first.
 *
 * The claim commits without waiting for its WAL flush (synchronous_commit off for this statement's
 * transaction only): a lease needs no durability. Were the server to crash before the flush, the
 * rows would simply be unclaimed again and sent again with the same Idempotency-Key — the case of
 * a process killed mid-send (CONTRACT §5.5); the outcome written later is flushed, and the claim's
 * commit record with it. Saves a disk flush on the path from a NOTIFY to the send
 * (docs/benchmarks.md).
 */
export async function claimDue(db: CommonQueryMethods, options: ClaimOptions): Promise<readonly ClaimedNotification[]> {
  return db.any(sql.type(ClaimedNotification)`
    with due as (
      select n.id
        from notifier.notifications n
       where n.status = 'pending'
         and n.run_at <= now()
         and (n.locked_until is null or n.locked_until < now())
         and (n.trigger = 'started' or not exists (
               select 1
                 from notifier.notifications started
                where started.job_id = n.job_id
                  and started.notification_template_id = n.notification_template_id
                  and started.trigger = 'started'
                  and started.status = 'pending'))
       order by n.run_at, n.id
       limit ${options.limit}
       for update of n skip locked
    ),
    commit_without_flush as (select pg_catalog.set_config('synchronous_commit', 'off', true))
    update notifier.notifications n
       set locked_by = ${options.worker},
           locked_until = now() + make_interval(secs => ${options.leaseSeconds}::float8)
      from due, notifier.notification_templates t, commit_without_flush
     where n.id = due.id
       and t.id = n.notification_template_id
    returning n.id::text as "id",
              n.job_id as "jobId",
              n.trigger,
              n.attempts,
              n.job_snapshot as "jobSnapshot",
              n.delivered_targets as "deliveredTargets",
              n.subject,
              n.body,
              t.id as "templateId",
              t.name as "templateName",
              t.notification_type as "notificationType",
              t.notification_configuration as "configuration",
              t.messages`);
}
