import type pg from "pg";
import { beforeAll, expect, test } from "vitest";
import { connect, createTestDatabase } from "./helpers/database.js";

// CONTRACT §4: an invalid template is rejected when it is written, with an error naming the key.

let db: pg.Client;
beforeAll(async () => {
  db = await connect(await createTestDatabase());
});

let counter = 0;
async function write(type: string, configuration: unknown, messages: unknown = null): Promise<void> {
  await db.query(
    "insert into notifier.notification_templates (name, notification_type, notification_configuration, messages) values ($1, $2, $3, $4)",
    [`t${counter++}`, type, JSON.stringify(configuration), messages === null ? null : JSON.stringify(messages)],
  );
}

const validEmail = { host: "smtp.example.com", port: 25, sender: "awx@example.com", recipients: ["ops@example.com"] };

test.each([
  ["email", validEmail],
  ["email", { ...validEmail, username: "u", password: "p", use_tls: true, use_ssl: false, timeout: 30 }],
  ["webhook", { url: "https://example.com/hook" }],
  ["webhook", { url: "https://example.com/hook", http_method: "PUT", headers: { "X-A": "b" }, username: "", password: "", disable_ssl_verification: true, timeout: 2.5 }],
  ["slack", { token: "xoxb", channels: ["#ops", "#ci,1700000000.000100"], hex_color: "#ff0000" }],
  ["mattermost", { mattermost_url: "https://mm.example.com/hooks/x", mattermost_no_verify_ssl: false, mattermost_channel: "ops" }],
  ["rocketchat", { rocketchat_url: "https://rc.example.com/hooks/x", rocketchat_username: "awx" }],
  ["pagerduty", { subdomain: "acme", token: "t", service_key: "k", client_name: "AWX" }],
  ["grafana", { grafana_url: "https://grafana.example.com", grafana_key: "k", dashboardId: 1, panelId: 2, annotation_tags: ["awx"], isRegion: true }],
  ["irc", { server: "irc.example.com", port: 6697, nickname: "awx", password: "", use_ssl: true, targets: ["#ops", "alice"] }],
  ["twilio", { account_sid: "AC1", account_token: "t", from_number: "+15550001", to_numbers: ["+15550002"] }],
])("accepts a valid %s template", async (type, configuration) => {
  await write(type, configuration);
});

test.each([
  ["unknown type", "fax", {}, null, /notification_type: unknown type "fax"/],
  ["missing required key", "webhook", {}, null, /notification_configuration\.url: required for type webhook/],
  ["mistyped key", "email", { ...validEmail, port: "25" }, null, /notification_configuration\.port: must be an integer/],
  ["empty recipient list", "email", { ...validEmail, recipients: [] }, null, /notification_configuration\.recipients: must not be empty/],
  ["list of non-strings", "twilio", { account_sid: "a", account_token: "t", from_number: "1", to_numbers: [5] }, null, /to_numbers: must be a list of non-empty strings/],
  ["empty required string", "slack", { token: "", channels: ["#a"] }, null, /notification_configuration\.token: must not be empty/],
  ["unknown configuration key (a typo)", "mattermost", { mattermost_url: "https://x", mattermost_chanel: "ops" }, null, /notification_configuration\.mattermost_chanel: unknown key for type mattermost/],
  ["method outside the enumeration", "webhook", { url: "https://x", http_method: "GET" }, null, /http_method: must be one of POST, PUT/],
  ["non-positive timeout", "webhook", { url: "https://x", timeout: 0 }, null, /timeout: must be a positive number/],
  ["configuration not an object", "webhook", ["https://x"], null, /notification_configuration: must be a JSON object/],
  ["unknown messages key", "webhook", { url: "https://x" }, { finished: { message: "x" } }, /messages\.finished: unknown key/],
  ["unknown message part", "webhook", { url: "https://x" }, { error: { subject: "x" } }, /messages\.error\.subject: unknown key/],
  ["message part not a string", "webhook", { url: "https://x" }, { error: { body: { a: 1 } } }, /messages\.error\.body: must be a string/],
])("rejects %s, naming the key", async (_, type, configuration, messages, error) => {
  const before = (await db.query("select count(*)::int as n from notifier.notification_templates")).rows[0].n;
  await expect(write(type, configuration, messages)).rejects.toThrow(error);
  expect((await db.query("select count(*)::int as n from notifier.notification_templates")).rows[0].n).toBe(before);
});

test("custom messages in AWX's shape are accepted, and updates are validated too", async () => {
  await write("webhook", { url: "https://x" }, { started: { message: "{{ job.name }}", body: null }, success: null, error: { body: "{}" } });
  const { rows } = await db.query("select id from notifier.notification_templates order by id desc limit 1");
  await expect(
    db.query(`update notifier.notification_templates set notification_configuration = '{}' where id = $1`, [rows[0].id]),
  ).rejects.toThrow(/url: required/);
  const updated = await db.query(
    `update notifier.notification_templates set notification_configuration = '{"url": "https://y"}' where id = $1 returning modified_at > created_at as touched`,
    [rows[0].id],
  );
  expect(updated.rows[0].touched).toBe(true);
});

test("the validation function can be called on its own", async () => {
  await expect(db.query("select notifier.validate_notification_template('irc', '{}', null)")).rejects.toMatchObject({
    code: "22023",
    message: expect.stringMatching(/notification_configuration\.nickname: required for type irc/),
  });
});
