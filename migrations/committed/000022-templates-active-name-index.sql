--! Previous: sha1:7ce0e0f7318d34056ee7bf8bb36954e9a4cd830b
--! Hash: sha1:40b54be9fac0d61125b61f555b461b8ae91eaa73
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
