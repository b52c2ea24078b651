--! Previous: sha1:5c843bee173de14f3faf98f337f1879d0d2a910a
--! Hash: sha1:73f799117a684bbc961cd12da9e6ef72cb3e7f82
--! Message: wrapup grace

-- Never give up: a job whose final status committed with wrapup_dispatched true, but whose
-- wrapup event is never processed (the callback receiver lost it), still gets its final
-- notifications once the grace has passed since it finished. Their snapshot has
-- host_status_counts NULL and wrapup_expired_at set, so the message says the counts were
-- unavailable.

-- Only jobs still waiting for their wrapup are indexed: the grace sweep reads nothing else.
create index jobs_awaiting_wrapup_idx on notifier.jobs (finished_at)
  where final_condition_at is null and wrapup_required;

-- Called every few seconds by the delivery service with NOTIFIER_WRAPUP_GRACE. Fires through the
-- same UPDATE path as any writer, so it is exactly-once against a wrapup arriving at the same
-- moment: whichever takes the row lock second sees the other's commit (READ COMMITTED re-checks
-- the WHERE clause on the newest row) and does nothing. Returns the number of jobs expired.
create function notifier.expire_wrapups(grace interval) returns integer
language sql
set search_path = pg_catalog
as $$
  with expired as (
    update notifier.jobs
       set wrapup_expired_at = now()
     where final_condition_at is null
       and wrapup_required
       and wrapup_processed_at is null
       and wrapup_expired_at is null
       and notifier.is_final_status(status)
       and finished_at <= now() - grace
    returning 1
  )
  select count(*)::integer from expired
$$;

comment on function notifier.expire_wrapups(interval) is
  'Fires the final notifications of jobs whose wrapup event has not been processed within grace.';
