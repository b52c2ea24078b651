import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";
import type { Trigger } from "../job.js";

export interface NewTemplate {
  name: string;
  notificationType: string;
  configuration: Record<string, unknown>;
  messages: Record<string, unknown> | null;
  /** One subscription per trigger, all with the same scope (NULL: any). */
  triggers: readonly Trigger[];
  jobTemplateId: number | null;
  organizationId: number | null;
}

/**
 * Writes a template and its subscriptions in one statement (so both or neither exist). The
 * template's write trigger validates it; a duplicate name fails on the unique key. Returns its id.
 */
export async function insertTemplate(db: CommonQueryMethods, template: NewTemplate): Promise<number> {
  return db.oneFirst(sql.type(z.object({ id: z.number() }))`
    with template as (
      insert into notifier.notification_templates (name, notification_type, notification_configuration, messages)
      values (${template.name}, ${template.notificationType}, ${sql.jsonb(template.configuration as never)},
              ${template.messages == null ? null : sql.jsonb(template.messages as never)})
      returning id
    ), subscribed as (
      insert into notifier.subscriptions (notification_template_id, trigger, job_template_id, organization_id)
      select template.id, trigger, ${template.jobTemplateId}::bigint, ${template.organizationId}::bigint
        from template, unnest(${sql.array([...template.triggers], "text")}) as trigger
    )
    select id from template`);
}
