--! Previous: sha1:86bfd49984cc903b58febdd7d5a986e663f1132c
--! Hash: sha1:48ac5086bc8adabb63e47b5a46aac8686a8dcc7d
--! Message: claim started index

-- Claims stay fast however large the backlog: the index behind "started before final".
--
-- The service's claim (src/sql/claimDue.ts) skips a final row while the started row of the same
-- (job, template) is still pending. PostgreSQL runs that NOT EXISTS as a hashed subplan over every
-- pending started row; without an index of its own it found them by reading the whole pending
-- index (notifications_due_idx) and filtering on trigger, once per claim: a claim cost grew with
-- the backlog (about 7 ms per claim with 20,000 pending rows, 12 ms with 20,000 pending among
-- 300,000, against 0.2 ms with this index; docs/benchmarks.md).
--
-- Only pending started rows are in it, so it stays as small as the work in flight.

create index notifications_started_pending_idx
  on notifier.notifications (job_id, notification_template_id)
  where trigger = 'started' and status = 'pending';
