--! Previous: sha1:e132afb3c0acc3879001fa5d3f5964357542cd29
--! Hash: sha1:8c96e966e54502d27e47d35f33827c603f50f77c
--! Message: attach the protocol to a host's own job table (AWX preset first)

-- A host keeps its own jobs table and keeps writing it; the product attaches to it:
--
--   select notifier.attach_awx();                      -- AWX 21+, schema public
--   select notifier.attach_table('ci.builds', id_column => 'id', status_column => 'state',
--            wrapup_column => 'summary', status_map => '{"done": "successful", …}');
--   select * from notifier.attachments();              -- with health
--   select notifier.detach('awx');
--
-- Each attach validates everything first (a missing column or one of the wrong type: one error
-- naming it, SQLSTATE 22023, nothing created), then creates, on the host table, only row triggers
-- named notifier_* and, in schema notifier, three functions named after the attachment:
--   notifier.<stem>__facts(row)     what the row means to the protocol (notifier.job_facts)
--   notifier.<stem>__snapshot(row)  the job as messages describe it (jsonb)
--   notifier.tg_<stem>__write()     the trigger: notifier.decide(), then create_notifications()
-- For a host whose only B signal is an event row, attach_table(…, wrapup_events => 'schema.events')
-- adds one AFTER INSERT row trigger on the events table (on a partitioned parent it covers every
-- partition, present and future) with a WHEN on the event name, so bulk inserts of other events
-- call nothing; it locks the host job row first (lock order host row → product row).
-- The host table gains no column, index or constraint; no host row is written. Pass
-- dry_run => true to get the SQL without running it (docs/attaching.md shows it).
--
-- The triggers: AFTER INSERT, and AFTER UPDATE OF <status>, <wrapup>, each FOR EACH ROW with a
-- WHEN clause that passes only a transition (status becoming running, becoming final, the wrapup
-- becoming non-NULL). An update touching neither column never evaluates the WHEN; one touching
-- them without a transition (a Django full-row save, a reaper rewriting final → final) evaluates
-- it and runs no function. The trigger runs while the writer holds the host row's lock.
--
-- Locks (taken by attach/detach, not by this migration): CREATE TRIGGER takes SHARE ROW
-- EXCLUSIVE on the host table (blocks its writes, not its reads, for the moment it takes);
-- DROP TRIGGER takes ACCESS EXCLUSIVE. Both run with lock_timeout (5 s unless the caller set one),
-- so a long transaction on the host table makes attach fail fast instead of queueing the host's
-- writes behind it. This migration itself only creates new objects in schema notifier.

-- The registry: one row per attachment.
create table notifier.attachment_registry (
  name              text primary key,   -- 'notifier.jobs', 'awx', or 'schema.table'
  preset            text not null check (preset in ('own', 'awx', 'table')),
  table_schema      text not null,
  table_name        text not null,
  id_column         text not null,
  status_column     text not null,
  wrapup_column     text,               -- B: non-NULL means the wrapup was processed
  stem              text not null unique,
  facts_sql         text not null,      -- the select list of notifier.<stem>__facts over the row's columns
  snapshot_sql      text not null,      -- the jsonb of notifier.<stem>__snapshot over the row's columns
  wrapup_event_sql  text not null,      -- text over the facts f: the wrapup's name in explain and the view
  status_map        jsonb,              -- host word → AWX word, when the host has its own vocabulary
  awx_approvals     text,               -- awx: the main_workflowapproval table (timed_out)
  events_table      text,               -- B from an event row instead: the (possibly partitioned) events table
  event_job_column  text,               -- its column holding the host job id
  event_name_column text,               -- its column holding the event's name
  wrapup_event_names text[],            -- the names that are the wrapup
  attached_at       timestamptz not null default now(),
  unique (table_schema, table_name)
);

comment on table notifier.attachment_registry is
  'The job tables the protocol is attached to. Written by notifier.attach_* and notifier.detach.';

grant select on notifier.attachment_registry to ":NOTIFIER_SERVICE_ROLE", ":NOTIFIER_READONLY_ROLE";

-- Raises the one-line validation error every attach check uses (SQLSTATE 22023).
create function notifier.attach_error(message text) returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception using errcode = 'invalid_parameter_value', message = 'attach: ' || message;
end;
$$;

-- Checks that schema.table.column exists with a type of `kind` (integer | text | boolean | jsonb
-- | timestamptz | any); returns nothing, raises one line naming the column otherwise.
create function notifier.attach_check_column(schema_name text, table_name text, column_name text, kind text)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  relation oid := to_regclass(format('%I.%I', schema_name, table_name));
  type_oid oid;
  type_name text;
