--! Previous: sha1:40b54be9fac0d61125b61f555b461b8ae91eaa73
--! Hash: sha1:318ca5b4ab74c03adbfe2a2cdc01c74bd93f9e5b
--! Message: templates name constraint

-- Names are unique among templates that are not removed (previous migration's index); the old
-- UNIQUE (name) constraint, over removed ones too, goes.
--
-- Locks: DROP CONSTRAINT takes ACCESS EXCLUSIVE on notifier.notification_templates for an instant
-- (its index is dropped with it); bounded by `migrate`'s lock_timeout like every migration.

alter table notifier.notification_templates drop constraint notification_templates_name_key;
