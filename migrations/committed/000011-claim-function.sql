--! Previous: sha1:48ac5086bc8adabb63e47b5a46aac8686a8dcc7d
--! Hash: sha1:b60b13ce6c72d446289c48cb5a566f64fe29ac8f
--! Message: claim function

-- The service's claim as a function, so its plan is cached per session instead of made anew on
-- every claim.
--
-- A delivery service claims after every send and on every wake-up; sent as a plain statement, the
-- claim was planned on each call, and planning cost several times its execution (about 0.4 ms
-- against 0.06 ms with nothing due, on the path from a NOTIFY to the send; docs/benchmarks.md).
-- PL/pgSQL keeps the statement's plan for the session.
--
-- Semantics are those of the statement it replaces (src/sql/claimDue.ts):
--   * up to `batch` due pending rows, oldest first (run_at, id), whose lease is free or lapsed;
--   * SKIP LOCKED: several services claim at once without waiting on each other;
--   * a final row is not claimed while the started row of the same (job, template) is pending,
--     so started is always attempted first (CONTRACT §5.6);
--   * the rows are leased to `worker` until now() + `lease`;
--   * the claim's transaction commits without waiting for its WAL flush (synchronous_commit off
--     for that transaction only): a lease needs no durability; after a crash the rows are simply
--     due again and sent again with the same Idempotency-Key, as for a killed process.
--
-- Runs with the caller's rights (the service role's SELECT and UPDATE on notifications, SELECT on
-- templates); executable by the service role only.

create function notifier.claim_due(worker text, batch integer, lease interval)
returns table (
  id bigint, job_id bigint, trigger text, attempts integer, job_snapshot jsonb,
  delivered_targets text[], subject text, body text, template_id bigint, template_name text,
  notification_type text, notification_configuration jsonb, messages jsonb)
language plpgsql
set search_path = pg_catalog
as $$
begin
  perform set_config('synchronous_commit', 'off', true);
  return query
    with due as (
      select n.id
        from notifier.notifications n
       where n.status = 'pending'
         and n.run_at <= now()
         and (n.locked_until is null or n.locked_until < now())
         and (n.trigger = 'started' or not exists (
               select 1
                 from notifier.notifications started
                where started.job_id = n.job_id
                  and started.notification_template_id = n.notification_template_id
                  and started.trigger = 'started'
                  and started.status = 'pending'))
       order by n.run_at, n.id
       limit batch
       for update of n skip locked
    )
    update notifier.notifications n
       set locked_by = worker,
           locked_until = now() + lease
      from due, notifier.notification_templates t
     where n.id = due.id
       and t.id = n.notification_template_id
    returning n.id, n.job_id, n.trigger, n.attempts, n.job_snapshot, n.delivered_targets,
              n.subject, n.body, t.id, t.name, t.notification_type,
              t.notification_configuration, t.messages;
end;
$$;

comment on function notifier.claim_due(text, integer, interval) is
  'Leases up to batch due pending rows to worker (SKIP LOCKED, started before final, oldest '
  'first) and returns them with their template; the delivery service''s claim.';

revoke execute on function notifier.claim_due(text, integer, interval) from public;
grant execute on function notifier.claim_due(text, integer, interval) to ":NOTIFIER_SERVICE_ROLE";