begin
  if relation is null then
    perform notifier.attach_error(format('table %I.%I does not exist', schema_name, table_name));
  end if;
  select a.atttypid into type_oid
    from pg_catalog.pg_attribute a
   where a.attrelid = relation and a.attname = column_name and a.attnum > 0 and not a.attisdropped;
  if not found then
    perform notifier.attach_error(format('column %I.%I.%I does not exist', schema_name, table_name, column_name));
  end if;
  type_name := format_type(type_oid, null);
  if not (case kind
       when 'any' then true
       when 'integer' then type_oid in ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
       when 'text' then type_oid in ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'name'::regtype)
                        or exists (select 1 from pg_catalog.pg_type t where t.oid = type_oid and t.typtype = 'e')
       when 'boolean' then type_oid = 'bool'::regtype
       when 'jsonb' then type_oid = 'jsonb'::regtype
       when 'timestamptz' then type_oid in ('timestamptz'::regtype, 'timestamp'::regtype)
     end) then
    perform notifier.attach_error(format('column %I.%I.%I is %s, expected %s',
                                         schema_name, table_name, column_name, type_name, kind));
  end if;
end;
$$;

-- Checks that a caller's SQL expression over the table's row compiles to `type` (boolean, text).
create function notifier.attach_check_expression(schema_name text, table_name text, option text, expression text, type text)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  execute format('select (%s)::%s from (select (null::%I.%I).*) r limit 0', expression, type, schema_name, table_name);
exception when others then
  perform notifier.attach_error(format('%s %s: %s', option, expression, sqlerrm));
end;
$$;

-- The host words of an AWX status word under a status map (the word itself unless it is remapped).
create function notifier.attach_host_words(status_map jsonb, awx_words text[]) returns text[]
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
  select coalesce(array_agg(distinct word order by word), '{}')
    from (select m.key as word from jsonb_each_text(coalesce(status_map, '{}')) m where m.value = any (awx_words)
          union
          select w from unnest(awx_words) w where not coalesce(status_map, '{}') ? w) words
$$;

-- The status of `row_name` (new / old / r) in AWX's words.
create function notifier.attach_status_sql(a notifier.attachment_registry, row_name text) returns text
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
  select case when a.status_map is null then format('%s.%I::text', row_name, a.status_column)
              else format('coalesce(%L::jsonb ->> %s.%I::text, %2$s.%3$I::text)', a.status_map, row_name, a.status_column) end
$$;

-- The NOLOGIN role that owns the product's SECURITY DEFINER functions (migration 000013): the
-- trigger functions attach generates are handed to it, so a host write runs product code with
-- that role's few privileges, never with those of whoever attached (often a superuser).
create function notifier.owner_role() returns text
language sql immutable
set search_path = pg_catalog, pg_temp
as $$ select ':NOTIFIER_OWNER_ROLE'::text $$;

-- The host tables an attachment's generated SQL reads: the job table, and for AWX the tables its
-- kind, snapshot and approvals read.
create function notifier.attachment_tables(a notifier.attachment_registry) returns text[]
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
  select array[format('%I.%I', a.table_schema, a.table_name)]
         || case when a.preset = 'awx' then array[format('%I.django_content_type', a.table_schema),
                                                  format('%I.main_job', a.table_schema), a.awx_approvals]
                 else '{}'::text[] end
$$;

-- The whole DDL of an attachment, as it is run (dry_run shows it).
create function notifier.attachment_ddl(a notifier.attachment_registry) returns text
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  host constant text := format('%I.%I', a.table_schema, a.table_name);
  facts constant text := format('notifier.%I', a.stem || '__facts');
  snapshot constant text := format('notifier.%I', a.stem || '__snapshot');
  tg constant text := format('notifier.%I', 'tg_' || a.stem || '__write');
  running text := quote_literal(notifier.attach_host_words(a.status_map, array['running'])::text);
  final text := quote_literal(notifier.attach_host_words(a.status_map, array['successful', 'failed', 'error', 'canceled'])::text);
  status_new text := format('new.%I::text', a.status_column);
  status_old text := format('old.%I::text', a.status_column);
  wrapup_new text := case when a.wrapup_column is null then 'false' else format('new.%I is not null', a.wrapup_column) end;
  wrapup_old text := case when a.wrapup_column is null then 'false' else format('old.%I is not null', a.wrapup_column) end;
  ddl text;
