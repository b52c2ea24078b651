--! Previous: sha1:6e938ddde8d4244e5892d76b11bf246c86d5d916
--! Hash: sha1:54c3dc34e29689e61e5ad245f5e9cb9e6eb1c834
--! Message: templates name constraint

-- Names are unique among templates that are not removed (previous migration's index); the old
-- UNIQUE (name) constraint, over removed ones too, goes.
--
-- Locks: DROP CONSTRAINT takes ACCESS EXCLUSIVE on notifier.notification_templates for an instant
-- (its index is dropped with it); bounded by `migrate`'s lock_timeout like every migration.

alter table notifier.notification_templates drop constraint notification_templates_name_key;
