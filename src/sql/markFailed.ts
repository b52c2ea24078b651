import { sql, type CommonQueryMethods } from "../db.js";

export interface FailedNotification {
  id: string;
  /** The last error (never containing a secret). */
  error: string;
  /** Null when rendering itself failed. */
  subject: string | null;
  body: string | null;
  deliveredTargets: string[];
}

/** Gives up on rows: the last attempts failed, or the failure can never go away (render, configuration). */
export async function markFailed(db: CommonQueryMethods, worker: string, rows: readonly FailedNotification[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(sql.unsafe`
    update notifier.notifications n
       set status = 'failed',
           attempts = n.attempts + 1,
           error = x."error",
           subject = coalesce(x."subject", n.subject),
           body = coalesce(x."body", n.body),
           delivered_targets = x."deliveredTargets",
           locked_by = null,
           locked_until = null
      from jsonb_to_recordset(${sql.jsonb(rows as never)})
           as x("id" bigint, "error" text, "subject" text, "body" text, "deliveredTargets" text[])
     where n.id = x."id"
       and n.status = 'pending'
       and n.locked_by = ${worker}`);
}
