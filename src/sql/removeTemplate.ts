import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";

/**
 * Removes a template softly (migration 000021): deletes its subscriptions, so no new row is made
 * for it, and stamps removed_at, which hides it. Neither waits for nor fails a host transaction
 * that is creating rows for it (no key changes, no foreign key check). Its notification rows stay
 * (pending ones are still delivered) until retention purges them, then the template itself.
 * Returns how many of its rows are still pending, or null when no such template is in use.
 */
export async function removeTemplate(db: CommonQueryMethods, name: string): Promise<number | null> {
  return db.maybeOneFirst(sql.type(z.object({ pending: z.number() }))`
    with removed as (
      update notifier.notification_templates set removed_at = now()
       where name = ${name} and removed_at is null
      returning id
    ), unsubscribed as (
      delete from notifier.subscriptions s using removed where s.notification_template_id = removed.id
    )
    select (select count(*) from notifier.notifications n
             where n.notification_template_id = removed.id and n.status = 'pending')::int as pending
      from removed`);
}
