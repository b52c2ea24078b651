import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";

/** notifier.attach_awx(): the AWX preset on schema `schema`; returns the SQL it ran (or would run, dryRun). */
export async function attachAwx(db: CommonQueryMethods, schema: string, dryRun = false): Promise<string> {
  return db.oneFirst(sql.type(z.object({ ddl: z.string() }))`
    select notifier.attach_awx(${schema}, dry_run => ${dryRun}) as ddl`);
}
