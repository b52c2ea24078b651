import { awssns } from "./awssns.js";
import { email } from "./email.js";
import { grafana } from "./grafana.js";
import { isSecretEntry, MASK, maskUrl, SENSITIVE_NAME } from "../redact.js";
import { irc } from "./irc.js";
import { mattermost } from "./mattermost.js";
import { pagerduty } from "./pagerduty.js";
import { rocketchat } from "./rocketchat.js";
import { slack } from "./slack.js";
import { teams } from "./teams.js";
import { twilio } from "./twilio.js";
import type { NotificationType, NotificationTypeName } from "./type.js";
import { webhook } from "./webhook.js";

/**
 * Every notification type, by notifications_templates.notification_type. Adding a type is one
 * import and one line here (its module declares everything else).
 */
export const notificationTypes: Record<NotificationTypeName, NotificationType> = {
  webhook,
  email,
  slack,
  mattermost,
  rocketchat,
  pagerduty,
  grafana,
  irc,
  twilio,
  awssns,
  teams,
};

export { MASK } from "../redact.js";

/** A string shown through maskUrl (it leaves text that is not an http(s) URL as it is). */
function maskUrlValue(value: unknown): unknown {
  return typeof value === "string" ? maskUrl(value) : value;
}

/**
 * A copy of a configuration fit for display (CLI, explain, web view): the type's secret keys
 * are masked, and so are entries of nested objects (webhook `headers`) whose names look secret
 * (Authorization, X-Api-Key…). Unknown types mask every nested secret-looking name too. Every
 * other URL value shows without its user info, query values and hook path tokens (maskUrl).
 */
export function maskSecrets(type: string, configuration: unknown): unknown {
  if (typeof configuration !== "object" || configuration === null || Array.isArray(configuration)) return configuration;
  const known = notificationTypes[type as NotificationTypeName];
  const isSecret = (key: string) => (known ? known.secretKeys.includes(key) : SENSITIVE_NAME.test(key));
  const masked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(configuration)) {
    if (isSecret(key)) {
      masked[key] = value == null || value === "" ? value : MASK;
    } else if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      masked[key] = Object.fromEntries(
        Object.entries(value).map(([name, inner]) => [name, isSecretEntry(name, inner) && inner != null && inner !== "" ? MASK : maskUrlValue(inner)]),
      );
    } else {
      masked[key] = Array.isArray(value) ? value.map(maskUrlValue) : maskUrlValue(value);
    }
  }
  return masked;
}
