--! Previous: sha1:146f704f911e04cc3662dec52e98cb36e7ce4d30
--! Hash: sha1:6259d341824d417975f7ec00d77b9722fc5d94c2
--! Message: the owner role runs the protocol core

-- The SECURITY DEFINER functions of the protocol core run as the NOLOGIN owner role of migration
-- 000013, never as whoever migrated or attached (often a superuser): each attachment's generated
-- trigger functions (handed over by attach itself, migration 000031), the grace sweep, the
-- health check of the attachments and the state lookup by job id. This migration hands over the
-- static ones and gives the role exactly what their statements use:
--   * notifier.decide() keeps the bookkeeping in notifier.job_conditions (read, insert, update);
--   * notifier.create_notifications() inserts notification rows (000013 granted those columns),
--     reading the database-wide settings;
--   * an AWX approval that timed out updates its pending decision row's job_snapshot;
--   * the state lookup counts a job's rows by status, and the health check and the sweep read
--     the registry of attachments.
-- Host tables are granted by attach (SELECT on what the generated SQL reads, UPDATE on the id
-- column only, which SELECT … FOR UPDATE needs to take a job row's lock) and revoked by detach.
-- EXECUTE on the core is for the owner role only; PUBLIC may execute none of the attach helpers.
--
-- Locks: GRANT, REVOKE and ALTER FUNCTION change catalog rows only (no lock on a host table;
-- brief locks on the notifier tables named), under `migrate`'s lock_timeout.

grant select, insert, update on notifier.job_conditions to ":NOTIFIER_OWNER_ROLE";
grant select on notifier.settings, notifier.attachment_registry to ":NOTIFIER_OWNER_ROLE";
grant select, update (job_snapshot) on notifier.notifications to ":NOTIFIER_OWNER_ROLE";

-- (and the pure helpers the decision, the generated SQL and the state view call; 000013 revoked
-- EXECUTE on the older ones from PUBLIC)
grant execute on function
    notifier.decide(text, bigint, text, text, boolean, boolean, boolean, boolean),
    notifier.create_notifications(bigint, text, bigint, bigint, text[], jsonb),
    notifier.wrapup_event_of(text)
  to ":NOTIFIER_OWNER_ROLE";

-- ALTER … OWNER by a non-superuser needs CREATE on the schema for the new owner (as in 000013).
grant create on schema notifier to ":NOTIFIER_OWNER_ROLE";
alter function notifier.expire_wrapups(interval, integer) owner to ":NOTIFIER_OWNER_ROLE";
alter function notifier.attachments() owner to ":NOTIFIER_OWNER_ROLE";
alter function notifier.job_state(bigint) owner to ":NOTIFIER_OWNER_ROLE";
revoke create on schema notifier from ":NOTIFIER_OWNER_ROLE";

revoke execute on function
    notifier.attach_error(text),
    notifier.attach_check_column(text, text, text, text),
    notifier.attach_check_expression(text, text, text, text, text),
    notifier.attach_lock_timeout(),
    notifier.attachment_ddl(notifier.attachment_registry),
    notifier.detachment_ddl(notifier.attachment_registry),
    notifier.tg_jobs__stamp_times(),
    notifier.attachments()
  from public;
