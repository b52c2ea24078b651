import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";

/**
 * Deletes a template by name, with its subscriptions and its notification rows (ON DELETE
 * CASCADE). Returns how many notification rows went with it, or null when there is no such template.
 */
export async function deleteTemplate(db: CommonQueryMethods, name: string): Promise<number | null> {
  return db.maybeOneFirst(sql.type(z.object({ notifications: z.number() }))`
    with doomed as (
      select id from notifier.notification_templates where name = ${name}
    ), deleted as (
      delete from notifier.notification_templates t using doomed where t.id = doomed.id returning t.id
    )
    select (select count(*) from notifier.notifications n, deleted where n.notification_template_id = deleted.id)::int
           as notifications
      from deleted`);
}
