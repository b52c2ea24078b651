--! Previous: sha1:7ddfede9f3372fd5973c148ce80fb72b8ceb735b
--! Hash: sha1:aadff1d6e08b19c397f88136d8844b365984612d
--! Message: templates name constraint

-- Names are unique among templates that are not removed (previous migration's index); the old
-- UNIQUE (name) constraint, over removed ones too, goes.
--
-- Locks: DROP CONSTRAINT takes ACCESS EXCLUSIVE on notifier.notification_templates for an instant
-- (its index is dropped with it); bounded by `migrate`'s lock_timeout like every migration.

alter table notifier.notification_templates drop constraint notification_templates_name_key;
