import { z } from "zod";
import { epochMs, sql, type CommonQueryMethods } from "../db.js";

export const Attachment = z.object({
  name: z.string(),
  preset: z.string(),
  table: z.string(),
  healthy: z.boolean(),
  /** One sentence per problem: a trigger missing or disabled, a column or the table gone. */
  problems: z.array(z.string()),
  attachedAt: z.number(),
});
export type Attachment = z.infer<typeof Attachment>;

/** notifier.attachments(): every attachment with its health. */
export async function listAttachments(db: CommonQueryMethods): Promise<readonly Attachment[]> {
  return db.any(sql.type(Attachment)`
    select a.name, a.preset, a."table", a.healthy, a.problems, ${epochMs("a.attached_at")} as "attachedAt"
      from notifier.attachments() a
     order by a.name`);
}
