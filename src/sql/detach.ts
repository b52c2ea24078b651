import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";

/** notifier.detach(): drops exactly what attach created on the host table; returns the SQL it ran. */
export async function detach(db: CommonQueryMethods, name: string): Promise<string> {
  return db.oneFirst(sql.type(z.object({ ddl: z.string() }))`select notifier.detach(${name}) as ddl`);
}
