--! Previous: sha1:724c4455ed692467b1284740bab6ea6465168c65
--! Hash: sha1:7f5b04e91a550599c345790aa0249fd0107c6194
--! Message: email allow_insecure_auth key

-- The email type's allow_insecure_auth key (boolean, optional, not secret): with a username and
-- neither use_tls nor use_ssl, the service now sends SMTP AUTH only after STARTTLS with a verified
-- certificate; this key lets a template opt back into AUTH over plain text (a relay on a trusted
-- network). One row of data, as scripts/generate-type-keys.ts would write it from the key's
-- declaration in src/types/email.ts: the validation trigger reads notification_type_keys as it is.
--
-- Locks: ROW EXCLUSIVE on notifier.notification_type_keys (a table only migrations write).

insert into notifier.notification_type_keys
  (notification_type, key, value_type, required, secret, allowed_values, minimum, maximum, default_value) values
  ('email', 'allow_insecure_auth', 'boolean', false, false, null, null, null, 'false'::jsonb)
on conflict (notification_type, key) do nothing;
