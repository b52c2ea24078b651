--! Previous: sha1:c2d594382e1a84f96ddd5ebb8a7fbb538c06a3cd
--! Hash: sha1:e61b1a31c3e0cd812f99a5ae6f8e4fb92b88d5fd
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
