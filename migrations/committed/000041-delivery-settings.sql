--! Previous: sha1:d07b3a6d4ab2a4e1e27f36ae4f8204d82f06f50f
--! Hash: sha1:53b43762fa65c15feb28c3281ff61d4df814b543
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

set local lock_timeout = '5s';

alter table notifier.settings
  add column delivery_paused boolean not null default false;

comment on column notifier.settings.delivery_paused is
  'true: no service claims (sends) anything; rows stay pending. For staging clones. pg-job-notifier pause / resume.';

-- The service role flips it through `pause` / `resume` (run with the service's login).
grant update (delivery_paused) on notifier.settings to ":NOTIFIER_SERVICE_ROLE";
