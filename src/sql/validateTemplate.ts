import { sql, type CommonQueryMethods } from "../db.js";

/**
 * Checks a template with the database's own rules (notifier.validate_notification_template, the
 * function its write trigger calls), without writing it. Throws the database error (SQLSTATE
 * 22023) whose message names the offending key, e.g. "notification_configuration.url: required
 * for type webhook".
 */
export async function validateTemplate(
  db: CommonQueryMethods,
  template: { notificationType: string; configuration: unknown; messages: unknown },
): Promise<void> {
  await db.query(sql.unsafe`
    select notifier.validate_notification_template(
      ${template.notificationType}, ${sql.jsonb(template.configuration as never)},
      ${template.messages == null ? null : sql.jsonb(template.messages as never)})`);
}
