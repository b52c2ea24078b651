--! Previous: sha1:2838a7cd14be36b94e940469f9e27e794f764640
--! Hash: sha1:cb1ea914766cffd44d70d06eb52fbcd770717b41
--! Message: template timeout bound

-- A template's `timeout` is at most 2147483 seconds (about 24.8 days).
--
-- The delivery service arms a timer of `timeout` seconds for each attempt, and a Node.js timer
-- holds at most 2^31 - 1 ms: a longer one fires after 1 ms, so every attempt would time out at
-- once. 000002's validation only asks for a positive number; this trigger adds the bound, with
-- the same kind of error (22023, naming the key). The TypeScript schema checks the same number
-- (MAX_DURATION_SECONDS in src/config.ts, used by src/types/configuration.ts).
--
-- Locks: CREATE TRIGGER takes SHARE ROW EXCLUSIVE on notifier.notification_templates (written by
-- operators only, never by the host or the service) for the rest of the migration's
-- transaction, waiting at most lock_timeout for it.

set local lock_timeout = '5s';

create function notifier.max_timeout_seconds() returns numeric
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$ select 2147483::pg_catalog.numeric $$;

comment on function notifier.max_timeout_seconds() is
  'The largest template timeout, in seconds: floor((2^31 - 1) / 1000), the longest a Node.js timer '
  'holds. src/config.ts MAX_DURATION_SECONDS is the same number.';

create function notifier.tg_notification_templates__bound_timeout() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
  -- _100_validate has made sure a timeout present is a positive number.
  if (new.notification_configuration ->> 'timeout')::pg_catalog.numeric > notifier.max_timeout_seconds() then
    raise exception 'notification_configuration.timeout: must be at most % seconds (about 24.8 days)',
      notifier.max_timeout_seconds()
      using errcode = 'invalid_parameter_value';
  end if;
  return new;
end;
$$;

comment on function notifier.tg_notification_templates__bound_timeout() is
  'Rejects a template timeout longer than notifier.max_timeout_seconds().';

create trigger _110_bound_timeout
  before insert or update on notifier.notification_templates
  for each row
  when (pg_catalog.jsonb_typeof(new.notification_configuration -> 'timeout') = 'number')
  execute function notifier.tg_notification_templates__bound_timeout();

-- The trigger runs with the writer's rights; whoever writes templates calls the bound.
revoke execute on function notifier.tg_notification_templates__bound_timeout() from public;
