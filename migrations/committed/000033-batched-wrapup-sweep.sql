--! Previous: sha1:37de892dd468eb1eff0f5562dd53a5165c196bca
--! Hash: sha1:146f704f911e04cc3662dec52e98cb36e7ce4d30
--! Message: lost-wrapup sweep in bounded SKIP LOCKED batches, grace from the database clock

-- Never give up (CONTRACT §5.4), for every attachment, without ever waiting:
--   * one call handles at most batch_size jobs (the service calls it again while batches come
--     back full, each call its own short transaction: no statement timeout, however long the
--     callback receiver was down);
--   * lock order host row → product row, as every writer: the host job rows are locked first
--     with FOR UPDATE SKIP LOCKED (a row a host writer holds is left for the next run), then
--     notifier.decide() locks the job_conditions row, which only a holder of the host row locks;
--   * the grace is measured from job_conditions.final_status_at, the database clock stamped at A
--     (not the host-written finished_at, nor a process clock), and it is one setting for the
--     database: notifier.settings.wrapup_grace (grace => NULL, the default, reads it).
-- Exactly once against a wrapup arriving at the same moment: decide() re-reads the bookkeeping
-- under the row lock and expires only a job still waiting.
--
-- Locks: creates a function only.

create function notifier.expire_wrapups(grace interval default null, batch_size integer default 1000)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  effective constant interval := coalesce(grace, (select s.wrapup_grace from notifier.settings s));
  a notifier.attachment_registry;
  ids bigint[];
  r record;
  d record;
  expired integer := 0;
begin
  for a in select * from notifier.attachment_registry order by name loop
    exit when expired >= batch_size;
    select array_agg(c.job_id) into ids
      from (select c.job_id
              from notifier.job_conditions c
             where c.attachment = a.name
               and c.final_condition_at is null and c.wrapup_required
               and c.wrapup_processed_at is null and c.wrapup_expired_at is null
               and c.final_status_at <= clock_timestamp() - effective
             order by c.final_status_at
             limit batch_size - expired) c;
    continue when ids is null;
    for r in execute format(
        'select notifier.%I(j) as f, notifier.%I(j) as s from %I.%I j where j.%I = any ($1) for update of j skip locked',
        a.stem || '__facts', a.stem || '__snapshot', a.table_schema, a.table_name, a.id_column)
      using ids
    loop
      select * into d
        from notifier.decide(a.name, (r.f).id, (r.f).kind, (r.f).status, false, (r.f).dispatched,
                             (r.f).wrapup_arrived, expire => true);
      if d.expired then
        expired := expired + 1;
      end if;
      if cardinality(d.fire) > 0 then
        perform notifier.create_notifications((r.f).id, (r.f).kind, (r.f).job_template_id, (r.f).organization_id,
                                              d.fire, r.s || jsonb_build_object('wrapup_expired_at', d.wrapup_expired_at));
      end if;
    end loop;
  end loop;
  return expired;
end;
$$;

comment on function notifier.expire_wrapups(interval, integer) is
  'Fires the final notifications of at most batch_size jobs whose wrapup has not come within the '
  'grace (default notifier.settings.wrapup_grace) since A; never waits (SKIP LOCKED). Returns how '
  'many jobs it expired; call again while it returns batch_size.';

revoke execute on function notifier.expire_wrapups(interval, integer) from public;
grant execute on function notifier.expire_wrapups(interval, integer) to ":NOTIFIER_SERVICE_ROLE";
