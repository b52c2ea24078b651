import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { notificationTypes } from "../../src/types/index.js";
import { NOTIFICATION_TYPE_NAMES, type NotificationTypeName } from "../../src/types/type.js";
import { connect, createTestDatabase } from "../helpers/database.js";

// Templates as operators write them (test/typeKeys.test.ts checks the key tables agree in
// general): every key of every type accepted on both sides, and bad ones rejected at write time
// naming the key — the same key the service's own check names.

let db: pg.Client;
beforeAll(async () => {
  db = await connect(await createTestDatabase());
});

let counter = 0;
async function insertTemplate(type: string, configuration: unknown): Promise<void> {
  await db.query(
    "insert into notifier.notification_templates (name, notification_type, notification_configuration) values ($1, $2, $3)",
    [`types-${counter++}`, type, JSON.stringify(configuration)],
  );
}

/** Every key set: what the README's examples show. */
const fullConfigurations: Record<NotificationTypeName, Record<string, unknown>> = {
  email: {
    host: "smtp.example.com", port: 587, username: "awx", password: "smtp-password", use_tls: true, use_ssl: false, allow_insecure_auth: false,
    sender: "awx@example.com", recipients: ["ops@example.com"], timeout: 30,
  },
  webhook: {
    url: "https://hooks.example.com/awx", http_method: "POST", headers: { "X-Env": "prod" }, username: "awx",
    password: "hook-password", disable_ssl_verification: false, timeout: 10,
  },
  slack: { token: "xoxb-secret", channels: ["#ops", "C0123456789,1767225600.000100"], hex_color: "#36a64f", api_url: "https://slack.com/api", timeout: 10 },
  mattermost: {
    mattermost_url: "https://mattermost.example.com/hooks/abc", mattermost_no_verify_ssl: false, mattermost_channel: "town-square",
    mattermost_username: "awx", mattermost_icon_url: "https://example.com/awx.png", timeout: 10,
  },
  rocketchat: {
    rocketchat_url: "https://chat.example.com/hooks/id/token", rocketchat_no_verify_ssl: false, rocketchat_username: "awx",
    rocketchat_icon_url: "https://example.com/awx.png", timeout: 10,
  },
  pagerduty: { subdomain: "acme", token: "pd-token", service_key: "routing-key", client_name: "AWX", api_url: "https://events.pagerduty.com", timeout: 10 },
  grafana: {
    grafana_url: "https://grafana.example.com", grafana_key: "glsa_key", dashboardId: 12, panelId: 3, annotation_tags: ["awx"],
    grafana_no_verify_ssl: false, isRegion: true, timeout: 10,
  },
  irc: { server: "irc.libera.chat", port: 6697, nickname: "awx-notify", password: "nickserv-pass", use_ssl: true, targets: ["#ops", "alice"], timeout: 20 },
  twilio: {
    account_sid: "AC0123456789abcdef0123456789abcdef", account_token: "twilio-token", from_number: "+15550000001",
    to_numbers: ["+15550000002"], api_url: "https://api.twilio.com", timeout: 10,
  },
  awssns: {
    aws_region: "eu-west-1", aws_access_key_id: "AKIAIOSFODNN7EXAMPLE", aws_secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    aws_session_token: "", sns_topic_arn: "arn:aws:sns:eu-west-1:123456789012:awx-jobs", api_url: "https://sns.eu-west-1.amazonaws.com", timeout: 10,
  },
  teams: { teams_url: "https://example.webhook.office.com/webhookb2/0000/IncomingWebhook/abc/def", timeout: 10 },
};

describe("the README's example configurations", () => {
  it.each(NOTIFICATION_TYPE_NAMES)("%s: a template with every key is accepted by SQL and by the schema", async (name) => {
    const configuration = fullConfigurations[name];
    await insertTemplate(name, configuration);
    expect(notificationTypes[name]!.configurationSchema.safeParse(configuration).success).toBe(true);
    const { rows } = await db.query<{ key: string }>("select key from notifier.notification_type_keys where notification_type = $1", [name]);
    expect(Object.keys(configuration).sort()).toEqual(rows.map((row) => row.key).sort());
  });
});

