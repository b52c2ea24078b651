--! Previous: sha1:aacf88ae283a6a8cacc8808beb0a1a8fa5173a28
--! Hash: sha1:d94a89b473b71a85f6f4af2eee6dedb2e73d9fde
--! Message: templates name constraint

-- Names are unique among templates that are not removed (previous migration's index); the old
-- UNIQUE (name) constraint, over removed ones too, goes.
--
-- Locks: DROP CONSTRAINT takes ACCESS EXCLUSIVE on notifier.notification_templates for an instant
-- (its index is dropped with it); bounded by `migrate`'s lock_timeout like every migration.

alter table notifier.notification_templates drop constraint notification_templates_name_key;
