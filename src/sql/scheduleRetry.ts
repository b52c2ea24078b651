import { sql, type CommonQueryMethods } from "../db.js";

export interface RetriedNotification {
  id: string;
  /** The attempt's error (never containing a secret). */
  error: string;
  /** Seconds until the next attempt (see retryDelaySeconds). */
  delaySeconds: number;
  subject: string | null;
  body: string | null;
  deliveredTargets: string[];
}

/**
 * Exponential backoff with jitter: the first retry waits about `firstDelay` seconds, each later
 * one twice as long; ±20% jitter spreads retries of many rows that failed together.
 */
export function retryDelaySeconds(firstDelay: number, attemptsMade: number, random = Math.random): number {
  return firstDelay * 2 ** Math.max(0, attemptsMade - 1) * (0.8 + 0.4 * random());
}

/** Counts the failed attempt, keeps its error and releases the rows until their next run_at. */
export async function scheduleRetry(db: CommonQueryMethods, worker: string, rows: readonly RetriedNotification[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(sql.unsafe`
    update notifier.notifications n
       set attempts = n.attempts + 1,
           error = x."error",
           run_at = now() + make_interval(secs => x."delaySeconds"),
           subject = coalesce(x."subject", n.subject),
           body = coalesce(x."body", n.body),
           delivered_targets = x."deliveredTargets",
           locked_by = null,
           locked_until = null
      from jsonb_to_recordset(${sql.jsonb(rows as never)})
           as x("id" bigint, "error" text, "delaySeconds" float8, "subject" text, "body" text,
                "deliveredTargets" text[])
     where n.id = x."id"
       and n.status = 'pending'
       and n.locked_by = ${worker}`);
}
