import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";

/** Fires the final notifications of jobs whose wrapup event is overdue; returns how many jobs. */
export async function expireWrapups(db: CommonQueryMethods, graceSeconds: number): Promise<number> {
  return db.oneFirst(sql.type(z.object({ expired: z.number() }))`
    select notifier.expire_wrapups(make_interval(secs => ${graceSeconds}::float8)) as expired`);
}