begin
  ddl := format($ddl$
-- What a row of %1$s means to the protocol.
create or replace function %2$s(j %1$s) returns notifier.job_facts
language sql stable
set search_path = pg_catalog, pg_temp
as %3$L;

-- The job as its notifications describe it.
create or replace function %4$s(j %1$s) returns jsonb
language sql stable
set search_path = pg_catalog, pg_temp
as %5$L;

-- Runs while the writer holds the row's lock: the decision, then the rows it fired. The facts and
-- the snapshot are those of %2$s and %4$s, written out as statements so that their
-- plans are kept for the session (a SQL function called from PL/pgSQL is planned on every call).
create or replace function %6$s() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as %7$L;

create or replace trigger notifier_100_job_insert
  after insert on %1$s
  for each row
  when (%8$s::text[] @> array[%9$s] or %10$s)
  execute function %6$s();

create or replace trigger notifier_100_job_update
  after update of %11$s on %1$s
  for each row
  when ((%9$s = any (%12$s::text[]) and %9$s is distinct from %13$s)
        or (%9$s = any (%14$s::text[]) and not coalesce(%13$s = any (%14$s::text[]), false))
        or (%10$s and not %15$s))
  execute function %6$s();
$ddl$,
    host, facts,
    format('select %s from (select (j).*) r', a.facts_sql),
    snapshot,
    format('select %s from (select (j).*) r', a.snapshot_sql),
    tg,
    format($body$
declare
  f notifier.job_facts;
  was_final boolean := false;
  d record;
  snapshot jsonb;
begin
  select %1$s into f from (select (new).*) r;
  if tg_op = 'UPDATE' then
    was_final := coalesce(notifier.is_final_status(%2$s), false);
  end if;
  select * into d
    from notifier.decide(%3$L, f.id, f.kind, f.status, notifier.is_final_status(f.status) and not was_final,
                         f.dispatched, f.wrapup_arrived);
  if cardinality(d.fire) > 0 then
    select %4$s into snapshot from (select (new).*) r;
    perform notifier.create_notifications(f.id, f.kind, f.job_template_id, f.organization_id, d.fire,
              snapshot || jsonb_build_object('wrapup_expired_at', d.wrapup_expired_at));
  end if;
  return null;
end;
$body$, a.facts_sql, notifier.attach_status_sql(a, 'old'), a.name, a.snapshot_sql),
    -- INSERT: running or final, or the wrapup already there
    format('(%s::text[] || %s::text[])', running, final), status_new, wrapup_new,
    -- UPDATE OF
    concat_ws(', ', quote_ident(a.status_column), quote_ident(a.wrapup_column)),
    running, status_old, final, wrapup_old);

  if a.events_table is not null then
    ddl := ddl || format($ddl$
-- B is the wrapup event row: lock the job's row first, as its status writer does, then decide.
create or replace function notifier.%1$I() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as %2$L;

create or replace trigger notifier_100_wrapup_event
  after insert on %3$s
  for each row
  when (new.%4$I::text = any (%5$L::text[]))
  execute function notifier.%1$I();
$ddl$, 'tg_' || a.stem || '__wrapup_event',
      format($body$
declare
  j %1$s;
  f notifier.job_facts;
  d record;
begin
  select h.* into j from %1$s h where h.%2$I = new.%3$I for no key update;
  if not found then
    return null;
  end if;
  f := %4$s(j);
  select * into d from notifier.decide(%5$L, f.id, f.kind, f.status, false, f.dispatched, true);
  if cardinality(d.fire) > 0 then
    perform notifier.create_notifications(f.id, f.kind, f.job_template_id, f.organization_id, d.fire,
              %6$s(j) || jsonb_build_object('wrapup_expired_at', d.wrapup_expired_at));
  end if;
  return null;
end;
$body$, host, a.id_column, a.event_job_column, facts, a.name, snapshot),
      a.events_table, a.event_name_column, a.wrapup_event_names::text);
  end if;

  if a.awx_approvals is not null then
    ddl := ddl || format($ddl$
-- AWX saves an approval's timeout as main_unifiedjob (status failed) then %1$s (timed_out) in one
-- transaction: the decision row created at the first UPDATE learns timed_out at the second.
create or replace function notifier.%2$I() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as %3$L;

create or replace trigger notifier_100_approval_timed_out
  after update of timed_out on %1$s
  for each row
  when (new.timed_out and not old.timed_out)
  execute function notifier.%2$I();
$ddl$, a.awx_approvals, 'tg_' || a.stem || '__approval_timed_out', $body$
begin
  update notifier.notifications n
     set job_snapshot = n.job_snapshot || '{"timed_out": true}'
   where n.job_id = new.unifiedjob_ptr_id and n.trigger = 'approval' and n.status = 'pending'
     and n.job_snapshot ->> 'kind' = 'workflow_approval' and n.job_snapshot ->> 'timed_out' = 'false';
  return null;
end;
$body$);
  end if;
  -- The trigger functions run as the owner role: handed over (ALTER … OWNER by a non-superuser
  -- needs CREATE on the schema for the new owner, granted for the hand-over only), and the owner
  -- role may read what the generated SQL reads. UPDATE on the id column is what SELECT … FOR
  -- UPDATE needs to take the job row's lock (the grace sweep, the wrapup-event trigger): no
  -- function writes a host row, and no id is ever updated. detachment_ddl revokes all of it.
  ddl := ddl || format(E'\ngrant create on schema notifier to %I;\n', notifier.owner_role())
    || (select string_agg(format(E'alter function %s() owner to %I;\nrevoke execute on function %1$s() from public;\n',
                                 f, notifier.owner_role()), '')
          from unnest(array[tg]
                      || case when a.events_table is not null then array[format('notifier.%I', 'tg_' || a.stem || '__wrapup_event')] else '{}' end
                      || case when a.awx_approvals is not null then array[format('notifier.%I', 'tg_' || a.stem || '__approval_timed_out')] else '{}' end) f)
    || format(E'revoke create on schema notifier from %I;\n', notifier.owner_role())
    || format(E'grant update (%I) on %s to %I;\n', a.id_column, host, notifier.owner_role())
    || (select string_agg(format(E'grant select on %s to %I;\n', t, notifier.owner_role()), '')
          from unnest(notifier.attachment_tables(a)) t)
    || format(E'grant usage on schema %I to %I;\n', a.table_schema, notifier.owner_role());
  return ddl;
