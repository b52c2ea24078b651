--! Previous: sha1:2c4da37c4ca672414315a5a4272389197401611e
--! Hash: sha1:d813e7e8dace093f85dd4e4ef515a9b41b420743
--! Message: lease token and attempt history

-- Two columns on notifier.notifications for the delivery engine (CONTRACT §5.9, §5.11):
--
--   lease_token      set to a fresh uuid by every claim (notifier.claim_due, next migration). An
--                    outcome or a lease extension names the token of the claim it belongs to and
--                    changes the row only while that token is still the row's: a process whose
--                    lease lapsed (its database link was down) and whose row another process
--                    claimed since can no longer record over the new holder. NULL when unclaimed.
--   retried_at       when an operator last put the row back to pending (`notifications retry`,
--                    the web view's Retry): NOTIFIER_MAX_AGE counts from the later of created_at
--                    and this, so a row retried by hand is not expired again at once.
--   attempt_history  one short entry per failed attempt (attempt number, time, outcome, HTTP
--                    status, error excerpt, what was sent, targets reached), the last 10 kept,
--                    so an operator sees every attempt and not only the last error.
--
-- Locks: ACCESS EXCLUSIVE on notifier.notifications for the three ADD COLUMNs only. All are
-- catalog-only changes (NULL columns, and a constant default: no table rewrite), so the lock is
-- held for milliseconds; lock_timeout makes a migration queued behind a long reader fail fast
-- instead of blocking the host's inserts behind it.

-- `migrate` sets lock_timeout for the session (NOTIFIER_LOCK_TIMEOUT); run by hand without one,
-- this transaction still waits at most 5 s for a lock.
select pg_catalog.set_config('lock_timeout', '5s', true) where pg_catalog.current_setting('lock_timeout') in ('0', '0ms');

alter table notifier.notifications
  add column lease_token uuid,
  add column retried_at timestamptz,
  add column attempt_history jsonb not null default '[]'::jsonb;

comment on column notifier.notifications.lease_token is
  'The token of the claim holding the row (notifier.claim_due); outcomes and lease extensions must name it.';
comment on column notifier.notifications.retried_at is
  'When an operator last put the row back to pending; NOTIFIER_MAX_AGE counts from the later of created_at and this.';
comment on column notifier.notifications.attempt_history is
  'The last 10 failed attempts: [{attempt, at, outcome, http_status, error, sent, targets}], oldest first.';
