import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";

/** Sets the database-wide kill switch notifier.settings.delivery_paused (migration 41). */
export async function setDeliveryPaused(db: CommonQueryMethods, paused: boolean): Promise<void> {
  await db.query(sql.unsafe`update notifier.settings set delivery_paused = ${paused}`);
}

/** Whether delivery is paused database-wide. */
export async function isDeliveryPaused(db: CommonQueryMethods): Promise<boolean> {
  return db.oneFirst(sql.type(z.object({ paused: z.boolean() }))`select delivery_paused as paused from notifier.settings`);
}
