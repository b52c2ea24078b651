--! Previous: sha1:2666da29e79f56ceaab6768a1f082f060908961c
--! Hash: sha1:51e5a0bf22af608bce3a5fad53700bbd316e6c90
--! Message: claim counts the attempt

-- notifier.claim_due, replaced: the claim counts the attempt and hands out a lease token.
--
-- Before, attempts were counted only when an outcome was written, so a row whose send killed its
-- process (or hung past its lease) every time was claimed again forever and never failed: a
-- poison row. Now (as graphile-worker, pg-boss and River do) every claim counts one attempt; a
-- due row whose attempts already reached max_attempts had its last attempt claimed and never
-- reported (the process died or hung past its lease), and ends `failed` here instead of being
-- claimed again (CONTRACT §5.9). A shutdown that gives rows back uncounts their attempt
-- (notifier.record_outcomes, outcome `released`).
--
-- Also:
--   * a fresh lease_token per claim (migration 40): outcomes and extensions are fenced by it;
--   * skip_ids: rows the caller still holds in memory (being sent or recorded) are never claimed
--     again by that same process, even when their lease lapsed while its database link was down;
--   * skip_templates: templates the caller does not take more rows of right now (at their share of
--     its concurrency, or their receiver's circuit breaker open), so a dead receiver's backlog does
--     not fill the caller's queue (CONTRACT §5.9, bounded);
--   * max_age: a due row created (or retried by an operator) longer ago than this ends `failed`
--     with "expired" instead of paging someone a day late (NULL: no limit);
--   * notifier.settings.delivery_paused (migration 41): true, nothing is claimed.
--
-- Unchanged: oldest due first, SKIP LOCKED, started before final (CONTRACT §5.6), the claim's
-- transaction commits without waiting for its WAL flush, and the plan is kept per session.
--
-- Locks: none on tables at migration time (replaces a function). The old three-argument
-- function is dropped; the service of this release calls the new one only.

drop function notifier.claim_due(text, integer, interval);

create function notifier.claim_due(
  worker text, batch integer, lease interval, max_attempts integer, max_age interval,
  skip_ids bigint[], skip_templates bigint[])
returns table (
  id bigint, lease_token uuid, job_id bigint, trigger text, attempts integer, job_snapshot jsonb,
  delivered_targets text[], subject text, body text, template_id bigint, template_name text,
  notification_type text, notification_configuration jsonb, messages jsonb)
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  perform pg_catalog.set_config('synchronous_commit', 'off', true);
  if (select s.delivery_paused from notifier.settings s) then
    return;
  end if;
  return query
    with due as (
      select n.id,
             n.attempts >= max_attempts as exhausted,
             coalesce(greatest(n.created_at, n.retried_at) < now() - max_age, false) as expired
        from notifier.notifications n
       where n.status = 'pending'
         and n.run_at <= now()
         and (n.locked_until is null or n.locked_until < now())
         and n.id <> all (coalesce(skip_ids, '{}'))
         and n.notification_template_id <> all (coalesce(skip_templates, '{}'))
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
    ),
    given_up as (
      update notifier.notifications n
         set status = 'failed',
             error = case when due.expired
                          then pg_catalog.format('expired: still pending %s after it was %s (NOTIFIER_MAX_AGE %s)',
                                                 pg_catalog.date_trunc('second', now() - greatest(n.created_at, n.retried_at)),
                                                 case when n.retried_at is null then 'created' else 'retried' end, max_age)
                          else pg_catalog.format('attempt %s of %s never reported an outcome: its process died or hung past its lease',
                                                 n.attempts, max_attempts)
                     end,
             attempt_history = (case when pg_catalog.jsonb_array_length(n.attempt_history) >= 10
                                     then n.attempt_history - 0
                                     else n.attempt_history end)
                               || pg_catalog.jsonb_build_object(
                                 'attempt', n.attempts, 'at', now(),
                                 'outcome', case when due.expired then 'expired' else 'lost' end),
             locked_by = null,
             locked_until = null,
             lease_token = null
        from due
       where n.id = due.id
         and (due.exhausted or due.expired)
    )
    update notifier.notifications n
       set locked_by = worker,
           locked_until = now() + lease,
           lease_token = pg_catalog.gen_random_uuid(),
           attempts = n.attempts + 1
      from due, notifier.notification_templates t
     where n.id = due.id
       and not due.exhausted
       and not due.expired
       and t.id = n.notification_template_id
    returning n.id, n.lease_token, n.job_id, n.trigger, n.attempts, n.job_snapshot, n.delivered_targets,
              n.subject, n.body, t.id, t.name, t.notification_type,
              t.notification_configuration, t.messages;
end;
$$;

comment on function notifier.claim_due(text, integer, interval, integer, interval, bigint[], bigint[]) is
  'Leases up to batch due pending rows to worker with a fresh lease_token, counting one attempt each '
  '(SKIP LOCKED, started before final, oldest first, skipping skip_ids and skip_templates); fails rows '
  'whose attempts are spent (last attempt never reported) or older than max_age; claims nothing while '
  'notifier.settings.delivery_paused. The delivery service''s claim.';

revoke execute on function notifier.claim_due(text, integer, interval, integer, interval, bigint[], bigint[]) from public;
grant execute on function notifier.claim_due(text, integer, interval, integer, interval, bigint[], bigint[])
  to ":NOTIFIER_SERVICE_ROLE";

-- Lease extension, fenced: pushes back the lease of the rows whose token is still the caller's and
-- returns their ids; a row missing from the answer is no longer the caller's (its lease lapsed and
-- another process claimed it, or it was finished): the caller aborts its send.
create function notifier.extend_leases(ids bigint[], tokens uuid[], lease interval)
returns setof bigint
language sql
set search_path = pg_catalog, pg_temp
as $$
  update notifier.notifications n
     set locked_until = now() + lease
    from unnest(ids, tokens) as held(id, token)
   where n.id = held.id
     and n.lease_token = held.token
     and n.status = 'pending'
  returning n.id;
$$;

comment on function notifier.extend_leases(bigint[], uuid[], interval) is
  'Extends the leases of the rows still held under the given tokens; returns their ids.';

revoke execute on function notifier.extend_leases(bigint[], uuid[], interval) from public;
grant execute on function notifier.extend_leases(bigint[], uuid[], interval) to ":NOTIFIER_SERVICE_ROLE";
