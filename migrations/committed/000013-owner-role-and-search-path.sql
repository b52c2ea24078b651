--! Previous: sha1:171b180b3eb510be129134ed6d78784453cace48
--! Hash: sha1:40265884268e02b25b446d0e3c9fc3333f74b768
--! Message: owner role and search_path

-- No login runs its own code as the schema owner.
--
-- Before this migration every function pinned `search_path = pg_catalog`. PostgreSQL then still
-- searches the session's temporary schema, FIRST, for types and relations (never for functions
-- or operators), so a host login could create a domain `pg_temp.jsonb` whose CHECK calls a
-- function of its own, insert a running job, and the SECURITY DEFINER fan-out
-- (tg_jobs__create_notifications -> create_notifications, whose body declares a `jsonb`) ran that
-- function as the migrating role (often a superuser), which could read every template's secrets.
-- The service role could do the same through expire_wrapups. ("Writing SECURITY DEFINER
-- Functions Safely", PostgreSQL documentation, CREATE FUNCTION.)
--
-- What this migration does:
--   1. Creates the owner role :NOTIFIER_OWNER_ROLE (NOLOGIN, default notifier_owner) when it does
--      not exist, like 000008 does for the other roles; refuses one that can log in or is a
--      superuser.
--   2. Pins every function of schema notifier to `search_path = pg_catalog, pg_temp`: pg_temp
--      LAST, so pg_catalog's types and relations always win over planted ones; and re-creates the
--      two bodies that name a type (jsonb) with the type schema-qualified.
--   3. Makes the owner role own the SECURITY DEFINER functions, with exactly the table privileges
--      their bodies need (column-level where a table holds more than they read), so even a hole
--      in them reaches no secret and writes nothing else.
--   4. Revokes EXECUTE from PUBLIC on every function in the schema but the template validator
--      (harmless: it only reads the type keys and raises; whoever writes templates runs it), and
--      grants each role the functions its own statements, its triggers' bodies and the views it
--      reads call (a view's functions run with the reader's rights).
--
-- Locks: ALTER/CREATE OR REPLACE FUNCTION, GRANT and REVOKE change only catalog rows; no lock is
-- taken on notifier.jobs, notifier.job_events, notifier.notifications or any other table.

do $$
declare
  owner_role constant text := ':NOTIFIER_OWNER_ROLE';
  existing record;
begin
  select r.rolcanlogin, r.rolsuper into existing from pg_catalog.pg_roles r where r.rolname = owner_role;
  if not found then
    begin
      execute pg_catalog.format('create role %I nologin', owner_role);
    exception
      -- Another database of the cluster created it at the same moment.
      when duplicate_object or unique_violation then null;
      when insufficient_privilege then
        raise exception 'role "%" does not exist and % may not create it', owner_role, current_user
          using hint = 'create it (NOLOGIN) as a role administrator, or set NOTIFIER_OWNER_ROLE to an existing NOLOGIN role';
    end;
  elsif existing.rolsuper or existing.rolcanlogin then
    raise exception 'role "%" can log in or is a superuser: the owner of the SECURITY DEFINER functions must be neither', owner_role
      using hint = 'set NOTIFIER_OWNER_ROLE to a NOLOGIN, non-superuser role (pg-job-notifier migrate creates it when missing)';
  end if;
  -- A migrating role that is not a superuser must be able to SET ROLE to it to hand functions to
  -- it (and to replace them in later migrations, and at attach). Since PostgreSQL 16 the creator
  -- of a role gets only ADMIN on it (no SET), so SET is checked, and granted, explicitly there.
  if pg_catalog.current_setting('server_version_num')::integer >= 160000 then
    if not pg_catalog.pg_has_role(current_user, owner_role, 'SET') then
      execute pg_catalog.format('grant %I to %I with set true', owner_role, current_user);
    end if;
  elsif not pg_catalog.pg_has_role(current_user, owner_role, 'MEMBER') then
    execute pg_catalog.format('grant %I to %I', owner_role, current_user);
  end if;
end
$$;

-- 2. The bodies that name a type: the SECURITY DEFINER chain's create_notifications (its
-- snapshot variable), the host's wrapup trigger and its counting function. Unchanged but for
-- pg_catalog.jsonb. (validate_notification_template, which only ever runs with its caller's
-- rights, keeps its body; pg_temp last is what protects it.)
create or replace function notifier.create_notifications(job notifier.jobs, trigger text) returns integer
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  snapshot constant pg_catalog.jsonb := notifier.job_snapshot(job);
  created integer;
begin
  insert into notifier.notifications
    (job_id, notification_template_id, trigger, notification_type, job_snapshot)
  select job.id, t.id, create_notifications.trigger, t.notification_type, snapshot
    from notifier.notification_templates t
   where exists (
           select 1
             from notifier.subscriptions s
            where s.notification_template_id = t.id
              and s.trigger = create_notifications.trigger
              and (s.job_template_id is null or s.job_template_id = job.job_template_id)
              and (s.organization_id is null or s.organization_id = job.organization_id))
   order by t.id
  on conflict (job_id, notification_template_id, trigger) do nothing;
  get diagnostics created = row_count;
  if created > 0 then
    perform notifier.wake_listeners();
  end if;
  return created;
end;
$$;

comment on function notifier.create_notifications(notifier.jobs, text) is
  'Creates the (job, trigger) notification rows, one per template with a matching subscription; '
  'called by the SECURITY DEFINER trigger tg_jobs__create_notifications.';

