--! Previous: sha1:3f5f9b1b8d84a4877e4513d65ced087b4c9af270
--! Hash: sha1:5c843bee173de14f3faf98f337f1879d0d2a910a
--! Message: notification protocol

-- The two-condition protocol: when each notification exists.
--
--   started  when a job's status first becomes 'running'.
--   final    (success for 'successful'; error for 'failed', 'error', 'canceled') when the later of
--            (A) a final status and (B) the wrapup event being processed (host_status_counts set)
--            commits. B is waived when wrapup_dispatched is false at the moment A is written: the
--            runner never emitted a wrapup, so none will come.
--
-- Both writers UPDATE the same notifier.jobs row, so PostgreSQL's row lock orders them. Under
-- READ COMMITTED the second writer, once unblocked, re-reads the first writer's committed row
-- and its BEFORE trigger sees it as OLD: whichever commits second finds both conditions and
-- creates the rows, in its own transaction. Under REPEATABLE READ / SERIALIZABLE the second writer
-- fails with 40001 instead and its retry does the same. Nothing is visible before that commit,
-- and bookkeeping columns on the job row make every step happen at most once.
--
-- Triggers on notifier.jobs, in firing order:
--   _100_keep_bookkeeping   BEFORE  only when a writer touched a bookkeeping column: undoes it
--   _200_decide             BEFORE  only when status became running/final, B arrived, or the
--                                   wrapup grace expired: records what happened and decides
--   _500_create_notifications_on_insert / _on_update
--                           AFTER   only when _200_decide fired a condition: fans out the rows

alter table notifier.jobs
  add column wrapup_processed_at  timestamptz,
  add column wrapup_required      boolean,
  add column wrapup_expired_at    timestamptz,
  add column started_condition_at timestamptz,
  add column final_condition_at   timestamptz,
  add column final_trigger        text check (final_trigger in ('success', 'error'));

comment on column notifier.jobs.wrapup_processed_at is
  'Bookkeeping (B): when host_status_counts first became non-NULL.';
comment on column notifier.jobs.wrapup_required is
  'Bookkeeping: wrapup_dispatched as it was when the status became final (A). False waives B.';
comment on column notifier.jobs.wrapup_expired_at is
  'Set by notifier.expire_wrapups() when the wrapup never came within the grace: B is waived.';
comment on column notifier.jobs.started_condition_at is
  'Bookkeeping: when the started notifications were created (by the transaction that committed it).';
comment on column notifier.jobs.final_condition_at is
  'Bookkeeping: when the final notifications were created. Once set, nothing fires again.';
comment on column notifier.jobs.final_trigger is 'Bookkeeping: the final trigger that fired.';

create function notifier.is_final_status(status text) returns boolean
language sql immutable parallel safe
set search_path = pg_catalog
as $$ select status in ('successful', 'failed', 'error', 'canceled') $$;

-- The job as notifications describe it: every column but the protocol's bookkeeping
-- (wrapup_expired_at stays, so a message can say the host counts were unavailable).
create function notifier.job_snapshot(job notifier.jobs) returns jsonb
language sql stable
set search_path = pg_catalog
as $$
  select to_jsonb(job) - array['wrapup_processed_at', 'wrapup_required', 'started_condition_at',
                               'final_condition_at', 'final_trigger']
$$;

-- Wakes the delivery service. Only a hint: the service also polls, so a lost or skipped wake-up
-- delays a notification by at most the poll interval and never loses it. The constant payload
-- lets PostgreSQL fold the repeats of one transaction into one notification.
create function notifier.wake_listeners() returns void
language sql
set search_path = pg_catalog
as $$ select pg_notify('notifier', 'pending') $$;

-- Creates the (job, trigger) rows: one per distinct template of all matching subscriptions.
-- A subscription matches when each of its non-NULL scope columns equals the job's.
-- ON CONFLICT makes a repeat a no-op, as a last line of defence behind the bookkeeping columns.
create function notifier.create_notifications(job notifier.jobs, trigger text) returns integer
language plpgsql
set search_path = pg_catalog
as $$
#variable_conflict use_column
declare
  snapshot constant jsonb := notifier.job_snapshot(job);
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

-- _100: the bookkeeping columns are the protocol's own. A writer that sets them (a stale ORM
-- save, a hand-written UPDATE) is quietly overruled, so it can neither suppress nor repeat a
-- notification. (Give host roles column-level UPDATE grants to make such writes an error.)
create function notifier.tg_jobs__keep_bookkeeping() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
begin
  if tg_op = 'INSERT' then
    new.wrapup_processed_at := null;
    new.wrapup_required := null;
    new.started_condition_at := null;
    new.final_condition_at := null;
    new.final_trigger := null;
  else
    new.wrapup_processed_at := old.wrapup_processed_at;
    new.wrapup_required := old.wrapup_required;
    new.started_condition_at := old.started_condition_at;
    new.final_condition_at := old.final_condition_at;
    new.final_trigger := old.final_trigger;
  end if;
  return new;
