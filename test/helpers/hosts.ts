import type pg from "pg";
import { awxSetStatus, awxWrapup, createAwxJob, createAwxSchema, updateModel } from "./awx.js";
import { connect, createTestDatabase } from "./database.js";
import { insertJob, saveStatsEvent, setStatus } from "./jobs.js";

type Queryable = Pick<pg.ClientBase, "query">;

/**
 * The two ways a host writes jobs, so the concurrency suites (interleavings, isolation, stress)
 * run once per way: the product's own notifier.jobs, and AWX's main_unifiedjob attached with
 * `notifier.attach_awx()`, written as AWX writes it.
 */
export interface Host {
  name: string;
  /** The job table and its attachment name (notifier.job_conditions.attachment). */
  table: string;
  attachment: string;
  /** The host-written column saying when the job finished. */
  finishedColumn: string;
  /** A migrated database of its own, with the host's tables (attached). */
  createDatabase(): Promise<string>;
  /** A job already running (its started rows created). */
  runningJob(db: Queryable, name?: string): Promise<number>;
  /** A job not started yet. */
  pendingJob(db: Queryable, name?: string): Promise<number>;
  /** Condition A or any status write; `dispatched` says whether a wrapup is on its way. */
  setStatus(db: Queryable, id: number, status: string, dispatched?: boolean): Promise<void>;
  /** Marks the wrapup as dispatched ahead of the final status. */
  dispatch(db: Queryable, id: number): Promise<void>;
  /** Condition B, as the host's callback receiver writes it. */
  wrapup(db: Queryable, id: number, stats?: unknown): Promise<void>;
}

export const OWN_TABLES: Host = {
  name: "own tables",
  table: "notifier.jobs",
  attachment: "notifier.jobs",
  finishedColumn: "finished_at",
  createDatabase: createTestDatabase,
  runningJob: (db, name) => insertJob(db, { status: "running", ...(name ? { name } : {}) }),
  pendingJob: (db, name) => insertJob(db, { status: "pending", ...(name ? { name } : {}) }),
  setStatus,
  dispatch: async (db, id) => {
    await db.query("update notifier.jobs set wrapup_dispatched = true where id = $1", [id]);
  },
  wrapup: saveStatsEvent,
};

export const AWX_FIXTURE: Host = {
  name: "AWX fixture",
  table: "main_unifiedjob",
  attachment: "awx",
  finishedColumn: "finished",
  createDatabase: async () => {
    const url = await createTestDatabase();
    const db = await connect(url);
    await createAwxSchema(db);
    await db.query("select notifier.attach_awx()");
    return url;
  },
  runningJob: async (db, name) => {
    const id = await createAwxJob(db, "job", { name });
    await awxSetStatus(db, id, "running");
    return id;
  },
  pendingJob: async (db, name) => {
    const id = await createAwxJob(db, "job", { name });
    await awxSetStatus(db, id, "pending");
    return id;
  },
  setStatus: (db, id, status, dispatched) => awxSetStatus(db, id, status, dispatched === undefined ? undefined : dispatched ? 12 : 0),
  dispatch: (db, id) => updateModel(db, id, { emitted_events: "7" }),
  wrapup: awxWrapup,
};

export const HOSTS = [OWN_TABLES, AWX_FIXTURE];
