--! Previous: sha1:4f8ddbc9bda63c6d8f63ef4ad7242b5ffa3cf305
--! Hash: sha1:9aab47f9a8c330d928bbd720dc79b51e6451c942
--! Message: template validation rules: bounds, scalar header values, non-empty list items, approval and canceled messages

-- Templates are checked when they are written against notifier.notification_type_keys, whose
-- rows are generated from each type's one declaration in the service (src/types/*.ts, see
-- scripts/generate-type-keys.ts). This migration makes SQL's rules the service's, where they
-- disagreed:
--   * bounds: integer keys have an inclusive [minimum, maximum] (irc and email `port` 1–65535;
--     others ±(2^53−1), what the service's numbers hold exactly), number keys a maximum (a
--     `timeout` no timer can hold is rejected); a whole number written as 6697.0 is an integer;
--   * an `object` key (webhook `headers`) holds string, number or boolean values only, since a
--     nested object cannot be sent as a header value;
--   * a `list` holds non-empty strings only (`[""]` names no channel, number or recipient);
-- and it adds the messages the service renders: `canceled` (overrides `error` for canceled
-- jobs) and `workflow_approval.{running, approved, denied, timed_out}` (AWX's shape).
-- The key rows themselves are replaced by the next migration.
--
-- Templates already stored are not re-checked; one that breaks a new rule fails its next
-- write, naming the key, as before.
--
-- Locks: ALTER TABLE … ADD COLUMN (nullable, no default) takes ACCESS EXCLUSIVE on
-- notifier.notification_type_keys for an instant (a catalog change; the table is small and read
-- only when a template is written). CREATE OR REPLACE FUNCTION takes no table lock.

alter table notifier.notification_type_keys
  add column minimum numeric,
  add column maximum numeric,
  add column default_value jsonb;

comment on column notifier.notification_type_keys.minimum is
  'integer keys: the smallest value allowed (inclusive).';
comment on column notifier.notification_type_keys.maximum is
  'integer and number keys: the largest value allowed (inclusive).';
comment on column notifier.notification_type_keys.default_value is
  'What the service uses when the key is absent (documentation: the service applies it).';

-- Raises one clear error (SQLSTATE 22023) naming the first offending key of a configuration.
create function notifier.validate_notification_configuration(notification_type text, configuration jsonb)
returns void
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
  spec record;
  supplied text;
  value jsonb;
  well_typed boolean;
begin
  if not exists (select 1 from notifier.notification_type_keys k where k.notification_type = $1) then
    raise exception 'notification_type: unknown type "%"', coalesce($1, 'NULL')
      using errcode = 'invalid_parameter_value',
            hint = 'one of: ' || (select string_agg(distinct k.notification_type, ', ' order by k.notification_type) from notifier.notification_type_keys k);
  end if;
  if configuration is null or jsonb_typeof(configuration) <> 'object' then
    raise exception 'notification_configuration: must be a JSON object' using errcode = 'invalid_parameter_value';
  end if;

  -- A key the type does not know is most likely a typo of one it does.
  for supplied in select jsonb_object_keys(configuration) loop
    if not exists (select 1 from notifier.notification_type_keys k
                   where k.notification_type = $1 and k.key = supplied) then
      raise exception 'notification_configuration.%: unknown key for type %', supplied, $1
        using errcode = 'invalid_parameter_value';
    end if;
  end loop;

  for spec in select * from notifier.notification_type_keys k where k.notification_type = $1 order by k.key loop
    value := configuration -> spec.key;
    if value is null or jsonb_typeof(value) = 'null' then
      if spec.required then
        raise exception 'notification_configuration.%: required for type %', spec.key, $1
          using errcode = 'invalid_parameter_value';
      end if;
      continue;
    end if;
    -- (assigned first: PL/pgSQL would end an IF condition at the CASE's first THEN)
    well_typed := case spec.value_type
      when 'string'  then jsonb_typeof(value) = 'string'
      when 'integer' then case when jsonb_typeof(value) = 'number'
                               then value::numeric = trunc(value::numeric) else false end
      when 'number'  then case when jsonb_typeof(value) = 'number' then value::numeric > 0 else false end
      when 'boolean' then jsonb_typeof(value) = 'boolean'
      when 'object'  then jsonb_typeof(value) = 'object'
                          and not jsonb_path_exists(value, 'strict $.* ? (@.type() != "string" && @.type() != "number" && @.type() != "boolean")')
      when 'list'    then jsonb_typeof(value) = 'array'
                          and not jsonb_path_exists(value, 'strict $[*] ? (@.type() != "string" || @ == "")')
    end;
    if not well_typed then
      raise exception 'notification_configuration.%: must be %', spec.key,
        case spec.value_type
          when 'list' then 'a list of non-empty strings'
          when 'integer' then 'an integer'
          when 'number' then 'a positive number'
          when 'object' then 'a JSON object of strings, numbers or booleans'
          else 'a ' || spec.value_type
        end
        using errcode = 'invalid_parameter_value';
    end if;
    if spec.value_type in ('integer', 'number')
       and (value::numeric < spec.minimum or value::numeric > spec.maximum) then
      raise exception 'notification_configuration.%: must be %', spec.key,
        case when spec.minimum is null then 'at most ' || spec.maximum
             else 'between ' || spec.minimum || ' and ' || spec.maximum end
        using errcode = 'invalid_parameter_value';
    end if;
    if spec.required and value in ('""'::jsonb, '[]'::jsonb) then
      raise exception 'notification_configuration.%: must not be empty', spec.key
        using errcode = 'invalid_parameter_value';
    end if;
    if spec.allowed_values is not null and not (value #>> '{}') = any (spec.allowed_values) then
      raise exception 'notification_configuration.%: must be one of %', spec.key,
        array_to_string(spec.allowed_values, ', ')
        using errcode = 'invalid_parameter_value';
    end if;
  end loop;
end;
$$;

comment on function notifier.validate_notification_configuration(text, jsonb) is
  'Raises SQLSTATE 22023 naming the first key of a configuration that breaks its type''s rules '
  '(notifier.notification_type_keys).';

-- One message: {"message": "...", "body": "..."}, each part a string or null. `path` is its key
-- path for the error (e.g. messages.workflow_approval.denied).
create function notifier.validate_notification_message(path text, message jsonb) returns void
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  part text;
begin
  if jsonb_typeof(message) = 'null' then
    return;
  end if;
  if jsonb_typeof(message) <> 'object' then
    raise exception '%: must be an object with "message" and/or "body"', path
      using errcode = 'invalid_parameter_value';
  end if;
  for part in select jsonb_object_keys(message) loop
    if part not in ('message', 'body') then
      raise exception '%.%: unknown key (expected message or body)', path, part
        using errcode = 'invalid_parameter_value';
    end if;
    if jsonb_typeof(message -> part) not in ('string', 'null') then
      raise exception '%.%: must be a string', path, part
        using errcode = 'invalid_parameter_value';
    end if;
  end loop;
end;
$$;

-- A template's custom messages, AWX's shape: {started|success|error|canceled: message,
-- workflow_approval: {running|approved|denied|timed_out: message}}.
create function notifier.validate_notification_messages(messages jsonb) returns void
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
declare
  name text;
begin
  if messages is null or jsonb_typeof(messages) = 'null' then
    return;
  end if;
  if jsonb_typeof(messages) <> 'object' then
    raise exception 'messages: must be a JSON object' using errcode = 'invalid_parameter_value';
  end if;
  for name in select jsonb_object_keys(messages) loop
    if name in ('started', 'success', 'error', 'canceled') then
      perform notifier.validate_notification_message('messages.' || name, messages -> name);
    elsif name = 'workflow_approval' then
      continue when jsonb_typeof(messages -> name) = 'null';
      if jsonb_typeof(messages -> name) <> 'object' then
        raise exception 'messages.workflow_approval: must be an object with running, approved, denied and/or timed_out'
          using errcode = 'invalid_parameter_value';
      end if;
      for name in select jsonb_object_keys(messages -> 'workflow_approval') loop
        if name not in ('running', 'approved', 'denied', 'timed_out') then
          raise exception 'messages.workflow_approval.%: unknown key (expected running, approved, denied or timed_out)', name
            using errcode = 'invalid_parameter_value';
        end if;
        perform notifier.validate_notification_message('messages.workflow_approval.' || name,
                                                       messages -> 'workflow_approval' -> name);
      end loop;
    else
      raise exception 'messages.%: unknown key (expected started, success, error, canceled or workflow_approval)', name
        using errcode = 'invalid_parameter_value';
    end if;
  end loop;
end;
$$;

comment on function notifier.validate_notification_messages(jsonb) is
  'Raises SQLSTATE 22023 naming the first key of a template''s messages that is not AWX''s shape.';

-- Unchanged signature and behaviour: the configuration's rules, then the messages'.
create or replace function notifier.validate_notification_template(
  notification_type text, configuration jsonb, messages jsonb
) returns void
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
begin
  perform notifier.validate_notification_configuration(notification_type, configuration);
  perform notifier.validate_notification_messages(messages);
end;
$$;

comment on function notifier.validate_notification_template(text, jsonb, jsonb) is
  'Raises SQLSTATE 22023 naming the first offending key of a template''s type, configuration or '
  'messages. Called by the write trigger; also callable on its own to check a template first.';
