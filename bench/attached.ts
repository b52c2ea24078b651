/**
 * Writes on an attached AWX-shaped main_unifiedjob (notifier.attach_awx) against the same table
 * without the product, 16 clients, interleaved rounds as in writes.ts:
 *   - ordinary writes: updates touching neither status nor host_status_counts, alternating with
 *     status changes that notify no one (pending <-> waiting), each as AWX's update_model issues
 *     them (SELECT … FOR UPDATE, then UPDATE … SET <fields>);
 *   - notifying transitions: running -> successful with emitted_events 0 (one row for one
 *     subscribed webhook), beside the floor of any in-transaction outbox (the bare UPDATE plus the
 *     same outbox INSERT, no triggers).
 */
import pg from "pg";
import { AWX_SCHEMA_SQL } from "../test/helpers/awx.js";
import { adminQuery } from "./database.js";
import { interleave, ratioOf, type RatioResult } from "./writes.js";

/** Schema `awx` attached, schema `awx_bare` the identical tables without the product. */
async function createAwxTables(url: string): Promise<void> {
  for (const schema of ["awx", "awx_bare"]) {
    await adminQuery(url, `create schema ${schema}; set search_path = ${schema}; ${AWX_SCHEMA_SQL}`);
  }
  await adminQuery(url, "select notifier.attach_awx('awx')");
  await adminQuery(url, "create table awx_bare.notifications (like notifier.notifications including all)");
}

async function insertJobs(url: string, schema: string, status: string, count: number): Promise<{ first: number; last: number }> {
  const { rows } = await adminQuery(
    url,
    `with inserted as (
       insert into ${schema}.main_unifiedjob
         (created, modified, description, name, polymorphic_ctype_id, emitted_events, unified_job_template_id, launch_type,
          status, failed, started, elapsed, job_args, job_cwd, job_env, job_explanation, start_args, result_traceback,
          celery_task_id, execution_node, controller_node, cancel_flag, dependencies_processed, task_impact,
          installed_collections, ansible_version)
       select now(), now(), '', 'bench ' || g, (select id from ${schema}.django_content_type where model = 'job'), 0, 1, 'manual',
              $1, false, now(), 0, '', '', '{}', '', '', '', '', 'node-1', '', false, false, 1, '{}', ''
         from generate_series(1, $2::int) g
       returning id)
     select min(id)::int as first, max(id)::int as last from inserted`,
    [status, count],
  );
  return rows[0];
}

/** AWX's update_model: lock the row, then set the fields. */
async function updateModel(client: pg.Client, name: string, schema: string, sets: string, jobId: number): Promise<void> {
  await client.query("begin");
  await client.query({ name: `lock_${name}`, text: `select id from ${schema}.main_unifiedjob where id = $1 for update`, values: [jobId] });
  await client.query({ name: `set_${name}`, text: `update ${schema}.main_unifiedjob set ${sets} where id = $1`, values: [jobId] });
  await client.query("commit");
}

export async function measureAttachedOrdinaryWrites(url: string, rounds: number, roundMs: number, clients: number): Promise<RatioResult> {
  await createAwxTables(url);
  const jobsPerClient = 20;
  const firsts = new Map<string, number>();
  for (const schema of ["awx", "awx_bare"]) firsts.set(schema, (await insertJobs(url, schema, "pending", clients * jobsPerClient)).first);
  await adminQuery(url, "vacuum analyze");
  const side = (name: string, schema: string) => ({
    name,
    transaction: async (client: pg.Client, index: number, iteration: number) => {
      const jobId = firsts.get(schema)! + index * jobsPerClient + (iteration >> 1) % jobsPerClient;
      if (iteration % 2 === 0) {
        await updateModel(client, `touch_${name}`, schema, "modified = now(), emitted_events = emitted_events + 1, execution_node = 'node-2'", jobId);
      } else {
        await updateModel(client, `status_${name}`, schema, "status = case status when 'pending' then 'waiting' else 'pending' end, modified = now()", jobId);
      }
      return true;
    },
  });
  return ratioOf(await interleave(url, [side("notifier", "awx"), side("bare", "awx_bare")], rounds, roundMs));
}

export async function measureAttachedNotifyingTransitions(
  url: string, rounds: number, roundMs: number, jobsPerSide: number, webhookUrl: string,
): Promise<RatioResult> {
  await createAwxTables(url);
  await adminQuery(url, `insert into notifier.notification_templates (name, notification_type, notification_configuration)
                         values ('bench', 'webhook', json_build_object('url', $1::text))`, [webhookUrl]);
  await adminQuery(url, `insert into notifier.subscriptions (notification_template_id, trigger) select id, 'success' from notifier.notification_templates`);
  const pools = new Map<string, { next: number; last: number }>();
  for (const [schema, count] of [["awx", jobsPerSide], ["awx_bare", jobsPerSide * 2]] as const) {
    const range = await insertJobs(url, schema, "running", count);
    pools.set(schema, { next: range.first, last: range.last });
  }
  await adminQuery(url, "vacuum analyze");
  const finish = "status = 'successful', failed = false, finished = now(), elapsed = 1, emitted_events = 0, modified = now()";
  const outbox = `
    with finished as (update awx_bare.main_unifiedjob set ${finish} where id = $1 returning *)
    insert into awx_bare.notifications (job_id, notification_template_id, trigger, notification_type, job_snapshot)
    select f.id, t.id, 'success', t.notification_type, to_jsonb(f) - array['job_env', 'job_args', 'start_args']
      from finished f cross join notifier.notification_templates t`;
  const side = (name: string, schema: string, withOutbox = false) => ({
    name,
    transaction: async (client: pg.Client) => {
      const pool = pools.get(schema)!;
      if (pool.next > pool.last) return false;
      const jobId = pool.next++;
      await client.query("begin");
      await client.query({ name: `lock_${name}`, text: `select id from ${schema}.main_unifiedjob where id = $1 for update`, values: [jobId] });
      await client.query({
        name: `finish_${name}`,
        text: withOutbox ? outbox : `update ${schema}.main_unifiedjob set ${finish} where id = $1`,
        values: [jobId],
      });
      await client.query("commit");
      return true;
    },
  });
  const result = ratioOf(
    await interleave(url, [side("notifier", "awx"), side("bare", "awx_bare"), side("bare_with_outbox", "awx_bare", true)], rounds, roundMs),
    ["bare_with_outbox"],
  );
  const created = (await adminQuery(url, "select count(*)::int as n from notifier.notifications")).rows[0].n as number;
  const finished = (await adminQuery(url, "select count(*)::int as n from awx.main_unifiedjob where status = 'successful'")).rows[0].n as number;
  if (created !== finished) throw new Error(`attached transitions: ${finished} jobs finished but ${created} notifications created`);
  return result;
}
