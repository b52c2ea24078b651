--! Previous: sha1:51504109c56ce78d07303484d0b58fb5570cc1ec
--! Hash: sha1:8f7fc11f63e434438bf3dcafd13dd4758605aacb
--! Message: purge also deletes the protocol's bookkeeping of long-finished jobs

-- notifier.job_conditions (migration 000030) gains a row per job of every attachment and nothing
-- deleted it: it grew without bound beside a host table whose own history the host prunes. The
-- purge of migration 000026 gets a fourth section, in the same bounded SKIP LOCKED style, with
-- its own key in the returned object ('job_conditions'):
--   4. job_conditions: rows whose final notification fired (final_condition_at) before
--      successful_retention (index job_conditions_fired_idx, 000036). A row whose final
--      notification has not fired yet (final_condition_at NULL: running, waiting for its wrapup
--      or its grace) is never chosen, so nothing owed is forgotten.
-- Lock order: only product rows are locked (job_conditions rows, SKIP LOCKED), never a host row,
-- so the purge never waits for a host writer. A host write on a job whose bookkeeping a purge has
-- just locked (a status rewritten on a job that finished before the retention) waits for that
-- one short statement's transaction; afterwards its trigger finds no bookkeeping and, the status
-- not becoming final, fires nothing (the product has forgotten the job: its retention is over).
--
-- Sections 1-3 are unchanged. Still SECURITY DEFINER, owned by the NOLOGIN owner role, which
-- gets only what the new statement uses: SELECT of the three columns, UPDATE of one (SELECT … FOR
-- UPDATE needs it; nothing is updated) and DELETE on notifier.job_conditions.
--
-- Locks: CREATE OR REPLACE FUNCTION takes no table lock; the GRANT changes only the catalog entry
-- of notifier.job_conditions (no host table), under `migrate`'s lock_timeout.

create or replace function notifier.purge(successful_retention interval, failed_retention interval, batch integer)
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
  condition_rows integer;
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

  -- 4. The protocol's bookkeeping of jobs whose final notification fired before the retention
  --    (job_conditions_fired_idx). A row still waiting for its final notification has
  --    final_condition_at NULL and is never chosen. Only product rows are locked, never a host row.
  delete from notifier.job_conditions c
   where (c.attachment, c.job_id) in (select x.attachment, x.job_id from notifier.job_conditions x
                                       where x.final_condition_at < cutoff
                                       order by x.final_condition_at
                                       limit batch
                                       for update skip locked)
     and c.final_condition_at < cutoff;
  get diagnostics condition_rows = row_count;

  return jsonb_build_object('notifications', successful_rows + failed_rows,
                            'job_events', event_rows,
                            'templates', template_rows,
                            'job_conditions', condition_rows);
end;
$$;

comment on function notifier.purge(interval, interval, integer) is
  'Deletes one batch (at most batch rows per kind) of finished notification rows, old job events, '
  'removed templates and the bookkeeping of jobs whose final notification fired, past their '
  'retention, skipping locked rows; returns the counts. Call until every count is 0.';

-- SELECT … FOR UPDATE needs UPDATE on one column of each table it locks; nothing is updated.
grant select (attachment, job_id, final_condition_at), update (final_condition_at), delete
  on notifier.job_conditions to ":NOTIFIER_OWNER_ROLE";
alter function notifier.purge(interval, interval, integer) owner to ":NOTIFIER_OWNER_ROLE";

revoke execute on function notifier.purge(interval, interval, integer) from public;
grant execute on function notifier.purge(interval, interval, integer) to ":NOTIFIER_SERVICE_ROLE";
