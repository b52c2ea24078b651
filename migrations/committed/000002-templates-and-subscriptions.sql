--! Previous: sha1:171956310f10e7e51f67c1b16647ee78ee2025ae
--! Hash: sha1:5a43013bff274d3de943eccc68c7ae709d608e3b
--! Message: templates and subscriptions

-- What operators write: notification templates (AWX's NotificationTemplate) and the
-- subscriptions that attach them to jobs by trigger and scope.
--
-- A template is checked when it is written, so a bad one never reaches the delivery service:
-- the known configuration keys of every type live in notifier.notification_type_keys (data a
-- DBA can read), and a trigger checks each write against them.

create table notifier.notification_type_keys (
  notification_type text not null,
  key               text not null,
  -- string | integer | number | boolean | object | list (a list of strings)
  value_type        text not null check (value_type in ('string', 'integer', 'number', 'boolean', 'object', 'list')),
  required          boolean not null default false,
  -- for a required string or list: it must not be empty
  secret            boolean not null default false,
  allowed_values    text[],  -- for an enumeration such as webhook http_method
  primary key (notification_type, key)
);

comment on table notifier.notification_type_keys is
  'The configuration keys each notification type accepts (AWX''s names). Secrets are masked by '
  'every command that prints a template. Required strings and lists must be non-empty.';

insert into notifier.notification_type_keys
  (notification_type, key, value_type, required, secret, allowed_values) values
  ('email', 'host', 'string', true, false, null),
  ('email', 'port', 'integer', false, false, null),
  ('email', 'username', 'string', false, false, null),
  ('email', 'password', 'string', false, true, null),
  ('email', 'use_tls', 'boolean', false, false, null),
  ('email', 'use_ssl', 'boolean', false, false, null),
  ('email', 'sender', 'string', true, false, null),
  ('email', 'recipients', 'list', true, false, null),
  ('email', 'timeout', 'number', false, false, null),

  ('webhook', 'url', 'string', true, false, null),
  ('webhook', 'http_method', 'string', false, false, array['POST', 'PUT']),
  ('webhook', 'headers', 'object', false, false, null),
  ('webhook', 'username', 'string', false, false, null),
  ('webhook', 'password', 'string', false, true, null),
  ('webhook', 'disable_ssl_verification', 'boolean', false, false, null),
  ('webhook', 'timeout', 'number', false, false, null),

  ('slack', 'token', 'string', true, true, null),
  ('slack', 'channels', 'list', true, false, null),
  ('slack', 'hex_color', 'string', false, false, null),
  ('slack', 'api_url', 'string', false, false, null),
  ('slack', 'timeout', 'number', false, false, null),

  ('mattermost', 'mattermost_url', 'string', true, false, null),
  ('mattermost', 'mattermost_no_verify_ssl', 'boolean', false, false, null),
  ('mattermost', 'mattermost_channel', 'string', false, false, null),
  ('mattermost', 'mattermost_username', 'string', false, false, null),
  ('mattermost', 'mattermost_icon_url', 'string', false, false, null),
  ('mattermost', 'timeout', 'number', false, false, null),

  ('rocketchat', 'rocketchat_url', 'string', true, false, null),
  ('rocketchat', 'rocketchat_no_verify_ssl', 'boolean', false, false, null),
  ('rocketchat', 'rocketchat_username', 'string', false, false, null),
  ('rocketchat', 'rocketchat_icon_url', 'string', false, false, null),
  ('rocketchat', 'timeout', 'number', false, false, null),

  ('pagerduty', 'subdomain', 'string', true, false, null),
  ('pagerduty', 'token', 'string', true, true, null),
  ('pagerduty', 'service_key', 'string', true, true, null),
  ('pagerduty', 'client_name', 'string', true, false, null),
  ('pagerduty', 'api_url', 'string', false, false, null),
  ('pagerduty', 'timeout', 'number', false, false, null),

  ('grafana', 'grafana_url', 'string', true, false, null),
  ('grafana', 'grafana_key', 'string', true, true, null),
  ('grafana', 'dashboardId', 'integer', false, false, null),
  ('grafana', 'panelId', 'integer', false, false, null),
  ('grafana', 'annotation_tags', 'list', false, false, null),
  ('grafana', 'grafana_no_verify_ssl', 'boolean', false, false, null),
  ('grafana', 'isRegion', 'boolean', false, false, null),
  ('grafana', 'timeout', 'number', false, false, null),

  ('irc', 'server', 'string', true, false, null),
  ('irc', 'port', 'integer', true, false, null),
  ('irc', 'nickname', 'string', true, false, null),
  ('irc', 'password', 'string', false, true, null),
  ('irc', 'use_ssl', 'boolean', false, false, null),
  ('irc', 'targets', 'list', true, false, null),
  ('irc', 'timeout', 'number', false, false, null),

  ('twilio', 'account_sid', 'string', true, false, null),
  ('twilio', 'account_token', 'string', true, true, null),
  ('twilio', 'from_number', 'string', true, false, null),
  ('twilio', 'to_numbers', 'list', true, false, null),
  ('twilio', 'api_url', 'string', false, false, null),
  ('twilio', 'timeout', 'number', false, false, null);

create table notifier.notification_templates (
  id                         bigint primary key generated by default as identity,
  name                       text not null unique,
  notification_type          text not null,
  notification_configuration jsonb not null default '{}',
  -- custom messages, AWX's shape: {"started"|"success"|"error": {"message": "...", "body": "..."}}
  messages                   jsonb,
  created_at                 timestamptz not null default now(),
  modified_at                timestamptz not null default now()
);

create table notifier.subscriptions (
  id                       bigint primary key generated by default as identity,
  notification_template_id bigint not null references notifier.notification_templates on delete cascade,
  trigger                  text not null check (trigger in ('started', 'success', 'error')),
  job_template_id          bigint,  -- NULL: jobs of any template
  organization_id          bigint   -- NULL: jobs of any organization
);

create index subscriptions_template_idx on notifier.subscriptions (notification_template_id);
create index subscriptions_trigger_idx on notifier.subscriptions (trigger);

-- Raises one clear error (SQLSTATE 22023, invalid_parameter_value) naming the first offending
-- key of a template's type, configuration or messages. Also callable on its own, e.g. by the
-- CLI, to check a template before writing it.
create function notifier.validate_notification_template(
  notification_type text, configuration jsonb, messages jsonb
) returns void
language plpgsql stable
set search_path = pg_catalog
as $$
declare
  spec record;
  supplied text;
  value jsonb;
  trigger_name text;
  part text;
  well_typed boolean;
begin
  if not exists (select 1 from notifier.notification_type_keys k where k.notification_type = $1) then
    raise exception 'notification_type: unknown type "%"', coalesce($1, 'NULL')
      using errcode = 'invalid_parameter_value',
            hint = 'one of: email, webhook, slack, mattermost, rocketchat, pagerduty, grafana, irc, twilio';
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
             when 'integer' then jsonb_typeof(value) = 'number' and value::text ~ '^-?[0-9]+$'
             when 'number'  then case when jsonb_typeof(value) = 'number' then value::numeric > 0 else false end
             when 'boolean' then jsonb_typeof(value) = 'boolean'
             when 'object'  then jsonb_typeof(value) = 'object'
             when 'list'    then jsonb_typeof(value) = 'array'
                                 and not jsonb_path_exists(value, '$[*] ? (@.type() != "string")')
                  end;
    if not well_typed then
      raise exception 'notification_configuration.%: must be %', spec.key,
        case spec.value_type
          when 'list' then 'a list of strings'
          when 'integer' then 'an integer'
          when 'number' then 'a positive number'
          when 'object' then 'a JSON object'
          else 'a ' || spec.value_type
        end
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

  if messages is null or jsonb_typeof(messages) = 'null' then
    return;
  end if;
  if jsonb_typeof(messages) <> 'object' then
    raise exception 'messages: must be a JSON object' using errcode = 'invalid_parameter_value';
  end if;
  for trigger_name in select jsonb_object_keys(messages) loop
    if trigger_name not in ('started', 'success', 'error') then
      raise exception 'messages.%: unknown key (expected started, success or error)', trigger_name
        using errcode = 'invalid_parameter_value';
    end if;
    value := messages -> trigger_name;
    continue when jsonb_typeof(value) = 'null';
    if jsonb_typeof(value) <> 'object' then
      raise exception 'messages.%: must be an object with "message" and/or "body"', trigger_name
        using errcode = 'invalid_parameter_value';
    end if;
    for part in select jsonb_object_keys(value) loop
      if part not in ('message', 'body') then
        raise exception 'messages.%.%: unknown key (expected message or body)', trigger_name, part
          using errcode = 'invalid_parameter_value';
      end if;
      if jsonb_typeof(value -> part) not in ('string', 'null') then
        raise exception 'messages.%.%: must be a string', trigger_name, part
          using errcode = 'invalid_parameter_value';
      end if;
    end loop;
  end loop;
end;
$$;

create function notifier.tg_notification_templates__validate() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
begin
  perform notifier.validate_notification_template(
    new.notification_type, new.notification_configuration, new.messages);
  if tg_op = 'UPDATE' then
    new.modified_at := now();
  end if;
  return new;
end;
$$;

comment on function notifier.tg_notification_templates__validate() is
  'Rejects an invalid template when it is written, naming the offending key; stamps modified_at.';

create trigger _100_validate
  before insert or update on notifier.notification_templates
  for each row execute function notifier.tg_notification_templates__validate();
