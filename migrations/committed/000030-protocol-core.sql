--! Previous: sha1:baa96929721fc6e505bc8fa1db7c7d059d18e562
--! Hash: sha1:e132afb3c0acc3879001fa5d3f5964357542cd29
--! Message: protocol core: bookkeeping keyed by (attachment, host job id), one decision function

-- The two-condition protocol, once, for every job table it is attached to: the product's own
-- notifier.jobs (migration 000032) and a host's own table such as AWX's main_unifiedjob
-- (notifier.attach_awx / notifier.attach_table, migration 000031).
--
-- The protocol's bookkeeping no longer lives on the job row (a host's table gains no column):
-- notifier.job_conditions holds one row per (attachment, host job id), written only by
-- notifier.decide(), which runs inside the row trigger of the host's write, i.e. while the host's
-- row lock is held by that writer. Lock order everywhere: the host's job row, then its
-- job_conditions row. The second of two writers waits on the host row, and under READ COMMITTED
-- its trigger's statements read the first writer's committed job_conditions row; under
-- REPEATABLE READ / SERIALIZABLE it gets 40001 on the host row and its retry fires once.
--
-- Also here, because the core needs them:
--   * notifications.job_id is the host's job id: the foreign key to notifier.jobs goes, and so
--     does job_events' (AWX's event tables have none either; every event row paid an RI check
--     and a FOR KEY SHARE lock on its job);
--   * approvals: kind workflow_approval; trigger 'approval' on subscriptions and notifications.
--
-- Locks: ACCESS EXCLUSIVE, briefly, on notifier.notifications, notifier.job_events,
-- notifier.jobs and notifier.subscriptions (dropping/adding constraints; the new CHECKs are added
-- NOT VALID and validated under SHARE UPDATE EXCLUSIVE). No host table is touched.

-- `migrate` sets lock_timeout for the session (NOTIFIER_LOCK_TIMEOUT); run by hand without one,
-- this transaction still waits at most 5 s for a lock.
select pg_catalog.set_config('lock_timeout', '5s', true) where pg_catalog.current_setting('lock_timeout') in ('0', '0ms');

alter table notifier.notifications drop constraint notifications_job_id_fkey;
alter table notifier.job_events drop constraint job_events_job_id_fkey;

comment on column notifier.notifications.job_id is
  'The host''s job id (notifier.jobs.id, or the id column of the attached table). Not a foreign key.';

-- Approvals (TEAM interface): a workflow_approval job's running notification is a 'started' row,
-- its decision an 'approval' row; both come from subscriptions whose trigger is 'approval'.
alter table notifier.notifications drop constraint notifications_trigger_check;
alter table notifier.notifications add constraint notifications_trigger_check
  check (trigger in ('started', 'success', 'error', 'approval')) not valid;
alter table notifier.notifications validate constraint notifications_trigger_check;
alter table notifier.subscriptions drop constraint subscriptions_trigger_check;
alter table notifier.subscriptions add constraint subscriptions_trigger_check
  check (trigger in ('started', 'success', 'error', 'approval')) not valid;
alter table notifier.subscriptions validate constraint subscriptions_trigger_check;
alter table notifier.jobs drop constraint jobs_kind_check;
alter table notifier.jobs add constraint jobs_kind_check
  check (kind in ('job', 'project_update', 'inventory_update', 'ad_hoc_command', 'system_job',
                  'workflow_job', 'workflow_approval')) not valid;
alter table notifier.jobs validate constraint jobs_kind_check;
alter table notifier.jobs add column timed_out boolean not null default false;
comment on column notifier.jobs.timed_out is
  'workflow_approval only: set with status failed when the approval timed out (AWX''s timed_out).';

