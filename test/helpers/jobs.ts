import type pg from "pg";

/** The SQL a host system runs, as small helpers for protocol tests. */
type Queryable = Pick<pg.ClientBase, "query">;

export interface JobFields {
  kind?: string;
  name?: string;
  status?: string;
  job_template_id?: number | null;
  organization_id?: number | null;
  wrapup_dispatched?: boolean;
  host_status_counts?: unknown;
}

export async function insertJob(db: Queryable, fields: JobFields = {}): Promise<number> {
  const columns = Object.keys(fields);
  const values = Object.values(fields).map((v) => (v !== null && typeof v === "object" ? JSON.stringify(v) : v));
  const { rows } = await db.query(
    columns.length === 0
      ? "insert into notifier.jobs default values returning id"
      : `insert into notifier.jobs (${columns.join(", ")}) values (${columns.map((_, i) => `$${i + 1}`).join(", ")}) returning id`,
    values,
  );
  return Number(rows[0].id);
}

/** Condition A (or any status change), as the job runner writes it. */
export async function setStatus(db: Queryable, jobId: number, status: string, wrapupDispatched?: boolean): Promise<void> {
  if (wrapupDispatched === undefined) {
    await db.query("update notifier.jobs set status = $2 where id = $1", [jobId, status]);
  } else {
    await db.query("update notifier.jobs set status = $2, wrapup_dispatched = $3 where id = $1", [jobId, status, wrapupDispatched]);
  }
}

/** Condition B, as the callback receiver writes it: the wrapup event row. */
export async function saveStatsEvent(db: Queryable, jobId: number, eventData: unknown = { ok: { h1: 1 } }): Promise<void> {
  await db.query("insert into notifier.job_events (job_id, event, event_data) values ($1, 'playbook_on_stats', $2)", [
    jobId,
    JSON.stringify(eventData),
  ]);
}

/** A template of any type with subscriptions; returns its id. */
export async function addTemplate(
  db: Queryable,
  name: string,
  subscriptions: { trigger: string; job_template_id?: number | null; organization_id?: number | null }[] = [
    { trigger: "started" },
    { trigger: "success" },
    { trigger: "error" },
  ],
): Promise<number> {
  const { rows } = await db.query(
    `insert into notifier.notification_templates (name, notification_type, notification_configuration)
     values ($1, 'webhook', '{"url": "http://127.0.0.1:9/hook"}') returning id`,
    [name],
  );
  const id = Number(rows[0].id);
  for (const s of subscriptions) {
    await db.query(
      "insert into notifier.subscriptions (notification_template_id, trigger, job_template_id, organization_id) values ($1, $2, $3, $4)",
      [id, s.trigger, s.job_template_id ?? null, s.organization_id ?? null],
    );
  }
  return id;
}

export interface NotificationRow {
  id: number;
  job_id: number;
  notification_template_id: number;
  trigger: string;
  status: string;
  job_snapshot: Record<string, unknown>;
}

/** The notification rows of a job, as seen by `db` (a committed view unless db is inside the writer). */
export async function notificationsOf(db: Queryable, jobId: number): Promise<NotificationRow[]> {
  const { rows } = await db.query(
    `select id::int, job_id::int, notification_template_id::int, trigger, status, job_snapshot
       from notifier.notifications where job_id = $1 order by id`,
    [jobId],
  );
  return rows;
}

/** The triggers of a job's notification rows, in creation order, e.g. ["started", "success"]. */
export async function triggersOf(db: Queryable, jobId: number): Promise<string[]> {
  return (await notificationsOf(db, jobId)).map((n) => n.trigger);
}

/**
 * Resolves once backend `pid` waits on a lock (seen from another session), so a test can prove
 * a writer is blocked on the row lock rather than guess with a sleep.
 */
export async function waitUntilBlocked(observer: Queryable, pid: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await observer.query("select wait_event_type from pg_stat_activity where pid = $1", [pid]);
    if (rows[0]?.wait_event_type === "Lock") return;
    if (Date.now() > deadline) throw new Error(`backend ${pid} never blocked on a lock`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function backendPid(db: Queryable): Promise<number> {
  const { rows } = await db.query("select pg_backend_pid() as pid");
  return rows[0].pid;
}