/** [type, what is wrong, the configuration, the key the error must name]. */
const badConfigurations: [NotificationTypeName, string, (valid: Record<string, unknown>) => Record<string, unknown>, string][] = [
  ["email", "recipients missing", ({ recipients: _, ...rest }) => rest, "recipients"],
  ["webhook", "url missing", ({ url: _, ...rest }) => rest, "url"],
  ["slack", "token missing", ({ token: _, ...rest }) => rest, "token"],
  ["slack", "no channel", (valid) => ({ ...valid, channels: [] }), "channels"],
  ["slack", "hex_color not a string", (valid) => ({ ...valid, hex_color: 0x36a64f }), "hex_color"],
  ["slack", "an unknown key", (valid) => ({ ...valid, channel: "#ops" }), "channel"],
  ["mattermost", "mattermost_url missing", ({ mattermost_url: _, ...rest }) => rest, "mattermost_url"],
  ["mattermost", "mattermost_no_verify_ssl not a boolean", (valid) => ({ ...valid, mattermost_no_verify_ssl: "yes" }), "mattermost_no_verify_ssl"],
  ["rocketchat", "rocketchat_url empty", (valid) => ({ ...valid, rocketchat_url: "" }), "rocketchat_url"],
  ["rocketchat", "rocketchat_username not a string", (valid) => ({ ...valid, rocketchat_username: 5 }), "rocketchat_username"],
  ["pagerduty", "service_key missing", ({ service_key: _, ...rest }) => rest, "service_key"],
  ["pagerduty", "client_name empty", (valid) => ({ ...valid, client_name: "" }), "client_name"],
  ["grafana", "grafana_key missing", ({ grafana_key: _, ...rest }) => rest, "grafana_key"],
  ["grafana", "dashboardId not an integer", (valid) => ({ ...valid, dashboardId: "12" }), "dashboardId"],
  ["grafana", "annotation_tags not a list", (valid) => ({ ...valid, annotation_tags: "awx" }), "annotation_tags"],
  ["irc", "port as a string", (valid) => ({ ...valid, port: "6697" }), "port"],
  ["irc", "no target", (valid) => ({ ...valid, targets: [] }), "targets"],
  ["irc", "use_ssl not a boolean", (valid) => ({ ...valid, use_ssl: "true" }), "use_ssl"],
  ["twilio", "to_numbers missing", ({ to_numbers: _, ...rest }) => rest, "to_numbers"],
  ["twilio", "account_sid empty", (valid) => ({ ...valid, account_sid: "" }), "account_sid"],
  ["twilio", "a timeout of zero", (valid) => ({ ...valid, timeout: 0 }), "timeout"],
  ["irc", "port 0", (valid) => ({ ...valid, port: 0 }), "port"],
  ["email", "an empty recipient", (valid) => ({ ...valid, recipients: [""] }), "recipients"],
  ["webhook", "a nested header value", (valid) => ({ ...valid, headers: { "X-A": { b: 1 } } }), "headers"],
  ["webhook", "a timeout no timer can hold", (valid) => ({ ...valid, timeout: 3_000_000 }), "timeout"],
  ["awssns", "sns_topic_arn missing", ({ sns_topic_arn: _, ...rest }) => rest, "sns_topic_arn"],
  ["awssns", "aws_secret_access_key not a string", (valid) => ({ ...valid, aws_secret_access_key: 1 }), "aws_secret_access_key"],
  ["teams", "teams_url empty", (valid) => ({ ...valid, teams_url: "" }), "teams_url"],
];

describe("bad configurations are rejected when written, naming the key", () => {
  it.each(badConfigurations)("%s: %s", async (name, _, spoil, key) => {
    const configuration = spoil(fullConfigurations[name]);
    await expect(insertTemplate(name, configuration)).rejects.toThrow(new RegExp(`^notification_configuration\\.${key}: `));
    // The service's own check (before any send) names the same key.
    const parsed = notificationTypes[name]!.configurationSchema.safeParse(configuration);
    expect(parsed.success).toBe(false);
    const issue = parsed.error!.issues[0]!;
    expect(issue.path[0] ?? (issue as { keys?: string[] }).keys?.[0]).toBe(key);
  });
});
