--! Previous: sha1:63d46ddd956760fde72bfbf0924a869d3c9b08d0
--! Hash: sha1:943b727ba6573dc9cbea45f24107fa0892096d4e
--! Message: the generated trigger functions run two statements fewer per notifying transition

-- Each attachment's trigger function (notifier.tg_<stem>__write) ran four statements through SPI
-- in a notifying transition: the facts, `select * into d from notifier.decide(...)`, the snapshot,
-- and `perform notifier.create_notifications(...)`. Each starts an executor, takes a snapshot
-- and shuts the executor down again (standard_ExecutorStart alone was 9 % of the backend's time in
-- a profile of `running` -> `successful` on notifier.jobs), and selecting from decide() also
-- materialised its one row in a tuplestore. Now:
--   * `d := notifier.decide(...)`: a PL/pgSQL simple expression, the same call and record without
--     an executor (also in the wrapup-event trigger);
--   * the snapshot is computed in the PERFORM that creates the rows, from the same row: one
--     statement instead of two, and still only when something fired.
-- Nothing else in the generated SQL changes.
--
-- attachment_ddl is replaced, then every attachment is made again from its registry row
-- (notifier.attach, as attach_awx / attach_table do): the functions are replaced and handed to the
-- owner role again, the grants repeated, the state view rebuilt.
--
-- Locks: CREATE OR REPLACE TRIGGER takes SHARE ROW EXCLUSIVE on each attached table (the host's
-- job table, its events table when B is an event row, AWX's main_workflowapproval) for the
-- moment it takes: the host's writes of those tables wait, its reads do not. Under `migrate`'s
-- lock_timeout (5 s when run by hand without one), a long transaction on a host table makes the
-- migration fail fast instead of queueing the host's writes behind it.

-- `migrate` sets lock_timeout for the session (NOTIFIER_LOCK_TIMEOUT); run by hand without one,
-- this transaction still waits at most 5 s for a lock.
select pg_catalog.set_config('lock_timeout', '5s', true) where pg_catalog.current_setting('lock_timeout') in ('0', '0ms');

-- The whole DDL of an attachment, as it is run (dry_run shows it).
create or replace function notifier.attachment_ddl(a notifier.attachment_registry) returns text
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
-- notifier.decide is assigned (an expression, no executor); the snapshot is built in the statement
-- that creates the rows.
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
begin
  select %1$s into f from (select (new).*) r;
  if tg_op = 'UPDATE' then
    was_final := coalesce(notifier.is_final_status(%2$s), false);
  end if;
  d := notifier.decide(%3$L, f.id, f.kind, f.status, notifier.is_final_status(f.status) and not was_final,
                       f.dispatched, f.wrapup_arrived);
  if cardinality(d.fire) > 0 then
    perform notifier.create_notifications(f.id, f.kind, f.job_template_id, f.organization_id, d.fire,
              (%4$s) || jsonb_build_object('wrapup_expired_at', d.wrapup_expired_at))
       from (select (new).*) r;
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
  d := notifier.decide(%5$L, f.id, f.kind, f.status, false, f.dispatched, true);
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

select notifier.attach(r, false) from notifier.attachment_registry r order by r.name;
