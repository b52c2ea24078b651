--! Previous: sha1:7f5b04e91a550599c345790aa0249fd0107c6194
--! Hash: sha1:63d46ddd956760fde72bfbf0924a869d3c9b08d0
--! Message: the protocol's small helpers in PL/pgSQL, parsed once per session

-- notifier.is_final_status, notifier.final_trigger_of and notifier.subscription_trigger_of run in
-- every notifying transition (from the generated trigger, notifier.decide and
-- notifier.create_notifications). As SQL functions with a pinned search_path they are never
-- inlined, and before PostgreSQL 18 a SQL function called from a trigger's PL/pgSQL is parsed,
-- analysed and planned again in every transaction: a profile of `running` -> `successful` on
-- notifier.jobs (one template) spent 22 % of the backend's time in fmgr_sql for these three.
-- A PL/pgSQL function keeps its compiled body for the session. Same names, arguments, results,
-- volatility and grants (CREATE OR REPLACE keeps the ACL).
--
-- notifier.tg_jobs__stamp_times no longer asks is_final_status: its triggers' WHEN passes only a
-- row that is running or final, so "not running" is final.
--
-- Locks: CREATE OR REPLACE FUNCTION changes catalog rows only (no table lock); a transaction
-- running one of these functions meanwhile keeps the version it started with.

create or replace function notifier.is_final_status(status text) returns boolean
language plpgsql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
begin
  return status in ('successful', 'failed', 'error', 'canceled');
end;
$$;

-- The final trigger of a status for a kind: success / error, or for an approval its decision
-- (approved = successful, denied or timed out = failed; canceled or error sends no decision).
create or replace function notifier.final_trigger_of(kind text, status text) returns text
language plpgsql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
begin
  return case
    when kind = 'workflow_approval' then case when status in ('successful', 'failed') then 'approval' end
    when status = 'successful' then 'success'
    when status in ('failed', 'error', 'canceled') then 'error'
  end;
end;
$$;

-- The subscription trigger whose templates a row of `trigger` goes to: approval jobs match only
-- subscriptions whose trigger is 'approval' (their started row and their decision row alike).
create or replace function notifier.subscription_trigger_of(kind text, trigger text) returns text
language plpgsql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
begin
  return case when kind = 'workflow_approval' then 'approval' else trigger end;
end;
$$;

-- started_at / finished_at: the product fills them in when the host left them NULL. The triggers'
-- WHEN passes only a running or a final row.
create or replace function notifier.tg_jobs__stamp_times() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  if new.status = 'running' then
    new.started_at := coalesce(new.started_at, now());
  else
    new.finished_at := coalesce(new.finished_at, now());
  end if;
  return new;
end;
$$;
