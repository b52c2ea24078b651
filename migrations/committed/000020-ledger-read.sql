--! Previous: sha1:08a7ffafed4cffb9cac26e60f0f2cdf6f208e67f
--! Hash: sha1:27b540d471ad575b477488bc1afe26336acaaafb
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
