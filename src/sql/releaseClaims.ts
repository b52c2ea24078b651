import { sql, type CommonQueryMethods } from "../db.js";

/** On shutdown: gives back every row `worker` still holds, so another process sends it now. */
export async function releaseClaims(db: CommonQueryMethods, worker: string): Promise<number> {
  const result = await db.query(sql.unsafe`
    update notifier.notifications
       set locked_by = null,
           locked_until = null
     where locked_by = ${worker}
       and status = 'pending'`);
  return result.rowCount;
}
