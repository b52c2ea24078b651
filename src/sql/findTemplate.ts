import { z } from "zod";
import { epochMs, sql, type CommonQueryMethods } from "../db.js";

export const TemplateDetails = z.object({
  id: z.number(),
  name: z.string(),
  notificationType: z.string(),
  /** Unmasked: mask it (maskSecrets) before showing it anywhere. */
  configuration: z.record(z.unknown()),
  messages: z.record(z.unknown()).nullable(),
  subscriptions: z.array(
    z.object({ trigger: z.string(), jobTemplateId: z.number().nullable(), organizationId: z.number().nullable() }),
  ),
  createdAt: z.number(),
  modifiedAt: z.number(),
});
export type TemplateDetails = z.infer<typeof TemplateDetails>;

/** One template in use (not removed) by name, with its subscriptions (started first); null when there is none. */
export async function findTemplate(db: CommonQueryMethods, name: string): Promise<TemplateDetails | null> {
  return db.maybeOne(sql.type(TemplateDetails)`
    select t.id, t.name, t.notification_type as "notificationType",
           t.notification_configuration as configuration, t.messages,
           coalesce((select jsonb_agg(jsonb_build_object('trigger', s.trigger, 'jobTemplateId', s.job_template_id,
                                                         'organizationId', s.organization_id)
                                      order by s.trigger <> 'started', s.trigger desc, s.id)
                       from notifier.subscriptions s
                      where s.notification_template_id = t.id), '[]') as subscriptions,
           ${epochMs("t.created_at")} as "createdAt",
           ${epochMs("t.modified_at")} as "modifiedAt"
      from notifier.notification_templates t
     where t.name = ${name} and t.removed_at is null`);
}
