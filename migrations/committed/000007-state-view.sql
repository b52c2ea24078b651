--! Previous: sha1:73f799117a684bbc961cd12da9e6ef72cb3e7f82
--! Hash: sha1:2a8589ec8aa3dc7d8ef0bc06859bf1517e4315e4
--! Message: state view

-- For DBAs: per job, where the protocol stands and why anything still waits.
--   select * from notifier.job_notification_state where waiting_for is not null;
create view notifier.job_notification_state as
select j.id                               as job_id,
       j.kind,
       j.name,
       j.status,
       j.wrapup_dispatched,
       notifier.wrapup_event_of(j.kind)   as wrapup_event,
       j.wrapup_required,
       j.wrapup_processed_at is not null  as wrapup_processed,
       j.wrapup_processed_at,
       j.wrapup_expired_at,
       j.started_at,
       j.finished_at,
       j.started_condition_at,            -- when the started condition committed
       j.final_condition_at,              -- when the final condition committed
       j.final_trigger,
       n.pending,
       n.successful,
       n.failed,
       case
         when j.final_condition_at is not null then null
         when not notifier.is_final_status(j.status) then 'final status'
         when j.wrapup_required and j.wrapup_processed_at is null and j.wrapup_expired_at is null
           then 'wrapup event (' || coalesce(notifier.wrapup_event_of(j.kind), 'none') || ')'
       end                                as waiting_for
  from notifier.jobs j
  left join lateral (
         select (count(*) filter (where x.status = 'pending'))::integer    as pending,
                (count(*) filter (where x.status = 'successful'))::integer as successful,
                (count(*) filter (where x.status = 'failed'))::integer     as failed
           from notifier.notifications x
          where x.job_id = j.id
       ) n on true;

comment on view notifier.job_notification_state is
  'Per job: status, wrapup_dispatched, whether the wrapup was processed, when the started and '
  'final conditions committed, its notification rows by status, and what it is waiting for.';
