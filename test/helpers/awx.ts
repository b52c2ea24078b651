import type pg from "pg";

/**
 * AWX's own tables as AWX 21+ creates them (Django DDL read from awx/main/models: unified_jobs.py,
 * jobs.py, projects.py, inventory.py, ad_hoc_commands.py, workflow.py, events.py; migrations 0144
 * and 0161), with the columns REFERENCE.md lists, and AWX's writers as AWX issues them.
 */
type Queryable = Pick<pg.ClientBase, "query">;

export const AWX_KINDS = {
  job: "job",
  projectupdate: "project_update",
  inventoryupdate: "inventory_update",
  adhoccommand: "ad_hoc_command",
  systemjob: "system_job",
  workflowjob: "workflow_job",
  workflowapproval: "workflow_approval",
} as const;
export type AwxModel = keyof typeof AWX_KINDS;

/** The child table of each polymorphic model (multi-table inheritance, keyed by unifiedjob_ptr_id). */
const CHILD_TABLES: Record<AwxModel, string> = {
  job: "main_job",
  projectupdate: "main_projectupdate",
  inventoryupdate: "main_inventoryupdate",
  adhoccommand: "main_adhoccommand",
  systemjob: "main_systemjob",
  workflowjob: "main_workflowjob",
  workflowapproval: "main_workflowapproval",
};

export const AWX_SCHEMA_SQL = `
create table django_content_type (
  id serial primary key,
  app_label varchar(100) not null,
  model varchar(100) not null,
  constraint django_content_type_app_label_model_76bd3d3b_uniq unique (app_label, model)
);
insert into django_content_type (app_label, model) values
  ('auth', 'user'), ('main', 'organization'), ('main', 'unifiedjobtemplate'), ('main', 'unifiedjob'),
  ('main', 'job'), ('main', 'projectupdate'), ('main', 'inventoryupdate'), ('main', 'adhoccommand'),
  ('main', 'systemjob'), ('main', 'workflowjob'), ('main', 'workflowapproval');

create table main_unifiedjob (
  id serial primary key,
  created timestamptz not null,
  modified timestamptz not null,
  description text not null,
  name varchar(512) not null,
  polymorphic_ctype_id integer references django_content_type (id) deferrable initially deferred,
  emitted_events integer not null check (emitted_events >= 0),
  unified_job_template_id integer,
  launch_type varchar(20) not null,
  status varchar(20) not null,
  failed boolean not null,
  started timestamptz,
  finished timestamptz,
  canceled_on timestamptz,
  elapsed numeric(12, 3) not null,
  job_args text not null,
  job_cwd varchar(1024) not null,
  job_env jsonb not null,
  job_explanation text not null,
  start_args text not null,
  result_traceback text not null,
  celery_task_id varchar(100) not null,
  execution_node text not null,
  controller_node text not null,
  cancel_flag boolean not null,
  dependencies_processed boolean not null,
  organization_id integer,
  task_impact smallint not null check (task_impact >= 0),
  installed_collections jsonb not null,
  ansible_version varchar(255) not null,
  instance_group_id integer,
  preferred_instance_groups_cache jsonb,
  work_unit_id varchar(255),
  schedule_id integer,
  old_pk integer,
  created_by_id integer,
  modified_by_id integer,
  host_status_counts jsonb
);
create index main_unifiedjob_polymorphic_ctype_id_idx on main_unifiedjob (polymorphic_ctype_id);
create index main_unifiedjob_status_idx on main_unifiedjob (status);
create index main_unifiedjob_created_idx on main_unifiedjob (created);
create index main_unifiedjob_finished_idx on main_unifiedjob (finished);
create index main_unifiedjob_organization_id_idx on main_unifiedjob (organization_id);
create index main_unifiedjob_unified_job_template_id_idx on main_unifiedjob (unified_job_template_id);

create table main_job (
  unifiedjob_ptr_id integer primary key references main_unifiedjob (id) deferrable initially deferred,
  job_type varchar(64) not null default 'run',
  playbook varchar(1024) not null default '',
  forks integer not null default 0,
  "limit" text not null default '',
  verbosity integer not null default 0,
  extra_vars text not null default '',
  job_tags varchar(1024) not null default '',
  inventory_id integer,
  project_id integer,
  job_template_id integer
);
create table main_projectupdate (unifiedjob_ptr_id integer primary key references main_unifiedjob (id) deferrable initially deferred, job_type varchar(64) not null default 'check');
create table main_inventoryupdate (unifiedjob_ptr_id integer primary key references main_unifiedjob (id) deferrable initially deferred, source varchar(32) not null default '');
create table main_adhoccommand (unifiedjob_ptr_id integer primary key references main_unifiedjob (id) deferrable initially deferred, module_name varchar(1024) not null default 'command');
create table main_systemjob (unifiedjob_ptr_id integer primary key references main_unifiedjob (id) deferrable initially deferred, job_type varchar(32) not null default '');
create table main_workflowjob (unifiedjob_ptr_id integer primary key references main_unifiedjob (id) deferrable initially deferred, extra_vars text not null default '');
create table main_workflowapproval (
  unifiedjob_ptr_id integer primary key references main_unifiedjob (id) deferrable initially deferred,
  timeout integer not null default 0,
  timed_out boolean not null default false,
  approved_or_denied_by_id integer
);

-- Events: partitioned by job_created, hourly partitions created by AWX, no foreign key to jobs.
create table main_jobevent (
  id bigserial not null,
  created timestamptz not null,
  modified timestamptz not null,
  job_created timestamptz not null,
  event varchar(100) not null,
  event_data text not null,
  failed boolean not null default false,
  changed boolean not null default false,
  uuid varchar(1024) not null default '',
  counter integer not null check (counter >= 0),
  job_id integer,
  host_name varchar(1024) not null default '',
  stdout text not null default '',
  primary key (id, job_created)
) partition by range (job_created);
create index main_jobevent_job_id_idx on main_jobevent (job_id);
`;

