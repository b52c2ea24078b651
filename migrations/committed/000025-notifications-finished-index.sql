--! Previous: sha1:96f4d6e5601509d52c32e6d3a160727899067c63
--! Hash: sha1:09a5f8b864a3b5f5881fa1f30dc9840cd45c675e
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
