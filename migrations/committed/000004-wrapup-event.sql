--! Previous: sha1:a5a1575d061190b363395c3c5e7f8a4023b7de3c
--! Hash: sha1:3f5f9b1b8d84a4877e4513d65ced087b4c9af270
--! Message: wrapup event

-- Condition B: "the wrapup event has been processed".
--
-- The callback receiver saves events in bulk; only the kind's wrapup event matters
-- (playbook_on_stats for job, project_update and ad_hoc_command; EOF for inventory_update and
-- system_job; none for workflow_job). Saving it sets the job's host_status_counts in the same
-- transaction, through an ordinary UPDATE of the job row, so it takes the same row lock as the
-- status writer and the decision triggers on notifier.jobs see both writers in order.

-- Counts hosts per status from a playbook_on_stats event_data, as AWX does: each host is
-- assigned the last of skipped, ok, changed, failures, dark (in that order) that names it, then
-- hosts are counted per bucket. Buckets with no host are left out; {} when no host at all.
-- A bucket is AWX's {"host": n} object; a plain list of host names is accepted too.
create function notifier.host_status_counts_from_stats(event_data jsonb) returns jsonb
language sql immutable parallel safe
set search_path = pg_catalog
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
  )
  select coalesce(jsonb_object_agg(bucket, hosts), '{}'::jsonb)
  from (select bucket, count(*) as hosts from last_bucket group by bucket) per_bucket
$$;

-- The wrapup event of each kind of job (NULL: the kind has none).
create function notifier.wrapup_event_of(kind text) returns text
language sql immutable parallel safe
set search_path = pg_catalog
as $$
  select case kind
    when 'job' then 'playbook_on_stats'
    when 'project_update' then 'playbook_on_stats'
    when 'ad_hoc_command' then 'playbook_on_stats'
    when 'inventory_update' then 'EOF'
    when 'system_job' then 'EOF'
  end
$$;

create function notifier.tg_job_events__apply_wrapup() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
declare
  counts jsonb := case when new.event = 'EOF' then '{}'::jsonb
                       else notifier.host_status_counts_from_stats(new.event_data) end;
begin
  -- Only the job's own wrapup event counts (an EOF saved for a playbook job is not its wrapup).
  -- The UPDATE takes the job's row lock: if the status writer holds it, this waits, then sees
  -- the status writer's committed row; the decision triggers on notifier.jobs take it from there.
  update notifier.jobs j
     set host_status_counts = counts
   where j.id = new.job_id
     and notifier.wrapup_event_of(j.kind) = new.event
     and j.host_status_counts is distinct from counts;
  return null;
end;
$$;

comment on function notifier.tg_job_events__apply_wrapup() is
  'Condition B: saving a job''s wrapup event sets its host_status_counts in the same transaction.';

-- The WHEN clause keeps bulk inserts of ordinary events free of any trigger call.
create trigger _100_apply_wrapup
  after insert on notifier.job_events
  for each row
  when (new.event in ('playbook_on_stats', 'EOF'))
  execute function notifier.tg_job_events__apply_wrapup();
