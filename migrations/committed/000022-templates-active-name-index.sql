--! Previous: sha1:0785d907d7636c44e9d1ded4e244d8046ad3fece
--! Hash: sha1:aacf88ae283a6a8cacc8808beb0a1a8fa5173a28
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
