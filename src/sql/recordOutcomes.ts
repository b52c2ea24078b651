import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";
import { sliceCodePoints, storableText } from "../text.js";

/** Characters of an attempt's error kept on the row (the SQL keeps as many). */
export const MAX_ERROR_CHARS = 2000;

/**
 * How an attempt ended, as notifier.record_outcomes (migration 43) takes it:
 *   sent       delivered;
 *   error      failed, may pass: retried after the backoff, or failed once the attempts are spent;
 *   permanent  failed, retrying cannot help;
 *   released   stopped by the shutdown: given back, attempt uncounted, targets reached kept.
 */
export type OutcomeKind = "sent" | "error" | "permanent" | "released";

export interface AttemptOutcome {
  id: string;
  /** The claim's token: the outcome counts only while the row is still held under it. */
  leaseToken: string;
  kind: OutcomeKind;
  /** The attempt's error (never containing a secret); null when sent or released. */
  error: string | null;
  /** The receiver's HTTP status, when it answered one. */
  httpStatus: number | null;
  /** The receiver's Retry-After, in seconds. */
  retryAfterSeconds: number | null;
  /** Null keeps the row's value (rendering failed, or an earlier attempt rendered it). */
  subject: string | null;
  body: string | null;
  recipients: string | null;
  notificationsSent: number | null;
  deliveredTargets: readonly string[] | null;
}

export interface RecordPolicy {
  /** Seconds before the first retry, doubling per attempt (NOTIFIER_RETRY_DELAY). */
  retryDelaySeconds: number;
  /** Attempts before an error fails the row (NOTIFIER_MAX_ATTEMPTS). */
  maxAttempts: number;
}

/** What the database made of the batch: the status each recorded row now has. */
export type RecordedStatuses = Map<string, "pending" | "successful" | "failed">;

const Recorded = z.object({ id: z.string(), status: z.enum(["pending", "successful", "failed"]) });

/**
 * Records a batch of outcomes in one statement; SQL decides retry-or-fail and the backoff. Rows
 * whose lease token is no longer theirs are absent from the answer (another process holds them).
 * Every string is made storable first (no NUL, no lone surrogate), so a receiver's bytes cannot
 * fail the statement.
 */
export async function recordOutcomes(db: CommonQueryMethods, outcomes: readonly AttemptOutcome[], policy: RecordPolicy): Promise<RecordedStatuses> {
  if (outcomes.length === 0) return new Map();
  const text = (pick: (outcome: AttemptOutcome) => string | null, fit = (storable: string) => storable) =>
    sql.array(outcomes.map((outcome) => {
      const value = pick(outcome);
      return value === null ? null : fit(storableText(value));
    }), "text");
  const rows = await db.any(sql.type(Recorded)`
    select id::text as id, status
      from notifier.record_outcomes(
        ${sql.array(outcomes.map((outcome) => outcome.id), "int8")},
        ${sql.array(outcomes.map((outcome) => outcome.leaseToken), "uuid")},
        ${sql.array(outcomes.map((outcome) => outcome.kind), "text")},
        ${text((outcome) => outcome.error, (error) => sliceCodePoints(error, MAX_ERROR_CHARS - 1))},
        ${sql.array(outcomes.map((outcome) => outcome.httpStatus), "int4")},
        ${sql.array(outcomes.map((outcome) => outcome.retryAfterSeconds), "float8")},
        ${text((outcome) => outcome.subject)},
        ${text((outcome) => outcome.body)},
        ${text((outcome) => outcome.recipients)},
        ${sql.array(outcomes.map((outcome) => outcome.notificationsSent), "int4")},
        ${sql.array(outcomes.map((outcome) => (outcome.deliveredTargets === null ? null : JSON.stringify(outcome.deliveredTargets.map(storableText)))), "jsonb")},
        ${policy.retryDelaySeconds}::float8,
        ${policy.maxAttempts}::integer)`);
  return new Map(rows.map((row) => [row.id, row.status]));
}
