--! Previous: sha1:40265884268e02b25b446d0e3c9fc3333f74b768
--! Hash: sha1:c2d594382e1a84f96ddd5ebb8a7fbb538c06a3cd
--! Message: readonly masked templates

-- The read-only role (DBAs, dashboards) reads no secret.
--
-- 000008 granted it SELECT on every table, so it read every template's passwords and tokens in
-- notifier.notification_templates.notification_configuration. Now it may read every column of
-- that table but notification_configuration, and reads the configuration through
-- notifier.notification_templates_masked instead, where each value of a key that
-- notifier.notification_type_keys does not declare non-secret is replaced by '********' (the
-- CLI's mask, src/types/index.ts MASK). The flags are read from notifier.notification_type_keys at
-- query time, so regenerating those rows changes the mask with no new migration; a key the table
-- does not know is masked, and so is every value nested in an object-valued key (webhook
-- `headers`: an Authorization header is a secret the flags cannot name). Empty and null values
-- stay as they are, as in the CLI.
--
-- The view is a security barrier, so no function of the reader's can see a row before the mask.
-- The reader's pg_stats shows no statistics of a column it may not select.
--
-- Locks: REVOKE/GRANT change catalog rows only; CREATE VIEW takes ACCESS SHARE on
-- notifier.notification_templates and notifier.notification_type_keys (conflicts only with
-- ACCESS EXCLUSIVE), waiting at most lock_timeout for it.

-- `migrate` sets lock_timeout for the session (NOTIFIER_LOCK_TIMEOUT); run by hand without one,
-- this transaction still waits at most 5 s for a lock.
select pg_catalog.set_config('lock_timeout', '5s', true) where pg_catalog.current_setting('lock_timeout') in ('0', '0ms');

revoke select on notifier.notification_templates from ":NOTIFIER_READONLY_ROLE";
grant select (id, name, notification_type, messages, created_at, modified_at)
  on notifier.notification_templates to ":NOTIFIER_READONLY_ROLE";

create view notifier.notification_templates_masked with (security_barrier) as
select t.id,
       t.name,
       t.notification_type,
       (select coalesce(pg_catalog.jsonb_object_agg(c.key,
                 case
                   when c.value in ('null'::pg_catalog.jsonb, '""'::pg_catalog.jsonb) then c.value
                   when k.secret is distinct from false then pg_catalog.to_jsonb('********'::pg_catalog.text)
                   when pg_catalog.jsonb_typeof(c.value) = 'object' then
                     (select coalesce(pg_catalog.jsonb_object_agg(nested.key,
                               case when nested.value in ('null'::pg_catalog.jsonb, '""'::pg_catalog.jsonb) then nested.value
                                    else pg_catalog.to_jsonb('********'::pg_catalog.text) end), '{}'::pg_catalog.jsonb)
                        from pg_catalog.jsonb_each(c.value) nested)
                   else c.value
                 end), '{}'::pg_catalog.jsonb)
          from pg_catalog.jsonb_each(t.notification_configuration) c
          left join notifier.notification_type_keys k
                 on k.notification_type = t.notification_type and k.key = c.key) as notification_configuration,
       t.messages,
       t.created_at,
       t.modified_at
  from notifier.notification_templates t;

comment on view notifier.notification_templates_masked is
  'The templates with every secret configuration value (per notifier.notification_type_keys.secret, '
  'and every value nested in an object) shown as ********: what the read-only role reads.';

grant select on notifier.notification_templates_masked to ":NOTIFIER_READONLY_ROLE";
