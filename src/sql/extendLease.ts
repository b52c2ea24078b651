import { sql, type CommonQueryMethods } from "../db.js";

/** Pushes back the lease of rows `worker` still holds, while their sends are queued or running. */
export async function extendLease(db: CommonQueryMethods, worker: string, ids: readonly string[], leaseSeconds: number): Promise<void> {
  if (ids.length === 0) return;
  await db.query(sql.unsafe`
    update notifier.notifications
       set locked_until = now() + make_interval(secs => ${leaseSeconds}::float8)
     where id = any(${sql.array(ids, "int8")})
       and status = 'pending'
       and locked_by = ${worker}`);
}