end;
$$;

create trigger _100_keep_bookkeeping
  before insert on notifier.jobs
  for each row
  when (new.wrapup_processed_at is not null or new.wrapup_required is not null
        or new.started_condition_at is not null or new.final_condition_at is not null
        or new.final_trigger is not null)
  execute function notifier.tg_jobs__keep_bookkeeping();

create trigger _100_keep_bookkeeping_on_update
  before update on notifier.jobs
  for each row
  when (new.wrapup_processed_at is distinct from old.wrapup_processed_at
        or new.wrapup_required is distinct from old.wrapup_required
        or new.started_condition_at is distinct from old.started_condition_at
        or new.final_condition_at is distinct from old.final_condition_at
        or new.final_trigger is distinct from old.final_trigger)
  execute function notifier.tg_jobs__keep_bookkeeping();

-- _200: records what this write did and decides whether a condition is now complete.
-- It runs while the row lock is held, on the newest committed version of the row (OLD), so the
-- answer cannot be stale: a concurrent writer of the other condition is either already
-- visible here or will see this write when it takes the lock.
create function notifier.tg_jobs__decide() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
declare
  became_final constant boolean :=
    notifier.is_final_status(new.status)
    and (tg_op = 'INSERT' or not notifier.is_final_status(old.status));
begin
  -- B: the wrapup event has been processed.
  if new.host_status_counts is not null and new.wrapup_processed_at is null then
    new.wrapup_processed_at := clock_timestamp();
  end if;

  -- Started: the first time the status is 'running'.
  if new.status = 'running' then
    new.started_at := coalesce(new.started_at, now());
    if new.started_condition_at is null then
      new.started_condition_at := clock_timestamp();
    end if;
  end if;

  if notifier.is_final_status(new.status) then
    new.finished_at := coalesce(new.finished_at, now());
    -- A: capture, at the moment the status becomes final, whether a wrapup is on its way.
    -- Later rewrites of a final status (a reaper turning failed into error) keep the capture.
    if became_final then
      new.wrapup_required := new.wrapup_dispatched;
    end if;
    -- Final: A is here; B is here, waived at A, or expired by the grace.
    if new.final_condition_at is null
       and (not new.wrapup_required
            or new.wrapup_processed_at is not null
            or new.wrapup_expired_at is not null) then
      new.final_condition_at := clock_timestamp();
      new.final_trigger := case new.status when 'successful' then 'success' else 'error' end;
    end if;
  end if;
  return new;
end;
$$;

comment on function notifier.tg_jobs__decide() is
  'The protocol''s decision: records A (final status), B (wrapup processed) and fires the started '
  'and final conditions at most once each, under the job''s row lock.';

-- The WHEN clauses let every other write (pending -> waiting, extra metadata, anything after
-- the final notification fired) skip the trigger entirely.
create trigger _200_decide
  before insert on notifier.jobs
  for each row
  when (new.status in ('running', 'successful', 'failed', 'error', 'canceled')
        or new.host_status_counts is not null)
  execute function notifier.tg_jobs__decide();

create trigger _200_decide_on_update
  before update on notifier.jobs
  for each row
  when (old.final_condition_at is null
        and ((new.status is distinct from old.status
              and new.status in ('running', 'successful', 'failed', 'error', 'canceled'))
             or (new.host_status_counts is not null and old.wrapup_processed_at is null)
             or (new.wrapup_expired_at is not null and old.wrapup_expired_at is null)))
  execute function notifier.tg_jobs__decide();

-- _500: fans out the rows of the condition(s) _200_decide just fired, in the same transaction.
create function notifier.tg_jobs__create_notifications() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
begin
  if new.started_condition_at is not null
     and (tg_op = 'INSERT' or old.started_condition_at is null) then
    perform notifier.create_notifications(new, 'started');
  end if;
  if new.final_condition_at is not null
     and (tg_op = 'INSERT' or old.final_condition_at is null) then
    perform notifier.create_notifications(new, new.final_trigger);
  end if;
  return null;
end;
$$;

create trigger _500_create_notifications_on_insert
  after insert on notifier.jobs
  for each row
  when (new.started_condition_at is not null or new.final_condition_at is not null)
  execute function notifier.tg_jobs__create_notifications();

create trigger _500_create_notifications_on_update
  after update on notifier.jobs
  for each row
  when ((old.started_condition_at is null and new.started_condition_at is not null)
        or (old.final_condition_at is null and new.final_condition_at is not null))
  execute function notifier.tg_jobs__create_notifications();
