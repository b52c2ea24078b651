import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";

/** Pending rows, claimed or not (the backlog gauge). */
export async function countBacklog(db: CommonQueryMethods): Promise<number> {
  return db.oneFirst(sql.type(z.object({ pending: z.number() }))`
    select count(*) as pending from notifier.notifications where status = 'pending'`);
}