-- One row per (attachment, host job id) once something happened that the protocol records.
create table notifier.job_conditions (
  attachment           text not null,    -- notifier.attachments.name ('notifier.jobs', 'awx', …)
  job_id               bigint not null,  -- the host's job id
  wrapup_required      boolean,          -- the dispatched flag as it was in the row that made A
  final_status_at      timestamptz,      -- database clock when A (the status becoming final) was written
  wrapup_processed_at  timestamptz,      -- when B (the wrapup) was first seen
  wrapup_expired_at    timestamptz,      -- set by the sweep when the grace waived B
  started_condition_at timestamptz,      -- when the started rows were created
  final_condition_at   timestamptz,      -- when the final rows were created; nothing fires after it
  final_trigger        text check (final_trigger in ('success', 'error', 'approval')),
  primary key (attachment, job_id)
);

comment on table notifier.job_conditions is
  'The protocol''s bookkeeping per (attachment, host job id), written only by notifier.decide() '
  'under the host job''s row lock. No foreign key: the host table is not the product''s.';

-- The lost-wrapup sweep reads only jobs still waiting for their wrapup, oldest A first.
create index job_conditions_awaiting_wrapup_idx on notifier.job_conditions (final_status_at)
  where final_condition_at is null and wrapup_required
    and wrapup_processed_at is null and wrapup_expired_at is null;

-- What an attached table's row means to the protocol (made by each attachment's facts function).
create type notifier.job_facts as (
  id              bigint,
  kind            text,
  status          text,     -- in AWX's words (mapped from the host's own, if it has others)
  dispatched      boolean,  -- false: no wrapup will come (B is waived at A)
  wrapup_arrived  boolean,  -- B: the wrapup is in the row
  job_template_id bigint,
  organization_id bigint,
  name            text
);

-- The final trigger of a status for a kind: success / error, or for an approval its decision
-- (approved = successful, denied or timed out = failed; canceled or error sends no decision).
create function notifier.final_trigger_of(kind text, status text) returns text
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
  select case
    when kind = 'workflow_approval' then case when status in ('successful', 'failed') then 'approval' end
    when status = 'successful' then 'success'
    when status in ('failed', 'error', 'canceled') then 'error'
  end
$$;

-- The subscription trigger whose templates a row of `trigger` goes to: approval jobs match only
-- subscriptions whose trigger is 'approval' (their started row and their decision row alike).
create function notifier.subscription_trigger_of(kind text, trigger text) returns text
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$ select case when kind = 'workflow_approval' then 'approval' else trigger end $$;

-- THE DECISION. Called by an attachment's row trigger (while the writer holds the host job's row
-- lock) and by the lost-wrapup sweep (which took that lock first, SKIP LOCKED). Records what
-- this write brought and returns the triggers whose rows must be created now, at most once each:
--   started  the first time the status is running;
--   final    the later of A (a final status) and B (the wrapup), B waived when `dispatched` was
--            false in the row that made A, or by the grace (expire, called by the sweep only).
-- A job whose A was never seen (it finished before the table was attached) fires no final.
-- `became_final`: this write turned a non-final status final (it captures wrapup_required; a
-- reaper rewriting final → final keeps the capture).
create function notifier.decide(
  attachment text, job_id bigint, kind text, status text,
  became_final boolean, dispatched boolean, wrapup_arrived boolean, expire boolean default false,
  out fire text[], out wrapup_expired_at timestamptz, out expired boolean)
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  c notifier.job_conditions;
  stamp constant timestamptz := clock_timestamp();
  existed boolean;
  changed boolean := false;
