--! Previous: sha1:a2b1a6f5b848f1c778cefad5616c2d809c35dad6
--! Hash: sha1:6e938ddde8d4244e5892d76b11bf246c86d5d916
--! Message: templates active name index

--! no-transaction
-- A removed template keeps its name (its history shows it), so names are unique among the
-- templates that are not removed only: `templates add` may reuse a removed template's name.
-- This unique index replaces the table's UNIQUE (name) constraint (dropped by the next migration).
--
-- Locks: CREATE INDEX CONCURRENTLY takes SHARE UPDATE EXCLUSIVE on notifier.notification_templates:
-- reads and writes go on. It waits for transactions older than itself; one that outlasts
-- NOTIFIER_LOCK_TIMEOUT makes it fail and leave an invalid index, which the next `migrate` drops
-- before building it again.
create unique index concurrently notification_templates_active_name_idx
  on notifier.notification_templates (name) where removed_at is null;