end;
$$;

-- The DDL that removes exactly what attachment_ddl created.
create function notifier.detachment_ddl(a notifier.attachment_registry) returns text
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  select concat(
    format(E'drop trigger if exists notifier_100_job_insert on %1$I.%2$I;\n'
           'drop trigger if exists notifier_100_job_update on %1$I.%2$I;\n', a.table_schema, a.table_name),
    case when a.awx_approvals is not null then
      format(E'drop trigger if exists notifier_100_approval_timed_out on %s;\n'
             'drop function if exists notifier.%I();\n', a.awx_approvals, 'tg_' || a.stem || '__approval_timed_out') end,
    case when a.events_table is not null then
      format(E'drop trigger if exists notifier_100_wrapup_event on %s;\n'
             'drop function if exists notifier.%I();\n', a.events_table, 'tg_' || a.stem || '__wrapup_event') end,
    format(E'drop function if exists notifier.%I();\n', 'tg_' || a.stem || '__write'),
    format(E'drop function if exists notifier.%I(%I.%I);\n', a.stem || '__snapshot', a.table_schema, a.table_name),
    format(E'drop function if exists notifier.%I(%I.%I);\n', a.stem || '__facts', a.table_schema, a.table_name),
    format(E'revoke update (%I) on %I.%I from %I;\n', a.id_column, a.table_schema, a.table_name, notifier.owner_role()),
    (select string_agg(format(E'revoke select on %s from %I;\n', t, notifier.owner_role()), '')
       from unnest(notifier.attachment_tables(a)) t),
    -- the schema stays usable while another attachment has a table in it
    (select format(E'revoke usage on schema %I from %I;\n', a.table_schema, notifier.owner_role())
      where a.table_schema <> 'notifier'
        and not exists (select 1 from notifier.attachment_registry r
                         where r.table_schema = a.table_schema and r.name <> a.name)))
$$;

-- Sets lock_timeout for the rest of the transaction unless the caller chose one.
create function notifier.attach_lock_timeout() returns void
language sql
set search_path = pg_catalog, pg_temp
as $$
  select set_config('lock_timeout', '5s', true) where current_setting('lock_timeout') in ('0', '0ms')
$$;

-- Registers (or replaces) an attachment and runs its DDL, then rebuilds the state view.
create function notifier.attach(a notifier.attachment_registry, dry_run boolean) returns text
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  ddl constant text := notifier.attachment_ddl(a);
  other text;
begin
  select r.name into other from notifier.attachment_registry r
   where r.table_schema = a.table_schema and r.table_name = a.table_name and r.name <> a.name;
  if found then
    perform notifier.attach_error(format('table %I.%I is already attached as %L', a.table_schema, a.table_name, other));
  end if;
  if dry_run then
    return ddl;
  end if;
  perform notifier.attach_lock_timeout();
  delete from notifier.attachment_registry r where r.name = a.name;
  insert into notifier.attachment_registry select a.*;
  execute ddl;
  perform notifier.refresh_job_state();
  return ddl;
end;
$$;

-- attach table: any job table. status_column holds AWX's words, or the host's own mapped by
-- status_map ({"host word": "AWX word"}); B is wrapup_column becoming non-NULL; dispatched is a
-- boolean SQL expression over the row (false: no wrapup will come, B is waived at A); kind a
-- text SQL expression over the row. Expressions name the table's columns unqualified and any
-- other table schema-qualified. The snapshot is the row as JSON without snapshot_exclude.
create function notifier.attach_table(
  "table" text,
  id_column text,
  status_column text,
  wrapup_column text,
  dispatched text default 'true',
  name_column text default null,
  job_template_column text default null,
  organization_column text default null,
  kind text default '''job''',
  status_map jsonb default null,
  snapshot_exclude text[] default '{}',
  dry_run boolean default false,
  wrapup_events text default null,
  event_job_column text default 'job_id',
  event_name_column text default 'event',
  wrapup_event_names text[] default '{playbook_on_stats,EOF}') returns text
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  relation oid := to_regclass("table");
  a notifier.attachment_registry;
  wrapup_type oid;
  bad text;
  events_schema text;
  events_name text;
