import { sql, type CommonQueryMethods } from "../db.js";

export interface SentNotification {
  id: string;
  subject: string;
  body: string | null;
  recipients: string;
  notificationsSent: number;
  deliveredTargets: string[];
}

/**
 * Records successful sends in one statement. Not limited to the lease holder: once any attempt
 * got through, the row is successful, and a late outcome of another attempt changes nothing.
 */
export async function markSent(db: CommonQueryMethods, rows: readonly SentNotification[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(sql.unsafe`
    update notifier.notifications n
       set status = 'successful',
           attempts = n.attempts + 1,
           error = null,
           sent_at = now(),
           subject = x."subject",
           body = x."body",
           recipients = x."recipients",
           notifications_sent = x."notificationsSent",
           delivered_targets = x."deliveredTargets",
           locked_by = null,
           locked_until = null
      from jsonb_to_recordset(${sql.jsonb(rows as never)})
           as x("id" bigint, "subject" text, "body" text, "recipients" text,
                "notificationsSent" integer, "deliveredTargets" text[])
     where n.id = x."id"
       and n.status = 'pending'`);
}
