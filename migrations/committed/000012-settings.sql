--! Previous: sha1:b60b13ce6c72d446289c48cb5a566f64fe29ac8f
--! Hash: sha1:171b180b3eb510be129134ed6d78784453cace48
--! Message: settings

-- Settings that must be the same for every process working on this database live here, once,
-- instead of in each process's environment (two services with different graces would disagree
-- about when a job's wrapup is lost). One row; later migrations add one column per setting, each
-- with its default and its own CHECK, and say which commands write it.
--
-- Locks: creates a new table only; takes no lock on any existing table.

create table notifier.settings (
  singleton boolean primary key default true check (singleton)
);

comment on table notifier.settings is
  'pg-job-notifier: the database-wide settings (one row). Each column is one setting.';

insert into notifier.settings default values;

grant select on notifier.settings to ":NOTIFIER_SERVICE_ROLE", ":NOTIFIER_READONLY_ROLE";
