--! Previous: sha1:c64363ee3470605b00c5a4389eafd0488e056e0b
--! Hash: sha1:a7a8847f9a687fdb27dca1f1d94c8e30e4660562
--! Message: purge

-- Retention: notifier.purge() deletes one bounded batch of what is past its retention, per kind
-- of row, and says how many rows of each it deleted. `pg-job-notifier purge` and the service's
-- periodic purge call it again until a call deletes nothing; each call is a short transaction of
-- its own, so a purge never holds many locks or a long snapshot.
--
-- Never blocking: every batch is chosen `FOR UPDATE SKIP LOCKED`, so a row a claim, an outcome
-- or a host transaction holds is skipped (and deleted by a later purge), never waited for; a
-- pending row is never chosen. The host's own tables are read, never written, except
-- notifier.job_events of the product's own notifier.jobs (old events of long-finished jobs; the
-- jobs rows are the host's record and are kept).
--
-- Sections, in order (each `batch` rows at most):
--   1. notifications: successful rows created before successful_retention, failed rows before
--      failed_retention (index notifications_finished_idx);
--   2. job_events: events older than successful_retention of jobs that finished before it;
--   3. notification_templates: removed templates (removed_at) older than successful_retention
--      that no notification row refers to any more. (A host transaction that read the template's
--      subscriptions before the removal and is still inserting rows holds FOR KEY SHARE on the
--      template row: SKIP LOCKED passes it by.)
--
-- Runs as the NOLOGIN owner role of migration 000013 (SECURITY DEFINER): the service role has no
-- DELETE on these tables; it may delete exactly what this function chooses. The owner role gets
-- only the privileges these statements use. Executable by the service role only.
--
-- Locks: CREATE FUNCTION takes no table lock; the GRANTs change only the catalog entries of
-- notifier tables (no host table), under `migrate`'s lock_timeout.

create function notifier.purge(successful_retention interval, failed_retention interval, batch integer)
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  cutoff constant timestamptz := now() - successful_retention;
  failed_cutoff constant timestamptz := now() - failed_retention;
  successful_rows integer;
  failed_rows integer;
  event_rows integer;
  template_rows integer;
begin
  if batch is null or batch < 1 then
    raise exception 'batch must be at least 1' using errcode = 'invalid_parameter_value';
  end if;

  -- 1. Finished notification rows past their retention.
  delete from notifier.notifications n
   where n.id in (select x.id from notifier.notifications x
                   where x.status = 'successful' and x.created_at < cutoff
                   order by x.created_at
                   limit batch
                   for update skip locked)
     and n.status = 'successful';
  get diagnostics successful_rows = row_count;

  delete from notifier.notifications n
   where n.id in (select x.id from notifier.notifications x
                   where x.status = 'failed' and x.created_at < failed_cutoff
                   order by x.created_at
                   limit batch
                   for update skip locked)
     and n.status = 'failed';
  get diagnostics failed_rows = row_count;

  -- 2. Events of jobs that finished before the retention (oldest events first).
  delete from notifier.job_events e
   where e.id in (select x.id from notifier.job_events x
                    join notifier.jobs j on j.id = x.job_id
                   where x.created_at < cutoff and j.finished_at < cutoff
                   order by x.id
                   limit batch
                   for update of x skip locked);
  get diagnostics event_rows = row_count;

  -- 3. Removed templates nothing refers to any more.
  delete from notifier.notification_templates t
   where t.id in (select x.id from notifier.notification_templates x
                   where x.removed_at < cutoff
                     and not exists (select 1 from notifier.notifications n where n.notification_template_id = x.id)
                   limit batch
                   for update skip locked);
  get diagnostics template_rows = row_count;

  return jsonb_build_object('notifications', successful_rows + failed_rows,
                            'job_events', event_rows,
                            'templates', template_rows);
end;
$$;

comment on function notifier.purge(interval, interval, integer) is
  'Deletes one batch (at most batch rows per kind) of finished notification rows, old job events '
  'and removed templates past their retention, skipping locked rows; returns the counts. Call '
  'until every count is 0.';

-- SELECT … FOR UPDATE needs UPDATE on one column of each table it locks; nothing is updated.
grant select (id, status, created_at, notification_template_id), update (status), delete
  on notifier.notifications to ":NOTIFIER_OWNER_ROLE";
grant select (id, job_id, created_at), update (created_at), delete on notifier.job_events to ":NOTIFIER_OWNER_ROLE";
grant select (id, finished_at) on notifier.jobs to ":NOTIFIER_OWNER_ROLE";
grant select (id, removed_at), update (removed_at), delete on notifier.notification_templates to ":NOTIFIER_OWNER_ROLE";
-- ALTER … OWNER by a non-superuser needs CREATE on the schema for the new owner (as in 000013).
grant create on schema notifier to ":NOTIFIER_OWNER_ROLE";
alter function notifier.purge(interval, interval, integer) owner to ":NOTIFIER_OWNER_ROLE";
revoke create on schema notifier from ":NOTIFIER_OWNER_ROLE";

revoke execute on function notifier.purge(interval, interval, integer) from public;
grant execute on function notifier.purge(interval, interval, integer) to ":NOTIFIER_SERVICE_ROLE";