begin
  fire := '{}';
  expired := false;
  select * into c from notifier.job_conditions jc
   where jc.attachment = decide.attachment and jc.job_id = decide.job_id
     for update;
  existed := found;
  if not existed then
    c.attachment := attachment;
    c.job_id := job_id;
  end if;

  if wrapup_arrived and c.wrapup_processed_at is null then
    c.wrapup_processed_at := stamp;
    changed := true;
  end if;

  if status = 'running' and c.started_condition_at is null then
    c.started_condition_at := stamp;
    fire := fire || 'started'::text;
    changed := true;
  end if;

  if notifier.is_final_status(status) and c.final_condition_at is null then
    if became_final then
      c.wrapup_required := coalesce(dispatched, false);
      c.final_status_at := stamp;
      changed := true;
    end if;
    if expire and c.wrapup_required and c.wrapup_processed_at is null and c.wrapup_expired_at is null then
      c.wrapup_expired_at := stamp;
      expired := true;
      changed := true;
    end if;
    if c.wrapup_required is not null
       and (not c.wrapup_required or c.wrapup_processed_at is not null or c.wrapup_expired_at is not null) then
      c.final_condition_at := stamp;
      c.final_trigger := notifier.final_trigger_of(kind, status);
      if c.final_trigger is not null then
        fire := fire || c.final_trigger;
      end if;
      changed := true;
    end if;
  end if;

  if changed and existed then
    update notifier.job_conditions jc
       set wrapup_required = c.wrapup_required, final_status_at = c.final_status_at,
           wrapup_processed_at = c.wrapup_processed_at, wrapup_expired_at = c.wrapup_expired_at,
           started_condition_at = c.started_condition_at, final_condition_at = c.final_condition_at,
           final_trigger = c.final_trigger
     where jc.attachment = c.attachment and jc.job_id = c.job_id;
  elsif changed then
    insert into notifier.job_conditions values (c.*);
  end if;
  wrapup_expired_at := c.wrapup_expired_at;
end;
$$;

comment on function notifier.decide(text, bigint, text, text, boolean, boolean, boolean, boolean) is
  'The protocol''s decision, for every attachment: records A, B and the grace in '
  'notifier.job_conditions and returns the triggers to fire now (each at most once). Call it '
  'only while holding the host job''s row lock.';

-- Creates the rows of the fired triggers: one per distinct template of all matching subscriptions
-- (each non-NULL scope column equal to the job's), in trigger order. ON CONFLICT is the last line
-- of defence behind notifier.decide().
create function notifier.create_notifications(
  job_id bigint, kind text, job_template_id bigint, organization_id bigint,
  triggers text[], snapshot jsonb) returns integer
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_variable
declare
  fired text;
  subscribed text;
  inserted integer;
  created integer := 0;
begin
  foreach fired in array triggers loop
    subscribed := notifier.subscription_trigger_of(kind, fired);
    insert into notifier.notifications
      (job_id, notification_template_id, trigger, notification_type, job_snapshot)
    select job_id, t.id, fired, t.notification_type, snapshot
      from notifier.notification_templates t
     where exists (
             select 1
               from notifier.subscriptions s
              where s.notification_template_id = t.id
                and s.trigger = subscribed
                and (s.job_template_id is null or s.job_template_id = job_template_id)
                and (s.organization_id is null or s.organization_id = organization_id))
     order by t.id
    on conflict do nothing;
    get diagnostics inserted = row_count;
    created := created + inserted;
  end loop;
  if created > 0 then
    perform notifier.wake_listeners();
  end if;
  return created;
end;
$$;

revoke execute on function notifier.decide(text, bigint, text, text, boolean, boolean, boolean, boolean) from public;
revoke execute on function notifier.create_notifications(bigint, text, bigint, bigint, text[], jsonb) from public;

-- The phrase for what a job waits for, from the view's columns (explain and the web view word
-- their reasons from it): 'final status', the wrapup signal, or NULL (fired, or nothing owed).
create function notifier.waiting_for(
  status text, wrapup_required boolean, wrapup_processed boolean, wrapup_expired boolean,
  final_fired boolean, wrapup_signal text) returns text
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
  select case
    when final_fired then null
    when not notifier.is_final_status(status) then 'final status'
    when wrapup_required and not wrapup_processed and not wrapup_expired then wrapup_signal
  end
$$;

-- Database-wide: the lost-wrapup grace (was NOTIFIER_WRAPUP_GRACE per process).
alter table notifier.settings
  add column wrapup_grace interval not null default '300 seconds'
  check (wrapup_grace >= interval '0' and wrapup_grace <= interval '365 days');
comment on column notifier.settings.wrapup_grace is
  'How long after A (the database clock in job_conditions.final_status_at) a missing wrapup is '
  'given up on and the final notification sent without host counts. Written with SQL.';

grant select on notifier.job_conditions to ":NOTIFIER_SERVICE_ROLE", ":NOTIFIER_READONLY_ROLE";
