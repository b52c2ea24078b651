import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";

/**
 * Sets the database-wide lost-wrapup grace notifier.settings.wrapup_grace (migrations 30 and
 * 38) and returns it before and after, in seconds. The row is locked first, so the value
 * reported as the old one is the one this write replaced, whatever else writes it at once.
 */
export async function setWrapupGrace(db: CommonQueryMethods, seconds: number): Promise<{ previousSeconds: number; seconds: number }> {
  return db.one(sql.type(z.object({ previousSeconds: z.number(), seconds: z.number() }))`
    update notifier.settings s
       set wrapup_grace = make_interval(secs => ${seconds})
      from (select g.wrapup_grace from notifier.settings g for update) old
    returning extract(epoch from old.wrapup_grace)::float8 as "previousSeconds",
              extract(epoch from s.wrapup_grace)::float8 as "seconds"`);
}
