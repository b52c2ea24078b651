--! Previous: sha1:2a8589ec8aa3dc7d8ef0bc06859bf1517e4315e4
--! Hash: sha1:e19ae37ee5eef8dde04e480aa5a8908467104288
--! Message: roles

-- Least privilege: three group roles and their grants.
--
--   :NOTIFIER_HOST_ROLE      the host system (job runner, callback receiver): inserts and updates
--                            its own columns of notifier.jobs, inserts notifier.job_events.
--   :NOTIFIER_SERVICE_ROLE   the delivery service (`pg-job-notifier listen`): claims, updates and
--                            reads notifications, reads templates, subscriptions and jobs, runs the
--                            wrapup grace (notifier.expire_wrapups), LISTENs on channel notifier.
--   :NOTIFIER_READONLY_ROLE  DBAs and dashboards: reads every table and the state view, nothing else.
--
-- The names are graphile-migrate placeholders (.gmrc); `pg-job-notifier migrate` defaults them to
-- notifier_host, notifier_service and notifier_readonly, and the environment variables of the same
-- names (NOTIFIER_HOST_ROLE, …) override them. Each role is created, NOLOGIN, only when it does not
-- exist yet (roles belong to the whole cluster, so several databases share them); grant them to
-- your login roles:   grant notifier_service to notifier_app;
--
-- The host's writes fire the triggers that create notification rows. Rather than letting the host
-- write notifier.notifications itself, the trigger function that fans out those rows runs as the
-- owner of the schema (SECURITY DEFINER). A trigger function cannot be called except by its
-- trigger, so this widens nothing. The same holds for the grace sweep the service runs.

do $$
declare
  wanted text;
begin
  foreach wanted in array array[':NOTIFIER_HOST_ROLE', ':NOTIFIER_SERVICE_ROLE', ':NOTIFIER_READONLY_ROLE'] loop
    continue when exists (select 1 from pg_catalog.pg_roles where rolname = wanted);
    begin
      execute format('create role %I nologin', wanted);
    exception
      -- Another database of the cluster created it at the same moment.
      when duplicate_object or unique_violation then null;
      when insufficient_privilege then
        raise exception 'role "%" does not exist and % may not create it', wanted, current_user
          using hint = 'create it (NOLOGIN) as a role administrator, or set the placeholder to an existing role';
    end;
  end loop;
end
$$;

-- Functions are executable by PUBLIC by default. The ones that change data are not for everyone.
revoke execute on function notifier.create_notifications(notifier.jobs, text) from public;
revoke execute on function notifier.expire_wrapups(interval) from public;

alter function notifier.tg_jobs__create_notifications() security definer;
alter function notifier.expire_wrapups(interval) security definer;

grant usage on schema notifier
  to ":NOTIFIER_HOST_ROLE", ":NOTIFIER_SERVICE_ROLE", ":NOTIFIER_READONLY_ROLE";

-- Host: only the columns the host owns. The protocol's bookkeeping columns (wrapup_processed_at,
-- wrapup_required, wrapup_expired_at, started_condition_at, final_condition_at, final_trigger) are
-- left out, so writing them is a permission error instead of being silently overruled.
grant select on notifier.jobs, notifier.job_events to ":NOTIFIER_HOST_ROLE";
grant insert (id, kind, name, job_template_id, organization_id, status, wrapup_dispatched,
              host_status_counts, extra, created_at, started_at, finished_at),
      update (kind, name, job_template_id, organization_id, status, wrapup_dispatched,
              host_status_counts, extra, started_at, finished_at)
  on notifier.jobs to ":NOTIFIER_HOST_ROLE";
grant insert on notifier.job_events to ":NOTIFIER_HOST_ROLE";

-- Service: claims (SELECT … FOR UPDATE SKIP LOCKED, UPDATE of the lease) and records outcomes on
-- notifications; reads what it needs to render and send; never writes jobs or templates.
grant select, update on notifier.notifications to ":NOTIFIER_SERVICE_ROLE";
grant select on notifier.notification_templates, notifier.notification_type_keys,
                notifier.subscriptions, notifier.jobs, notifier.job_notification_state
  to ":NOTIFIER_SERVICE_ROLE";
grant execute on function notifier.expire_wrapups(interval) to ":NOTIFIER_SERVICE_ROLE";

-- Read-only: everything in the schema, including the tables of later migrations run by the same
-- owner (default privileges).
grant select on all tables in schema notifier to ":NOTIFIER_READONLY_ROLE";
alter default privileges in schema notifier grant select on tables to ":NOTIFIER_READONLY_ROLE";
