--! Previous: sha1:d813e7e8dace093f85dd4e4ef515a9b41b420743
--! Hash: sha1:2666da29e79f56ceaab6768a1f082f060908961c
--! Message: delivery kill switch

-- notifier.settings.delivery_paused: a kill switch for delivery, database-wide. While it is true
-- notifier.claim_due claims nothing, so every service process stops sending (sends already in
-- flight finish); rows stay pending and go out once it is false again. Meant for a staging clone
-- of a production database, which must not page production's receivers:
--
--     update notifier.settings set delivery_paused = true;    -- or: pg-job-notifier pause
--     update notifier.settings set delivery_paused = false;   -- or: pg-job-notifier resume
--
-- Locks: ACCESS EXCLUSIVE on notifier.settings (the product's one-row table) for a catalog-only
-- ADD COLUMN with a constant default.

-- `migrate` sets lock_timeout for the session (NOTIFIER_LOCK_TIMEOUT); run by hand without one,
-- this transaction still waits at most 5 s for a lock.
select pg_catalog.set_config('lock_timeout', '5s', true) where pg_catalog.current_setting('lock_timeout') in ('0', '0ms');

alter table notifier.settings
  add column delivery_paused boolean not null default false;

comment on column notifier.settings.delivery_paused is
  'true: no service claims (sends) anything; rows stay pending. For staging clones. pg-job-notifier pause / resume.';

-- The service role flips it through `pause` / `resume` (run with the service's login).
grant update (delivery_paused) on notifier.settings to ":NOTIFIER_SERVICE_ROLE";
