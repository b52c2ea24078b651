--! Previous: sha1:6259d341824d417975f7ec00d77b9722fc5d94c2
--! Hash: sha1:bb1874db5ee4888f73d0fa76fe60500dc475d356
--! Message: health reads the oldest job awaiting its wrapup from notifier.job_conditions

-- notifier.health() (migration 000027) read notifier.jobs.final_condition_at / wrapup_required
-- and the index jobs_awaiting_wrapup_idx, which migration 000032 dropped when the protocol's
-- bookkeeping moved to notifier.job_conditions: every call failed ("column j.final_condition_at
-- does not exist"), and with it /metrics and the web view. Replaced with the same columns, its
-- awaiting_wrapup_since now read from notifier.job_conditions over every attachment: the
-- database-clock time of A (final_status_at) of the oldest job whose final notification still
-- waits for its wrapup. The predicate is exactly that of the partial index
-- job_conditions_awaiting_wrapup_idx (000030) on final_status_at, so min() reads one entry of it
-- (the lost-wrapup sweep's own index), however many jobs there are.
--
-- Runs with the caller's rights, as before; the service and read-only roles may call it (both
-- have SELECT on notifier.job_conditions since 000030).
--
-- Locks: CREATE OR REPLACE FUNCTION takes no table lock.

create or replace function notifier.health(pending_cap integer default 10000)
returns table (pending integer, pending_capped boolean, oldest_due_at timestamptz,
               awaiting_wrapup_since timestamptz, notification_queue_usage double precision)
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  select least(p.counted, pending_cap)::integer,
         p.counted > pending_cap,
         (select min(n.run_at) from notifier.notifications n where n.status = 'pending'),
         (select min(c.final_status_at) from notifier.job_conditions c
           where c.final_condition_at is null and c.wrapup_required
             and c.wrapup_processed_at is null and c.wrapup_expired_at is null),
         pg_catalog.pg_notification_queue_usage()
    from (select count(*) as counted
            from (select 1 from notifier.notifications n
                   where n.status = 'pending'
                   limit pending_cap + 1) bounded) p
$$;

comment on function notifier.health(integer) is
  'Pending rows (counted up to pending_cap), the oldest due pending row, when the oldest job still '
  'awaiting its wrapup reached its final status (notifier.job_conditions, any attachment), and the '
  'NOTIFY queue usage; every figure read from an index, bounded.';