begin
  if relation is null then
    perform notifier.attach_error(format('table %s does not exist', "table"));
  end if;
  select n.nspname, c.relname into a.table_schema, a.table_name
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
   where c.oid = relation and c.relkind in ('r', 'p');
  if not found then
    perform notifier.attach_error(format('%s is not a table', "table"));
  end if;
  perform notifier.attach_check_column(a.table_schema, a.table_name, id_column, 'integer');
  perform notifier.attach_check_column(a.table_schema, a.table_name, status_column, 'text');
  if wrapup_column is null and wrapup_events is null then
    perform notifier.attach_error('a wrapup column or a wrapup events table is needed (B)');
  end if;
  if wrapup_column is not null then
    perform notifier.attach_check_column(a.table_schema, a.table_name, wrapup_column, 'any');
  end if;
  if wrapup_events is not null then
    select n.nspname, c.relname into events_schema, events_name
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.oid = to_regclass(wrapup_events) and c.relkind in ('r', 'p');
    if not found then
      perform notifier.attach_error(format('events table %s does not exist', wrapup_events));
    end if;
    perform notifier.attach_check_column(events_schema, events_name, event_job_column, 'integer');
    perform notifier.attach_check_column(events_schema, events_name, event_name_column, 'text');
    a.events_table := format('%I.%I', events_schema, events_name);
    a.event_job_column := event_job_column;
    a.event_name_column := event_name_column;
    a.wrapup_event_names := wrapup_event_names;
  end if;
  if name_column is not null then
    perform notifier.attach_check_column(a.table_schema, a.table_name, name_column, 'text');
  end if;
  if job_template_column is not null then
    perform notifier.attach_check_column(a.table_schema, a.table_name, job_template_column, 'integer');
  end if;
  if organization_column is not null then
    perform notifier.attach_check_column(a.table_schema, a.table_name, organization_column, 'integer');
  end if;
  perform notifier.attach_check_expression(a.table_schema, a.table_name, 'dispatched', dispatched, 'boolean');
  perform notifier.attach_check_expression(a.table_schema, a.table_name, 'kind', kind, 'text');
  if status_map is not null then
    if jsonb_typeof(status_map) <> 'object' then
      perform notifier.attach_error('status_map must be a JSON object {"host word": "AWX word"}');
    end if;
    select m.key into bad from jsonb_each(status_map) m
     where jsonb_typeof(m.value) <> 'string'
        or m.value #>> '{}' not in ('new', 'pending', 'waiting', 'running', 'successful', 'failed', 'error', 'canceled')
     limit 1;
    if found then
      perform notifier.attach_error(format('status_map %s: not one of AWX''s statuses (new, pending, waiting, running, successful, failed, error, canceled)', bad));
    end if;
  end if;

  select a2.atttypid into wrapup_type from pg_catalog.pg_attribute a2
   where a2.attrelid = relation and a2.attname = wrapup_column;
  a.name := case when a.table_schema = 'notifier' and a.table_name = 'jobs' then 'notifier.jobs'
                 else a.table_schema || '.' || a.table_name end;
  a.preset := case when a.name = 'notifier.jobs' then 'own' else 'table' end;
  a.id_column := id_column;
  a.status_column := status_column;
  a.wrapup_column := wrapup_column;
  a.status_map := status_map;
  a.stem := case when a.preset = 'own' then 'jobs'
                 else left(regexp_replace(lower(a.name), '[^a-z0-9]+', '_', 'g'), 40) end;
  a.facts_sql := format('r.%I::bigint, (%s)::text, %s, (%s)::boolean, %s, %s, %s, %s',
    id_column, kind, notifier.attach_status_sql(a, 'r'), dispatched,
    case when wrapup_column is null then 'false' else format('r.%I is not null', wrapup_column) end,
    case when job_template_column is null then 'null::bigint' else format('r.%I::bigint', job_template_column) end,
    case when organization_column is null then 'null::bigint' else format('r.%I::bigint', organization_column) end,
    case when name_column is null then '''''::text' else format('r.%I::text', name_column) end);
  -- The row as JSON, with the names the renderer reads (src/job.ts JobSnapshot).
  a.snapshot_sql := format(
    'to_jsonb(r) - %L::text[] || jsonb_build_object(''id'', r.%I, ''kind'', (%s)::text, ''name'', %s, '
    '''status'', %s, ''job_template_id'', %s, ''organization_id'', %s, ''wrapup_dispatched'', (%s)::boolean, '
    '''host_status_counts'', %s)',
    snapshot_exclude, id_column, kind, case when name_column is null then '''''' else format('r.%I', name_column) end,
    notifier.attach_status_sql(a, 'r'),
    case when job_template_column is null then 'null' else format('r.%I', job_template_column) end, case when organization_column is null then 'null' else format('r.%I', organization_column) end,
    dispatched,
    case when wrapup_type = 'jsonb'::regtype then format('r.%I', wrapup_column) else 'null::jsonb' end);
  a.wrapup_event_sql := case when a.preset = 'own' then 'notifier.wrapup_event_of(f.kind)'
                             when wrapup_column is null then quote_literal(array_to_string(wrapup_event_names, ' or '))
                             else quote_literal(wrapup_column) end;
  a.attached_at := now();
  return notifier.attach(a, dry_run);
end;
$$;

-- attach awx: AWX 21+ (main_unifiedjob.host_status_counts), CONTRACT §8.5. B = host_status_counts
-- (job_stats_wrapup, {} for EOF kinds); dispatched = emitted_events > 0 in the row that makes A;
-- kind from django_content_type; scopes from unified_job_template_id / organization_id. The
-- snapshot uses AWX's job-metadata names and never job_env, job_args or start_args. No trigger on
-- AWX's event tables.
create function notifier.attach_awx(schema text default 'public', dry_run boolean default false) returns text
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  a notifier.attachment_registry;
  wanted record;
  kind_sql text;
  playbook_sql text;
begin
  if to_regnamespace(schema) is null then
    perform notifier.attach_error(format('schema %I does not exist', schema));
  end if;
  for wanted in
    select * from (values
      ('main_unifiedjob', 'id', 'integer'), ('main_unifiedjob', 'status', 'text'),
      ('main_unifiedjob', 'host_status_counts', 'jsonb'), ('main_unifiedjob', 'emitted_events', 'integer'),
      ('main_unifiedjob', 'polymorphic_ctype_id', 'integer'), ('main_unifiedjob', 'name', 'text'),
      ('main_unifiedjob', 'unified_job_template_id', 'integer'), ('main_unifiedjob', 'organization_id', 'integer'),
      ('main_unifiedjob', 'created', 'timestamptz'), ('main_unifiedjob', 'started', 'timestamptz'),
      ('main_unifiedjob', 'finished', 'timestamptz'), ('main_unifiedjob', 'created_by_id', 'integer'),
      ('main_unifiedjob', 'result_traceback', 'text'), ('main_unifiedjob', 'job_explanation', 'text'),
      ('main_unifiedjob', 'launch_type', 'text'), ('main_unifiedjob', 'failed', 'boolean'),
      ('main_unifiedjob', 'elapsed', 'any'), ('main_unifiedjob', 'execution_node', 'text'),
      ('main_unifiedjob', 'description', 'text'),
      ('django_content_type', 'id', 'integer'), ('django_content_type', 'app_label', 'text'),
      ('django_content_type', 'model', 'text'),
      ('main_workflowapproval', 'unifiedjob_ptr_id', 'integer'), ('main_workflowapproval', 'timed_out', 'boolean'),
      ('main_job', 'unifiedjob_ptr_id', 'integer'), ('main_job', 'playbook', 'text'),
      ('main_job', 'limit', 'text'), ('main_job', 'inventory_id', 'integer'), ('main_job', 'project_id', 'integer')
    ) w (table_name, column_name, kind)
  loop
    perform notifier.attach_check_column(schema, wanted.table_name, wanted.column_name, wanted.kind);
  end loop;

  kind_sql := format(
    '(select case ct.model when ''job'' then ''job'' when ''projectupdate'' then ''project_update'' '
    'when ''inventoryupdate'' then ''inventory_update'' when ''adhoccommand'' then ''ad_hoc_command'' '
    'when ''systemjob'' then ''system_job'' when ''workflowjob'' then ''workflow_job'' '
    'when ''workflowapproval'' then ''workflow_approval'' else ct.model end '
    'from %I.django_content_type ct where ct.id = r.polymorphic_ctype_id)', schema);
  playbook_sql := format(
    'coalesce((select jsonb_build_object(''playbook'', p.playbook, ''limit'', p."limit", '
    '''inventory'', p.inventory_id, ''project'', p.project_id) from %I.main_job p '
    'where p.unifiedjob_ptr_id = r.id), ''{}'')', schema);

  a.name := 'awx';
  a.preset := 'awx';
  a.table_schema := schema;
  a.table_name := 'main_unifiedjob';
  a.id_column := 'id';
  a.status_column := 'status';
  a.wrapup_column := 'host_status_counts';
  a.stem := case when schema = 'public' then 'awx' else left('awx_' || regexp_replace(lower(schema), '[^a-z0-9]+', '_', 'g'), 40) end;
  a.facts_sql := format('r.id::bigint, %s, r.status::text, r.emitted_events > 0, r.host_status_counts is not null, '
                        'r.unified_job_template_id::bigint, r.organization_id::bigint, r.name::text', kind_sql);
  a.snapshot_sql := format(
    'jsonb_build_object(''id'', r.id, ''kind'', %1$s, ''name'', r.name, ''status'', r.status, '
    '''job_template_id'', r.unified_job_template_id, ''organization_id'', r.organization_id, '
    '''wrapup_dispatched'', r.emitted_events > 0, ''host_status_counts'', r.host_status_counts, '
    '''created_at'', r.created, ''started_at'', r.started, ''finished_at'', r.finished, '
    '''started'', r.started, ''finished'', r.finished, ''created_by'', r.created_by_id, '
    '''traceback'', r.result_traceback, '
    '''timed_out'', coalesce((select w.timed_out from %3$I.main_workflowapproval w where w.unifiedjob_ptr_id = r.id), false), '
    '''extra'', jsonb_build_object(''description'', r.description, ''launch_type'', r.launch_type, '
    '''failed'', r.failed, ''elapsed'', r.elapsed, ''job_explanation'', r.job_explanation, '
    '''traceback'', r.result_traceback, ''execution_node'', r.execution_node, ''created_by'', r.created_by_id, '
    '''emitted_events'', r.emitted_events, ''started'', r.started, ''finished'', r.finished) || %2$s)',
    kind_sql, playbook_sql, schema);
  a.wrapup_event_sql := 'notifier.wrapup_event_of(f.kind)';
  a.awx_approvals := format('%I.main_workflowapproval', schema);
  a.attached_at := now();
  if exists (select 1 from notifier.attachment_registry r where r.name = 'awx' and r.table_schema <> schema) then
    a.name := 'awx:' || schema;
  end if;
  return notifier.attach(a, dry_run);
