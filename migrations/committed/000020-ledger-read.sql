--! Previous: sha1:31e09f5b005a55422d2f36c331eb271045882a34
--! Hash: sha1:e083418cd84a995795226ecad7c3070755cac609
--! Message: ledger read

-- `pg-job-notifier migrate` with nothing to do only reads graphile-migrate's ledger (our rows of
-- graphile_migrate.migrations, compared with the committed files) and changes nothing, so a
-- deployment that runs it with the service's DATABASE_URL before every start needs no DDL right:
-- the service role may read the ledger. Changes to the schema still need an owner's URL
-- (NOTIFIER_MIGRATE_DATABASE_URL).
--
-- Locks: GRANT takes no lock on graphile_migrate.migrations that any other session waits for
-- (it updates the table's catalog row only).

grant usage on schema graphile_migrate to ":NOTIFIER_SERVICE_ROLE";
grant select on graphile_migrate.migrations to ":NOTIFIER_SERVICE_ROLE";
