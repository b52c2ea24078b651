--! Previous: sha1:fee3453728f23ba368c84ed351c977ddf7bf2f57
--! Hash: sha1:0c1843634b7e9b22332a2dc35f3b62a2a9e38770
--! Message: notifications finished index

--! no-transaction
-- The purge's index: finished rows by status and age, so each batch reads the oldest rows of one
-- status instead of scanning the outbox. Pending rows are not in it: a host INSERT (always
-- pending) pays nothing for it; a row enters it when the service records its outcome.
--
-- Locks: CREATE INDEX CONCURRENTLY takes SHARE UPDATE EXCLUSIVE on notifier.notifications: host
-- INSERTs, claims and outcomes go on while it builds. It waits for transactions older than itself;
-- one that outlasts NOTIFIER_LOCK_TIMEOUT makes it fail and leave an invalid index, which the next
-- `migrate` drops before building it again.
create index concurrently notifications_finished_idx
  on notifier.notifications (status, created_at) where status <> 'pending';
