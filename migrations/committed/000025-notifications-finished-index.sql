--! Previous: sha1:8d904df68e8434ffef1967c53a88a8e0de421048
--! Hash: sha1:48404641c761919c0b4606108f664f833e6d3271
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
