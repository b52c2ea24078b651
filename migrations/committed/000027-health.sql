--! Previous: sha1:a7a8847f9a687fdb27dca1f1d94c8e30e4660562
--! Hash: sha1:baa96929721fc6e505bc8fa1db7c7d059d18e562
--! Message: health

-- A cheap health reading for alerts, /metrics and the web view, instead of count(*) over the
-- outbox (which read every row on every scrape and page refresh). Each figure comes from a
-- partial index and reads a bounded number of entries, however large the outbox:
--   pending            pending rows, counted up to pending_cap + 1 (notifications_due_idx);
--                      pending_capped says the true number is larger
--   oldest_due_at      run_at of the pending row due longest ago (notifications_due_idx, one entry):
--                      a delivery that is late, not a big backlog, is what to alert on
--   awaiting_wrapup_since  finished_at of the oldest job whose final notification still waits
--                      for its wrapup event (jobs_awaiting_wrapup_idx, one entry); older than the
--                      wrapup grace means the sweep is not running
--   notification_queue_usage  pg_notification_queue_usage(): the instance-wide NOTIFY queue
--                      (shared with every LISTENer of the instance, AWX's dispatcher included)
--
-- Runs with the caller's rights; the service and read-only roles may call it.
--
-- Locks: CREATE FUNCTION takes no table lock.

create function notifier.health(pending_cap integer default 10000)
returns table (pending integer, pending_capped boolean, oldest_due_at timestamptz,
               awaiting_wrapup_since timestamptz, notification_queue_usage double precision)
language sql stable
set search_path = pg_catalog, pg_temp
as $$
  select least(p.counted, pending_cap)::integer,
         p.counted > pending_cap,
         (select min(n.run_at) from notifier.notifications n where n.status = 'pending'),
         (select min(j.finished_at) from notifier.jobs j
           where j.final_condition_at is null and j.wrapup_required),
         pg_notification_queue_usage()
    from (select count(*) as counted
            from (select 1 from notifier.notifications n
                   where n.status = 'pending'
                   limit pending_cap + 1) bounded) p
$$;

comment on function notifier.health(integer) is
  'Pending rows (counted up to pending_cap), the oldest due pending row, the oldest job awaiting '
  'its wrapup, and the NOTIFY queue usage; every figure read from an index, bounded.';

revoke execute on function notifier.health(integer) from public;
grant execute on function notifier.health(integer) to ":NOTIFIER_SERVICE_ROLE", ":NOTIFIER_READONLY_ROLE";
