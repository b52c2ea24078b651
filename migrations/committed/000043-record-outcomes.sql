--! Previous: sha1:51e5a0bf22af608bce3a5fad53700bbd316e6c90
--! Hash: sha1:4f8ddbc9bda63c6d8f63ef4ad7242b5ffa3cf305
--! Message: record outcomes

-- notifier.record_outcomes: every outcome of a batch of attempts in one statement (River's
-- JobSetStateIfRunningMany, pg-boss's failJobs), with the retry policy declared here once:
--
--   outcome     what the row becomes
--   ---------   -----------------------------------------------------------------------------
--   sent        successful; sent_at, the rendered message, recipients and targets recorded
--   error       a failure that may pass: pending again after the backoff — retry_delay seconds
--               doubled per attempt already made, ±20 % jitter, or the receiver's Retry-After
--               when longer (at most a day) — or failed once attempts reached max_attempts
--   permanent   failed now (bad template or configuration, a 4xx other than 408/425/429…)
--   released    the process stopped before the attempt ended (shutdown): pending and free at
--               once, the attempt uncounted, the targets it already reached kept so the next
--               process does not send to them again
--
-- Every failed attempt appends an entry to attempt_history (the last 10 are kept). An outcome is
-- recorded only while the row is pending and its lease_token is the one the caller's claim got:
-- an outcome of a stale process (its lease lapsed, another process claimed the row) changes
-- nothing. The answer lists the rows recorded and what they became; a row missing from it was
-- ignored, which the caller reports.
--
-- The arrays are parallel, one element per outcome (array parameters rather than a jsonb batch:
-- the rendered bodies are not JSON-encoded by the service and decoded again here; the two were
-- not measured against each other on their own, see docs/benchmarks.md). `delivered` holds each row's
-- targets reached as a jsonb array of strings (a text[][] cannot be ragged). NULL subject, body,
-- recipients or delivered keep the row's value.
--
-- Locks: none at migration time (creates a function).

create function notifier.record_outcomes(
  ids bigint[], tokens uuid[], outcomes text[], errors text[], http_statuses integer[],
  retry_after_seconds float8[], subjects text[], bodies text[], recipients text[],
  sent_counts integer[], delivered jsonb[], retry_delay float8, max_attempts integer)
returns table (id bigint, status text)
language sql
set search_path = pg_catalog, pg_temp
as $$
  update notifier.notifications n
     set status = case
                    when x.outcome = 'sent' then 'successful'
                    when x.outcome = 'permanent' or (x.outcome = 'error' and n.attempts >= record_outcomes.max_attempts) then 'failed'
                    else 'pending'
                  end,
         error = case x.outcome when 'sent' then null when 'released' then n.error else left(x.error, 2000) end,
         sent_at = case when x.outcome = 'sent' then now() else n.sent_at end,
         run_at = case
                    when x.outcome = 'error' and n.attempts < record_outcomes.max_attempts
                      then now() + make_interval(secs => least(86400, greatest(
                             coalesce(x.retry_after, 0),
                             record_outcomes.retry_delay * 2 ^ greatest(0, n.attempts - 1) * (0.8 + 0.4 * random()))))
                    else n.run_at
                  end,
         attempts = case when x.outcome = 'released' then greatest(0, n.attempts - 1) else n.attempts end,
         subject = coalesce(x.subject, n.subject),
         body = coalesce(x.body, n.body),
         recipients = coalesce(x.recipients, n.recipients),
         notifications_sent = coalesce(x.sent_count, n.notifications_sent),
         delivered_targets = coalesce(
           (select array_agg(target) from jsonb_array_elements_text(x.delivered) as target),
           case when x.delivered is null then n.delivered_targets else '{}' end),
         attempt_history = case
                             when x.outcome in ('error', 'permanent') then
                               (case when jsonb_array_length(n.attempt_history) >= 10
                                     then n.attempt_history - 0 else n.attempt_history end)
                               || jsonb_strip_nulls(jsonb_build_object(
                                    'attempt', n.attempts, 'at', now(), 'outcome', x.outcome,
                                    'http_status', x.http_status, 'error', left(x.error, 300),
                                    'sent', left(coalesce(x.subject, n.subject), 200),
                                    'targets', x.delivered))
                             else n.attempt_history
                           end,
         locked_by = null,
         locked_until = null,
         lease_token = null
    from unnest(record_outcomes.ids, record_outcomes.tokens, record_outcomes.outcomes,
                record_outcomes.errors, record_outcomes.http_statuses, record_outcomes.retry_after_seconds,
                record_outcomes.subjects, record_outcomes.bodies, record_outcomes.recipients,
                record_outcomes.sent_counts, record_outcomes.delivered)
           as x(id, token, outcome, error, http_status, retry_after, subject, body, recipients, sent_count, delivered)
   where n.id = x.id
     and n.lease_token = x.token
     and n.status = 'pending'
  returning n.id, n.status;
$$;

comment on function notifier.record_outcomes(bigint[], uuid[], text[], text[], integer[], float8[], text[], text[], text[], integer[], jsonb[], float8, integer) is
  'Records a batch of attempt outcomes (sent | error | permanent | released) fenced by lease_token, '
  'deciding retry-or-fail and the backoff; returns the rows recorded and their new status.';

revoke execute on function notifier.record_outcomes(bigint[], uuid[], text[], text[], integer[], float8[], text[], text[], text[], integer[], jsonb[], float8, integer) from public;
grant execute on function notifier.record_outcomes(bigint[], uuid[], text[], text[], integer[], float8[], text[], text[], text[], integer[], jsonb[], float8, integer)
  to ":NOTIFIER_SERVICE_ROLE";

-- Shutdown: gives back the rows `worker` still holds but never started (queued, or whose outcome
-- could not be recorded), uncounting the attempt their claim counted, so another process sends
-- them now instead of after the lease.
create function notifier.release_claims(worker text)
returns integer
language sql
set search_path = pg_catalog, pg_temp
as $$
  with released as (
    update notifier.notifications n
       set locked_by = null,
           locked_until = null,
           lease_token = null,
           attempts = greatest(0, n.attempts - 1)
     where n.locked_by = release_claims.worker
       and n.status = 'pending'
    returning 1
  )
  select count(*)::integer from released;
$$;

comment on function notifier.release_claims(text) is
  'Gives back every pending row worker holds, uncounting the attempt its claim counted.';

revoke execute on function notifier.release_claims(text) from public;
grant execute on function notifier.release_claims(text) to ":NOTIFIER_SERVICE_ROLE";