end;
$$;

-- detach awx | TABLE: drops exactly what attach created; the bookkeeping rows stay, so a later
-- attach resumes without notifying again what already fired.
create function notifier.detach(name text) returns text
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  a notifier.attachment_registry;
  ddl text;
begin
  select * into a from notifier.attachment_registry r
   where r.name = detach.name
      or (detach.name <> 'awx' and to_regclass(detach.name) = to_regclass(format('%I.%I', r.table_schema, r.table_name)));
  if not found then
    perform notifier.attach_error(format('%s is not attached', name));
  end if;
  if a.preset = 'own' then
    perform notifier.attach_error('notifier.jobs is the product''s own table; uninstall removes it');
  end if;
  perform notifier.attach_lock_timeout();
  ddl := notifier.detachment_ddl(a);
  delete from notifier.attachment_registry r where r.name = a.name;
  perform notifier.refresh_job_state();
  execute ddl;
  return ddl;
end;
$$;

-- Health: per attachment, its triggers present and enabled and its columns still there
-- (an upgrade of the host that dropped a column with CASCADE also drops the triggers on it).
create function notifier.attachments()
returns table (name text, preset text, "table" text, healthy boolean, problems text[], attached_at timestamptz)
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  a notifier.attachment_registry;
  relation oid;
  wanted text;
  on_table text;
  state "char";
