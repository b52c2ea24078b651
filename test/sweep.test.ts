import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createDatabasePool, type DatabasePool } from "../src/db.js";
import { createLogger } from "../src/logger.js";
import { Sweeper } from "../src/services/sweeper.js";
import { awxSetStatus, awxWrapup, createAwxSchema } from "./helpers/awx.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { addTemplate } from "./helpers/jobs.js";

// Issue 10: after a long callback-receiver outage, 10,000 AWX jobs wait for wrapups that never
// come. The sweep fires them in bounded SKIP LOCKED batches (each batch its own short
// transaction, under a statement timeout) while AWX's writers keep writing the same rows —
// wrapups arriving late, reapers rewriting statuses, multi-row updates holding many row locks —
// and every job ends with exactly one final row, with no deadlock and no timeout.

const JOBS = 10_000;
const BATCH = 500;

let url: string;
let admin: pg.Client;
let pool: pg.Pool;
let sweeperDb: DatabasePool;

beforeAll(async () => {
  url = await createTestDatabase();
  admin = await connect(url);
  await createAwxSchema(admin);
  await admin.query("select notifier.attach_awx()");
  await addTemplate(admin, "finals", [{ trigger: "success" }, { trigger: "error" }]);
  pool = new pg.Pool({ connectionString: url, max: 8 });
  // The service's pool, with a statement timeout far below what one unbounded sweep would need.
  const sweeperUrl = new URL(url);
  sweeperUrl.searchParams.set("options", "-c statement_timeout=5s");
  sweeperDb = await createDatabasePool(sweeperUrl.toString(), { maximumPoolSize: 2 });
});

afterAll(async () => {
  await pool.end();
  await sweeperDb.end();
});

test(`${JOBS} overdue jobs are swept in batches while host writers run`, async () => {
  // AWX's runner finished them all, each with events dispatched (a wrapup required).
  await admin.query(
    `insert into main_unifiedjob
       (created, modified, description, name, polymorphic_ctype_id, emitted_events, launch_type, status, failed,
        started, finished, elapsed, job_args, job_cwd, job_env, job_explanation, start_args, result_traceback,
        celery_task_id, execution_node, controller_node, cancel_flag, dependencies_processed, task_impact,
        installed_collections, ansible_version)
     select now(), now(), '', 'job ' || n, (select id from django_content_type where model = 'job'), 10, 'manual',
            case when n % 3 = 0 then 'failed' else 'successful' end, n % 3 = 0, now(), now(), 1, '', '', '{}', '', '', '',
            '', '', '', false, false, 1, '{}', ''
       from generate_series(1, ${JOBS}) n`,
  );
  const { rows: ids } = await admin.query("select min(id)::int as first, max(id)::int as last from main_unifiedjob");
  const { first, last } = ids[0];
  await admin.query("update notifier.job_conditions set final_status_at = final_status_at - interval '1 hour' where attachment = 'awx'");
  await admin.query("update notifier.settings set wrapup_grace = '10 minutes'");

  const errors: unknown[] = [];
  let writing = true;
  const pick = () => first + Math.floor(Math.random() * (last - first + 1));
  const writer = async (work: (client: pg.PoolClient) => Promise<void>) => {
    while (writing) {
      const client = await pool.connect();
      try {
        await client.query("begin");
        await work(client);
        await client.query("commit");
      } catch (error) {
        errors.push(error);
        await client.query("rollback");
      } finally {
        client.release();
      }
    }
  };
  const writers = [
    // the callback receiver catching up: late wrapups
    writer((c) => awxWrapup(c, pick())),
    writer((c) => awxWrapup(c, pick())),
    // the reaper rewriting final statuses
    writer((c) => awxSetStatus(c, pick(), "error")),
    // a multi-row write holding many row locks in random order for a while
    writer(async (c) => {
      const some = Array.from({ length: 50 }, pick);
      await c.query("update main_unifiedjob set modified = now() where id = any ($1)", [some]);
      await c.query("select pg_sleep(0.02)");
    }),
  ];

  const sweeper = new Sweeper(sweeperDb, { intervalSeconds: 3600, batchSize: BATCH }, createLogger({ level: "silent" }));
  const overdue = async () =>
    (await admin.query(
      `select count(*)::int as n from notifier.job_conditions
        where attachment = 'awx' and final_condition_at is null and wrapup_required`,
    )).rows[0].n as number;
  let runs = 0;
  let expired = 0;
  while ((await overdue()) > 0) {
    expired += await sweeper.sweep();
    runs++;
    if (runs > 200) throw new Error("the sweep does not converge");
  }
  writing = false;
  await Promise.all(writers);

  expect(errors).toEqual([]); // no deadlock, no serialization failure, no timeout on the host side
  expect(expired).toBeGreaterThan(JOBS / 2); // most by the grace, the rest by a wrapup arriving first
  const { rows } = await admin.query(
    `select count(*)::int as jobs,
            count(*) filter (where finals = 1)::int as with_one_final
       from (select j.id, (select count(*) from notifier.notifications n where n.job_id = j.id and n.trigger <> 'started') as finals
               from main_unifiedjob j) per_job`,
  );
  expect(rows[0]).toEqual({ jobs: JOBS, with_one_final: JOBS });
  console.log(`sweep: ${JOBS} jobs, ${expired} expired by the grace in ${runs} run(s) of ${BATCH}-job batches`);
});
