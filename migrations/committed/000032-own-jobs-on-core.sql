--! Previous: sha1:8c96e966e54502d27e47d35f33827c603f50f77c
--! Hash: sha1:37de892dd468eb1eff0f5562dd53a5165c196bca
--! Message: notifier.jobs attached through the same core as a host's table

-- The product's own notifier.jobs becomes one attachment among others ('notifier.jobs', made by
-- notifier.attach_table like any host table), so the protocol's decision exists once
-- (notifier.decide, migration 000030). Its bookkeeping columns move to notifier.job_conditions
-- (the rows of existing jobs are carried over); the triggers of 000005 and the view of 000007
-- are replaced. What stays particular to notifier.jobs: started_at / finished_at are filled in
-- when NULL (CONTRACT §3), and saving the wrapup event in job_events still sets
-- host_status_counts (000004), which the attachment's trigger sees as B.
--
-- Locks: ACCESS EXCLUSIVE on notifier.jobs (drop columns and triggers), SHARE ROW EXCLUSIVE
-- (create triggers), briefly. No host table is touched.

-- `migrate` sets lock_timeout for the session (NOTIFIER_LOCK_TIMEOUT); run by hand without one,
-- this transaction still waits at most 5 s for a lock.
select pg_catalog.set_config('lock_timeout', '5s', true) where pg_catalog.current_setting('lock_timeout') in ('0', '0ms');

insert into notifier.job_conditions
  (attachment, job_id, wrapup_required, final_status_at, wrapup_processed_at, wrapup_expired_at,
   started_condition_at, final_condition_at, final_trigger)
select 'notifier.jobs', id, wrapup_required,
       case when wrapup_required is not null then coalesce(finished_at, now()) end,
       wrapup_processed_at, wrapup_expired_at, started_condition_at, final_condition_at, final_trigger
  from notifier.jobs
 where wrapup_required is not null or wrapup_processed_at is not null or started_condition_at is not null;

drop view notifier.job_notification_state;
drop trigger _100_keep_bookkeeping on notifier.jobs;
drop trigger _100_keep_bookkeeping_on_update on notifier.jobs;
drop trigger _200_decide on notifier.jobs;
drop trigger _200_decide_on_update on notifier.jobs;
drop trigger _500_create_notifications_on_insert on notifier.jobs;
drop trigger _500_create_notifications_on_update on notifier.jobs;
drop function notifier.tg_jobs__keep_bookkeeping();
drop function notifier.tg_jobs__decide();
drop function notifier.tg_jobs__create_notifications();
drop function notifier.create_notifications(notifier.jobs, text);
drop function notifier.job_snapshot(notifier.jobs);
drop function notifier.expire_wrapups(interval);  -- redefined over every attachment in 000033
alter table notifier.jobs
  drop column wrapup_processed_at,   -- (drops jobs_awaiting_wrapup_idx with it)
  drop column wrapup_required,
  drop column wrapup_expired_at,
  drop column started_condition_at,
  drop column final_condition_at,
  drop column final_trigger;

-- started_at / finished_at: the product fills them in when the host left them NULL.
create function notifier.tg_jobs__stamp_times() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  if new.status = 'running' then
    new.started_at := coalesce(new.started_at, now());
  elsif notifier.is_final_status(new.status) then
    new.finished_at := coalesce(new.finished_at, now());
  end if;
  return new;
end;
$$;

create trigger _100_stamp_times
  before insert on notifier.jobs
  for each row
  when ((new.status = 'running' and new.started_at is null)
        or (new.status in ('successful', 'failed', 'error', 'canceled') and new.finished_at is null))
  execute function notifier.tg_jobs__stamp_times();

create trigger _100_stamp_times_on_update
  before update of status on notifier.jobs
  for each row
  when ((new.status = 'running' and new.started_at is null)
        or (new.status in ('successful', 'failed', 'error', 'canceled') and new.finished_at is null))
  execute function notifier.tg_jobs__stamp_times();

-- The protocol: the same generated triggers as on any attached table (notifier_100_job_insert,
-- notifier_100_job_update), their functions notifier.jobs__facts, notifier.jobs__snapshot and
-- notifier.tg_jobs__write, and the state view.
select notifier.attach_table('notifier.jobs', id_column => 'id', status_column => 'status',
                             wrapup_column => 'host_status_counts', dispatched => 'wrapup_dispatched',
                             name_column => 'name', job_template_column => 'job_template_id',
                             organization_column => 'organization_id', kind => 'kind');

comment on view notifier.job_notification_state is
  'Per job of every attachment: status, wrapup_dispatched, whether the wrapup was processed, when '
  'the started and final conditions committed, its notification rows by status, what it is '
  'waiting for and when the grace fires. Rebuilt by attach/detach.';

grant insert (timed_out), update (timed_out) on notifier.jobs to ":NOTIFIER_HOST_ROLE";
grant select on notifier.job_notification_state to ":NOTIFIER_SERVICE_ROLE", ":NOTIFIER_READONLY_ROLE";
revoke execute on function notifier.job_state(bigint) from public;
grant execute on function notifier.job_state(bigint) to ":NOTIFIER_SERVICE_ROLE", ":NOTIFIER_READONLY_ROLE";
