--! Previous: sha1:e61b1a31c3e0cd812f99a5ae6f8e4fb92b88d5fd
--! Hash: sha1:0785d907d7636c44e9d1ded4e244d8046ad3fece
--! Message: templates removed

-- Templates are removed softly: `templates remove` deletes the template's subscriptions (so no new
-- notification row is created for it) and stamps removed_at, instead of deleting the template.
--
-- Deleting it raced the host: a host transaction creating notification rows for the template
-- holds FOR KEY SHARE on the template row (the foreign key check of each row it inserts); the
-- DELETE then either waited for the host or, when it went first, made the host's INSERT fail on
-- the foreign key, so the host's job-status UPDATE failed. It also cascaded the template's whole
-- history away. Stamping removed_at is an UPDATE that changes no key, which takes FOR NO KEY
-- UPDATE: it neither waits for nor blocks a FOR KEY SHARE lock, so the host always commits.
-- Removed templates are hidden from `templates list`, `show` and the web view; their rows stay
-- until retention deletes them, and `purge` deletes the template once no row refers to it.
--
-- Locks: ADD COLUMN (nullable, no default: a catalog change, no rewrite) takes ACCESS EXCLUSIVE on
-- notifier.notification_templates for an instant; host transactions creating notification rows
-- read that table, so `migrate`'s lock_timeout bounds how long they can queue behind it.
-- CREATE OR REPLACE FUNCTION takes no table lock.

alter table notifier.notification_templates add column removed_at timestamptz;

comment on column notifier.notification_templates.removed_at is
  'Set by `templates remove`: the template has no subscriptions any more and is hidden; purge '
  'deletes it once retention has removed every notification row that refers to it.';

-- The write trigger validated every UPDATE; removing a template must not fail because its
-- configuration no longer passes checks added after it was written.
create or replace function notifier.tg_notification_templates__validate() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  if tg_op = 'UPDATE' and new.removed_at is not null then
    return new;  -- a removal (or a write to a removed template) is not checked
  end if;
  perform notifier.validate_notification_template(
    new.notification_type, new.notification_configuration, new.messages);
  if tg_op = 'UPDATE' then
    new.modified_at := now();
  end if;
  return new;
end;
$$;

comment on function notifier.tg_notification_templates__validate() is
  'Rejects an invalid template when it is written, naming the offending key; stamps modified_at. '
  'Removals (removed_at set) are not checked.';
