import { sql, type CommonQueryMethods } from "../db.js";
import { z } from "zod";

export const TemplateWithTriggers = z.object({
  id: z.string(),
  name: z.string(),
  notificationType: z.string(),
  /** Unmasked: mask it (maskSecrets) before showing it anywhere. */
  configuration: z.record(z.unknown()),
  /** The distinct triggers of its subscriptions, started first. */
  triggers: z.array(z.string()),
});
export type TemplateWithTriggers = z.infer<typeof TemplateWithTriggers>;

/**
 * The notification templates in use (or those of `ids`, removed ones too: a job's history names
 * them), by name, with the triggers they are subscribed to.
 */
export async function listTemplatesWithTriggers(db: CommonQueryMethods, ids?: readonly number[]): Promise<readonly TemplateWithTriggers[]> {
  return db.any(sql.type(TemplateWithTriggers)`
    select t.id::text as id, t.name, t.notification_type as "notificationType",
           t.notification_configuration as configuration,
           array(select x.trigger
                   from (select distinct s.trigger from notifier.subscriptions s
                          where s.notification_template_id = t.id) x
                  order by x.trigger <> 'started', x.trigger desc) as triggers
      from notifier.notification_templates t
     where ${ids ? sql.fragment`t.id = any(${sql.array(ids, "int8")})` : sql.fragment`t.removed_at is null`}
     order by t.name`);
}
