--! Previous: sha1:2838a7cd14be36b94e940469f9e27e794f764640
--! Hash: sha1:cd65d2f8227466d29cbdc133b01d2500fbdf08a3
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
