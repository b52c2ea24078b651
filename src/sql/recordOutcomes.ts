import type { HotPathDb } from "../db.js";
import type { NotificationStatus } from "../job.js";
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
export type RecordedStatuses = Map<string, NotificationStatus>;

const RECORD_OUTCOMES = `
  select id::text as id, status
    from notifier.record_outcomes($1::int8[], $2::uuid[], $3::text[], $4::text[], $5::int4[], $6::float8[],
                                  $7::text[], $8::text[], $9::text[], $10::int4[], $11::jsonb[], $12::float8, $13::integer)`;

/**
 * Records a batch of outcomes in one statement (a named one: planned once per connection); SQL
 * decides retry-or-fail and the backoff. Rows whose lease token is no longer theirs are absent
 * from the answer (another process holds them). Every string is made storable first (no NUL, no
 * lone surrogate), so a receiver's bytes cannot fail the statement.
 */
export async function recordOutcomes(db: HotPathDb, outcomes: readonly AttemptOutcome[], policy: RecordPolicy): Promise<RecordedStatuses> {
  if (outcomes.length === 0) return new Map();
  const column = <T>(pick: (outcome: AttemptOutcome) => T) => outcomes.map(pick);
  const text = (pick: (outcome: AttemptOutcome) => string | null, fit = (storable: string) => storable) =>
    column((outcome) => {
      const value = pick(outcome);
      return value === null ? null : fit(storableText(value));
    });
  const { rows } = await db.query<{ id: string; status: NotificationStatus }>({
    name: "notifier_record_outcomes",
    text: RECORD_OUTCOMES,
    values: [
      column((outcome) => outcome.id),
      column((outcome) => outcome.leaseToken),
      column((outcome) => outcome.kind),
      text((outcome) => outcome.error, (error) => sliceCodePoints(error, MAX_ERROR_CHARS - 1)),
      column((outcome) => outcome.httpStatus),
      column((outcome) => outcome.retryAfterSeconds),
      text((outcome) => outcome.subject),
      text((outcome) => outcome.body),
      text((outcome) => outcome.recipients),
      column((outcome) => outcome.notificationsSent),
      column((outcome) => (outcome.deliveredTargets === null ? null : JSON.stringify(outcome.deliveredTargets.map(storableText)))),
      policy.retryDelaySeconds,
      policy.maxAttempts,
    ],
  });
  return new Map(rows.map((row) => [row.id, row.status]));
}
