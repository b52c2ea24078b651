--! Previous: sha1:5785924610955f8619290b43b2d15d89fef56021
--! Hash: sha1:5fc6682d32c0a9320f487735bf04f1ab1d02cab9
--! Message: templates name constraint

-- Names are unique among templates that are not removed (previous migration's index); the old
-- UNIQUE (name) constraint, over removed ones too, goes.
--
-- Locks: DROP CONSTRAINT takes ACCESS EXCLUSIVE on notifier.notification_templates for an instant
-- (its index is dropped with it); bounded by `migrate`'s lock_timeout like every migration.

alter table notifier.notification_templates drop constraint notification_templates_name_key;
