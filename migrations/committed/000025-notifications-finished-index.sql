--! Previous: sha1:03ce4fcfc8d4d6d447b23d59c2b7c0422458a0cc
--! Hash: sha1:c64363ee3470605b00c5a4389eafd0488e056e0b
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