begin
  for a in select * from notifier.attachment_registry order by 1 loop
    name := a.name;
    preset := a.preset;
    "table" := format('%I.%I', a.table_schema, a.table_name);
    attached_at := a.attached_at;
    problems := '{}';
    relation := to_regclass("table");
    if relation is null then
      problems := problems || format('table %s is gone', "table");
    else
      for wanted in select c from unnest(array[a.id_column, a.status_column, a.wrapup_column]) c where c is not null loop
        if not exists (select 1 from pg_catalog.pg_attribute t where t.attrelid = relation and t.attname = wanted
                         and t.attnum > 0 and not t.attisdropped) then
          problems := problems || format('column %s.%I is gone', "table", wanted);
        end if;
      end loop;
      for wanted, on_table in
        select w, "table" from unnest(array['notifier_100_job_insert', 'notifier_100_job_update']) w
        union all select 'notifier_100_wrapup_event', a.events_table where a.events_table is not null
      loop
        select t.tgenabled into state from pg_catalog.pg_trigger t
         where t.tgrelid = to_regclass(on_table) and t.tgname = wanted;
        if not found then
          problems := problems || format('trigger %s on %s is missing', wanted, on_table);
        elsif state = 'D' then
          problems := problems || format('trigger %s on %s is disabled', wanted, on_table);
        end if;
      end loop;
    end if;
    if relation is not null and cardinality(problems) = 0 then
      -- The generated functions name more of the host's columns than the three above (AWX's
      -- snapshot reads a dozen): plan their SQL against the table as it is now, so a column an
      -- upgrade dropped or changed shows here, before it fails a host write.
      begin
        execute format('select %s, %s from (select (null::%s).*) r limit 0', a.facts_sql, a.snapshot_sql, "table");
      exception when others then
        problems := problems || format('the generated functions fail: %s (run attach again)', sqlerrm);
      end;
    end if;
    healthy := cardinality(problems) = 0;
    return next;
  end loop;