/** AWX's hourly event partition for jobs created in the hour of `jobCreated`. */
export async function createEventPartition(db: Queryable, jobCreated: Date): Promise<string> {
  const start = new Date(jobCreated);
  start.setUTCMinutes(0, 0, 0);
  const end = new Date(start.getTime() + 3600_000);
  const name = `main_jobevent_${start.toISOString().slice(0, 13).replace(/[-T]/g, "_")}`;
  await db.query(
    `create table if not exists ${name} partition of main_jobevent for values from ('${start.toISOString()}') to ('${end.toISOString()}')`,
  );
  return name;
}

export async function createAwxSchema(db: Queryable): Promise<void> {
  await db.query(AWX_SCHEMA_SQL);
}

/** A new job as AWX's `UnifiedJobTemplate.create_unified_job()` saves it: status new, nothing emitted. */
export async function createAwxJob(
  db: Queryable,
  model: AwxModel = "job",
  fields: { name?: string; templateId?: number | null; organizationId?: number | null; status?: string } = {},
): Promise<number> {
  const { rows } = await db.query(
    `insert into main_unifiedjob
       (created, modified, description, name, polymorphic_ctype_id, emitted_events, unified_job_template_id,
        launch_type, status, failed, elapsed, job_args, job_cwd, job_env, job_explanation, start_args,
        result_traceback, celery_task_id, execution_node, controller_node, cancel_flag, dependencies_processed,
        organization_id, task_impact, installed_collections, ansible_version, created_by_id)
     values (now(), now(), '', $1, (select id from django_content_type where app_label = 'main' and model = $2), 0, $3,
             'manual', $4, false, 0, '["ansible-playbook", "-u", "admin", "--vault-password-file", "secret"]', '/runner',
             '{"AWX_TOKEN": "s3cr3t-token", "ANSIBLE_PASSWORD": "hunter2"}', '', '{"password": "hunter2"}',
             '', '', '', '', false, false, $5, 1, '{}', '', 1)
     returning id`,
    [fields.name ?? `${model} job`, model, fields.templateId ?? null, fields.status ?? "new", fields.organizationId ?? null],
  );
  const id = Number(rows[0].id);
  const child = CHILD_TABLES[model];
  await db.query(
    model === "job"
      ? `insert into ${child} (unifiedjob_ptr_id, playbook, "limit", inventory_id, project_id) values ($1, 'site.yml', 'web', 3, 4)`
      : `insert into ${child} (unifiedjob_ptr_id) values ($1)`,
    [id],
  );
  return id;
}

/**
 * AWX's `update_model(UnifiedJob, pk, select_for_update=True, **fields)`: in the caller's
 * transaction (AWX wraps it in transaction.atomic), SELECT … FOR UPDATE then UPDATE … SET the
 * given fields only. Values are SQL expressions.
 */
