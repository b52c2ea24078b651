--! Previous: sha1:ab1dd50f6e2a84a841e777e49816790dc0a51811
--! Hash: sha1:724c4455ed692467b1284740bab6ea6465168c65
--! Message: host names per bucket from the wrapup's playbook_on_stats, for messages

-- Messages can name the failed and unreachable hosts (AWX #12524, #6418, #13232): saving a
-- job's playbook_on_stats wrapup now records, beside host_status_counts and in the same UPDATE,
-- the host names of each bucket in notifier.jobs.host_names, which the notification snapshot
-- (notifier.job_snapshot: every column) carries to the renderer as job.hosts.<bucket>.
-- host_status_counts is computed exactly as before; the UPDATE's condition is unchanged.
--
-- Locks: ALTER TABLE notifier.jobs ADD COLUMN (nullable, no default: a catalog change, no
-- rewrite) takes ACCESS EXCLUSIVE on notifier.jobs for an instant, behind lock_timeout so it
-- never queues in front of the host's writes; the GRANT takes the same briefly.
-- CREATE OR REPLACE FUNCTION takes no table lock.

set local lock_timeout = '5s';

alter table notifier.jobs add column host_names jsonb;

comment on column notifier.jobs.host_names is
  'Host names per bucket (skipped, ok, changed, failures, dark) of the wrapup''s playbook_on_stats, '
  'each host in the bucket host_status_counts counts it in, sorted, at most 100 per bucket (the '
  'count says how many there are). NULL until then, and for wrapups without stats (EOF).';

-- The host may write the names itself when it sets host_status_counts directly.
grant insert (host_names), update (host_names) on notifier.jobs to ":NOTIFIER_HOST_ROLE";

-- Host counts and host names per bucket from a playbook_on_stats event_data, in one pass over its
-- hosts (the wrapup UPDATE runs in the callback receiver's transaction: one pass, not two).
-- Each host is assigned the last of skipped, ok, changed, failures, dark that names it (as
-- notifier.host_status_counts_from_stats does, which gives the same counts); names are sorted,
-- at most `per_bucket` per bucket. Buckets with no host are left out of both; {} when no host.
create function notifier.host_buckets_from_stats(event_data jsonb, per_bucket integer default 100,
                                                 out counts jsonb, out names jsonb)
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
  with buckets (bucket, precedence) as (
    values ('skipped', 1), ('ok', 2), ('changed', 3), ('failures', 4), ('dark', 5)
  ),
  named (host, bucket, precedence) as (
    select host, b.bucket, b.precedence
    from buckets b
    cross join lateral (
      select jsonb_object_keys(event_data -> b.bucket) as host
      where jsonb_typeof(event_data -> b.bucket) = 'object'
      union all
      select jsonb_array_elements_text(event_data -> b.bucket)
      where jsonb_typeof(event_data -> b.bucket) = 'array'
    ) hosts
  ),
  last_bucket as (
    select distinct on (host) host, bucket from named order by host, precedence desc
  ),
  per_bucket as (
    select bucket,
           count(*) as hosts,
           (array_agg(host order by host collate "C"))[1:per_bucket] as first_names
      from last_bucket group by bucket
  )
  select coalesce(jsonb_object_agg(bucket, hosts), '{}'::jsonb),
         coalesce(jsonb_object_agg(bucket, to_jsonb(first_names)), '{}'::jsonb)
    from per_bucket
$$;

comment on function notifier.host_buckets_from_stats(jsonb, integer) is
  'Host counts (as host_status_counts_from_stats) and host names (sorted, at most per_bucket '
  'each) per bucket of a playbook_on_stats event_data, in one pass.';

create or replace function notifier.tg_job_events__apply_wrapup() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  counts jsonb := '{}'::jsonb;
  names jsonb;
begin
  if new.event <> 'EOF' then
    select b.counts, b.names into counts, names from notifier.host_buckets_from_stats(new.event_data) b;
  end if;
  -- Only the job's own wrapup event counts (an EOF saved for a playbook job is not its wrapup).
  -- The UPDATE takes the job's row lock: if the status writer holds it, this waits, then sees
  -- the status writer's committed row; the decision triggers on notifier.jobs take it from there
  -- (the snapshot they take has the names, set in this same UPDATE).
  update notifier.jobs j
     set host_status_counts = counts,
         host_names = names
   where j.id = new.job_id
     and notifier.wrapup_event_of(j.kind) = new.event
     and j.host_status_counts is distinct from counts;
  return null;
end;
$$;

comment on function notifier.tg_job_events__apply_wrapup() is
  'Condition B: saving a job''s wrapup event sets its host_status_counts (and, from '
  'playbook_on_stats, its host_names) in the same transaction.';