end;
$$;

comment on function notifier.attachments() is
  'The attachments with their health: triggers present and enabled, columns still there, the '
  'generated functions still running.';

-- The state view, rebuilt at every attach/detach: one branch per attachment. For one job,
-- notifier.job_state(id) reads each branch through the host table's primary key.
create function notifier.refresh_job_state() returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  a notifier.attachment_registry;
  branches text[] := '{}';
  by_id text[] := '{}';
  branch text;
begin
  for a in select * from notifier.attachment_registry order by name loop
    branch := format($branch$
select %1$L::text as attachment, f.id as job_id, f.kind, f.name, f.status,
       f.dispatched as wrapup_dispatched, %5$s as wrapup_event,
       c.wrapup_required, c.wrapup_processed_at is not null as wrapup_processed,
       c.wrapup_processed_at, c.wrapup_expired_at, c.final_status_at,
       (s ->> 'host_status_counts')::jsonb as host_status_counts,
       (s ->> 'created_at')::timestamptz as created_at,
       (s ->> 'started_at')::timestamptz as started_at,
       (s ->> 'finished_at')::timestamptz as finished_at,
       c.started_condition_at, c.final_condition_at, c.final_trigger,
       n.pending, n.successful, n.failed,
       w.waiting_for,
       case when w.waiting_for <> 'final status'
            then c.final_status_at + (select g.wrapup_grace from notifier.settings g) end as grace_fires_at
  from %2$s j
  cross join lateral (select notifier.%3$I(j) as s) snap (s)
  cross join lateral (select (notifier.%4$I(j)).*) f
  left join notifier.job_conditions c on c.attachment = %1$L and c.job_id = f.id
  left join lateral (
         select (count(*) filter (where x.status = 'pending'))::integer    as pending,
                (count(*) filter (where x.status = 'successful'))::integer as successful,
                (count(*) filter (where x.status = 'failed'))::integer     as failed
           from notifier.notifications x where x.job_id = f.id) n on true
  cross join lateral (
         select notifier.waiting_for(f.status, c.wrapup_required, c.wrapup_processed_at is not null,
                                     c.wrapup_expired_at is not null, c.final_condition_at is not null,
                                     %6$s) as waiting_for) w$branch$,
      a.name, format('%I.%I', a.table_schema, a.table_name), a.stem || '__snapshot', a.stem || '__facts',
      a.wrapup_event_sql,
      case when a.preset = 'table' and a.events_table is not null
             then format('''wrapup event (%s in %s)''', array_to_string(a.wrapup_event_names, ' or '), a.events_table)
           when a.preset = 'table' then format('''wrapup (%s)''', a.wrapup_column)
           else format('''wrapup event ('' || coalesce(%s, ''none'') || '')''', a.wrapup_event_sql) end);
    branches := branches || branch;
    by_id := by_id || (branch || format(' where j.%I = $1', a.id_column));
  end loop;
  if cardinality(branches) = 0 then
    -- nothing attached (only during migrations): an empty view of the same shape
    branches := array[$empty$
select null::text as attachment, null::bigint as job_id, null::text as kind, null::text as name, null::text as status,
       null::boolean as wrapup_dispatched, null::text as wrapup_event, null::boolean as wrapup_required,
       null::boolean as wrapup_processed, null::timestamptz as wrapup_processed_at,
       null::timestamptz as wrapup_expired_at, null::timestamptz as final_status_at, null::jsonb as host_status_counts,
       null::timestamptz as created_at, null::timestamptz as started_at, null::timestamptz as finished_at,
       null::timestamptz as started_condition_at, null::timestamptz as final_condition_at, null::text as final_trigger,
       null::integer as pending, null::integer as successful, null::integer as failed, null::text as waiting_for,
       null::timestamptz as grace_fires_at
 where false$empty$];
    by_id := branches;
  end if;
  -- CREATE OR REPLACE keeps the view's and the function's grants (the columns never change).
  execute 'create or replace view notifier.job_notification_state as ' || array_to_string(branches, E'\nunion all');
  execute format($fn$
create or replace function notifier.job_state(job_id bigint) returns setof notifier.job_notification_state
language sql stable security definer
set search_path = pg_catalog, pg_temp
as %L$fn$, array_to_string(by_id, E'\nunion all'));
end;
$$;

revoke execute on function notifier.attach(notifier.attachment_registry, boolean) from public;
revoke execute on function notifier.attach_table(text, text, text, text, text, text, text, text, text, jsonb, text[], boolean, text, text, text, text[]) from public;
revoke execute on function notifier.attach_awx(text, boolean) from public;
revoke execute on function notifier.detach(text) from public;
revoke execute on function notifier.refresh_job_state() from public;
grant execute on function notifier.attachments() to ":NOTIFIER_SERVICE_ROLE", ":NOTIFIER_READONLY_ROLE";