create or replace function notifier.host_status_counts_from_stats(event_data jsonb) returns jsonb
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
  with buckets (bucket, precedence) as (
    values ('skipped', 1), ('ok', 2), ('changed', 3), ('failures', 4), ('dark', 5)
  ),
  named (host, bucket, precedence) as (
    select host, b.bucket, b.precedence
    from buckets b
    cross join lateral (
      select jsonb_object_keys(event_data -> b.bucket) as host
      where jsonb_typeof(event_data -> b.bucket) = 'object'
      union all
      select jsonb_array_elements_text(event_data -> b.bucket)
      where jsonb_typeof(event_data -> b.bucket) = 'array'
    ) hosts
  ),
  last_bucket as (
    select distinct on (host) host, bucket from named order by host, precedence desc
  )
  select coalesce(jsonb_object_agg(bucket, hosts), '{}'::pg_catalog.jsonb)
  from (select bucket, count(*) as hosts from last_bucket group by bucket) per_bucket
$$;

create or replace function notifier.tg_job_events__apply_wrapup() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  counts pg_catalog.jsonb := case when new.event = 'EOF' then '{}'::pg_catalog.jsonb
                                  else notifier.host_status_counts_from_stats(new.event_data) end;
begin
  -- Only the job's own wrapup event counts (an EOF saved for a playbook job is not its wrapup).
  -- The UPDATE takes the job's row lock: if the status writer holds it, this waits, then sees
  -- the status writer's committed row; the decision triggers on notifier.jobs take it from there.
  update notifier.jobs j
     set host_status_counts = counts
   where j.id = new.job_id
     and notifier.wrapup_event_of(j.kind) = new.event
     and j.host_status_counts is distinct from counts;
  return null;
end;
$$;

-- Every function of the schema, including the ones above: pg_temp last. (A loop over pg_proc
-- rather than one ALTER per function, so none is forgotten; test/privileges.test.ts checks the
-- catalog, including the functions of later migrations.)
do $$
declare
  fn regprocedure;
begin
  for fn in
    select p.oid::regprocedure from pg_catalog.pg_proc p
     where p.pronamespace = 'notifier'::regnamespace and p.prokind in ('f', 'p')
  loop
    execute pg_catalog.format('alter function %s set search_path = pg_catalog, pg_temp', fn);
  end loop;
end
$$;

-- 3. The owner of the SECURITY DEFINER functions. ALTER ... OWNER by a non-superuser needs CREATE
-- on the schema for the new owner; it is granted for the hand-over only.
grant usage on schema notifier to ":NOTIFIER_OWNER_ROLE";
grant create on schema notifier to ":NOTIFIER_OWNER_ROLE";
alter function notifier.tg_jobs__create_notifications() owner to ":NOTIFIER_OWNER_ROLE";
alter function notifier.expire_wrapups(interval) owner to ":NOTIFIER_OWNER_ROLE";
revoke create on schema notifier from ":NOTIFIER_OWNER_ROLE";

-- The fan-out (tg_jobs__create_notifications -> create_notifications): reads which templates
-- subscribe (never their configuration) and inserts the rows; ON CONFLICT's arbiter reads the
-- unique key's columns.
grant select (id, notification_type) on notifier.notification_templates to ":NOTIFIER_OWNER_ROLE";
grant select (notification_template_id, trigger, job_template_id, organization_id)
  on notifier.subscriptions to ":NOTIFIER_OWNER_ROLE";
grant insert (job_id, notification_template_id, trigger, notification_type, job_snapshot),
      select (job_id, notification_template_id, trigger)
  on notifier.notifications to ":NOTIFIER_OWNER_ROLE";
-- The grace sweep (expire_wrapups): finds the overdue jobs and stamps wrapup_expired_at, which
-- fires the decision and fan-out triggers as for any writer.
grant select (final_condition_at, wrapup_required, wrapup_processed_at, wrapup_expired_at, status, finished_at),
      update (wrapup_expired_at)
  on notifier.jobs to ":NOTIFIER_OWNER_ROLE";

-- 4. EXECUTE: nobody by default; each role what it calls.
revoke execute on all functions in schema notifier from public;
grant execute on function notifier.validate_notification_template(text, jsonb, jsonb) to public;

-- The SECURITY DEFINER chain, run as the owner.
grant execute on function
    notifier.create_notifications(notifier.jobs, text),
    notifier.job_snapshot(notifier.jobs),
    notifier.wake_listeners(),
    notifier.sleep_lock_key(),
    notifier.is_final_status(text)
  to ":NOTIFIER_OWNER_ROLE";
-- The host's triggers (decision, wrapup) run with the host's rights.
grant execute on function
    notifier.is_final_status(text),
    notifier.wrapup_event_of(text),
    notifier.host_status_counts_from_stats(jsonb)
  to ":NOTIFIER_HOST_ROLE";
-- The service: claim, grace sweep, sleep lock, the web view's retry (wakes the listeners) and
-- the state view.
grant execute on function
    notifier.claim_due(text, integer, interval),
    notifier.expire_wrapups(interval),
    notifier.begin_listener_sleep(integer),
    notifier.end_listener_sleep(),
    notifier.sleep_lock_key(),
    notifier.wake_listeners(),
    notifier.is_final_status(text),
    notifier.wrapup_event_of(text)
  to ":NOTIFIER_SERVICE_ROLE";
-- Read-only: the state view's functions.
grant execute on function
    notifier.is_final_status(text),
    notifier.wrapup_event_of(text)
  to ":NOTIFIER_READONLY_ROLE";