export async function updateModel(db: Queryable, id: number, fields: Record<string, string>, values: unknown[] = []): Promise<void> {
  await db.query("select id, status from main_unifiedjob where id = $1 for update", [id]);
  const sets = Object.entries(fields).map(([column, expression]) => `"${column}" = ${expression}`);
  await db.query(`update main_unifiedjob set ${sets.join(", ")} where id = $1`, [id, ...values]);
}

const FINAL = new Set(["successful", "failed", "error", "canceled"]);

/**
 * The runner's status write (tasks/jobs.py): running with `started`; a final status with failed,
 * finished, elapsed and emitted_events (the events it dispatched: > 0 when a wrapup is on its way).
 */
export async function awxSetStatus(db: Queryable, id: number, status: string, emittedEvents?: number): Promise<void> {
  const fields: Record<string, string> = { status: "$2", modified: "now()" };
  const values: unknown[] = [status];
  if (status === "running") fields.started = "now()";
  if (FINAL.has(status)) {
    fields.failed = `${status !== "successful"}`;
    fields.finished = "now()";
    fields.elapsed = "extract(epoch from now() - coalesce(started, now()))";
    fields.job_explanation = "''";
  }
  if (emittedEvents !== undefined) {
    fields.emitted_events = "$3";
    values.push(emittedEvents);
  }
  await updateModel(db, id, fields, values);
}

/** The callback receiver's `job_stats_wrapup`: host_status_counts in its own locked update. */
export async function awxWrapup(db: Queryable, id: number, stats: unknown = { ok: { h1: 1 } }): Promise<void> {
  await updateModel(db, id, { host_status_counts: "notifier.host_status_counts_from_stats($2::jsonb)" }, [JSON.stringify(stats)]);
}

/** The callback receiver's bulk save of events into the job's hourly partition (before the wrapup). */
export async function awxSaveEvents(db: Queryable, id: number, events: string[]): Promise<void> {
  const { rows } = await db.query("select created from main_unifiedjob where id = $1", [id]);
  const partition = await createEventPartition(db, rows[0].created);
  const values = events.map((_, i) => `(now(), now(), $2, $${i + 3}, '{}', ${i}, $1)`).join(", ");
  await db.query(
    `insert into ${partition} (created, modified, job_created, event, event_data, counter, job_id) values ${values}`,
    [id, rows[0].created, ...events],
  );
}

/**
 * Django's `save()` without update_fields: every column rewritten with the values the model
 * instance holds (`stale`, read earlier, with `changes` applied on top).
 */
export async function awxFullSave(db: Queryable, id: number, stale: Record<string, unknown>, changes: Record<string, unknown> = {}): Promise<void> {
  const { rows } = await db.query(
    `select string_agg(format('%I = r.%I', attname, attname), ', ') as sets
       from pg_attribute where attrelid = 'main_unifiedjob'::regclass and attnum > 0 and not attisdropped and attname <> 'id'`,
  );
  await db.query(
    `update main_unifiedjob t set ${rows[0].sets} from jsonb_populate_record(null::main_unifiedjob, $2) r where t.id = $1`,
    [id, JSON.stringify({ ...stale, ...changes })],
  );
}

/** The row as Django would hold it in memory (for a later full save). */
export async function awxLoad(db: Queryable, id: number): Promise<Record<string, unknown>> {
  const { rows } = await db.query("select to_jsonb(j) as j from main_unifiedjob j where id = $1", [id]);
  return rows[0].j;
}

/** The table definitions AWX's tables have, to compare before/after attach (columns, indexes, constraints, triggers). */
export async function tableShape(db: Queryable, tables: string[]): Promise<unknown> {
  const { rows } = await db.query(
    `select c.oid::regclass::text as relname,
            (select json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                                               'notnull', a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid)) order by a.attnum)
               from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
              where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns,
            (select json_agg(pg_get_indexdef(i.indexrelid) order by 1) from pg_index i where i.indrelid = c.oid) as indexes,
            (select json_agg(pg_get_constraintdef(k.oid) order by 1) from pg_constraint k where k.conrelid = c.oid) as constraints,
            (select json_agg(t.tgname order by 1) from pg_trigger t where t.tgrelid = c.oid and not t.tgisinternal) as triggers
       from pg_class c where c.relname = any ($1) and c.relkind in ('r', 'p') order by 1`,
    [tables],
  );
  return rows;
}
