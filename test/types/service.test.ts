import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { connect, createTestDatabase } from "../helpers/database.js";
import { fakeChatWebhook, fakeGrafana, fakePagerduty, fakeSlack, fakeTwilio } from "../helpers/fakeApis.js";
import { HttpReceiver, type ReceivedRequest, type Responder } from "../helpers/httpReceiver.js";
import { startIrcServer, watchIrc } from "../helpers/ngircd.js";
import { ServiceProcess, runJob, waitUntilSettled } from "../helpers/service.js";

// End to end: a job's final notification goes through a real `pg-job-notifier listen` process
// to every type's counterpart. Each HTTP counterpart fails the first attempt once; the service
// retries, and only what failed is sent again, with the same Idempotency-Key.

const JOB_TEMPLATE = 4242;
const URL_BASE = "https://awx.example.com";
const SECRETS = {
  slackToken: "xoxb-e2e-slack-token-0001",
  routingKey: "e2eRoutingKey0123456789abcdef0123",
  pagerdutyToken: "e2e-pagerduty-rest-token",
  twilioToken: "e2e-twilio-auth-token-0002",
  grafanaKey: "glsa_e2eGrafanaKey0123456789",
};
const SID = "AC00000000000000000000000000000e2e";

/** Answers with `failure` the first request that `fails` picks, then defers to `responder`. */
function failOnce(responder: Responder, fails: (request: ReceivedRequest) => boolean, failure: Responder): Responder {
  let failed = false;
  return (request) => {
    if (!failed && fails(request)) {
      failed = true;
      return failure(request);
    }
    return responder(request);
  };
}

let databaseUrl: string;
let db: pg.Client;
const apis: Record<string, HttpReceiver> = {};

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  db = await connect(databaseUrl);
  for (const name of ["slack", "pagerduty", "twilio", "grafana", "mattermost", "rocketchat"]) apis[name] = await HttpReceiver.start();
  // Slack's transient failure comes as HTTP 200 with ok: false, for one channel of two.
  apis.slack!.responder = failOnce(fakeSlack({ token: SECRETS.slackToken }), (r) => JSON.parse(r.body).channel === "dev",
    () => ({ status: 200, body: '{"ok":false,"error":"internal_error"}', headers: { "content-type": "application/json" } }));
  apis.pagerduty!.responder = failOnce(fakePagerduty({ routingKey: SECRETS.routingKey }), () => true,
    // A broken server echoing the request: the routing key must still stay out of errors and logs.
    (request) => ({ status: 500, body: request.body }));
  // One of two numbers fails once.
  apis.twilio!.responder = failOnce(fakeTwilio({ accountSid: SID, authToken: SECRETS.twilioToken }),
    (r) => new URLSearchParams(r.body).get("To") === "+15550000003", () => ({ status: 503, body: "unavailable" }));
  apis.grafana!.responder = failOnce(fakeGrafana({ key: SECRETS.grafanaKey }), () => true,
    (request) => ({ status: 502, body: `bad gateway for ${request.headers.authorization}` }));
  apis.mattermost!.responder = failOnce(fakeChatWebhook({ path: "/hooks/mm", success: { status: 200, body: "ok" } }), () => true, () => ({ status: 500 }));
  apis.rocketchat!.responder = failOnce(fakeChatWebhook({ path: "/hooks/rc/tok", success: { status: 200, body: '{"success":true}' } }), () => true, () => ({ status: 500 }));
});

async function addTemplate(name: string, type: string, configuration: unknown, messages: unknown = null): Promise<number> {
  const { rows } = await db.query(
    `insert into notifier.notification_templates (name, notification_type, notification_configuration, messages)
     values ($1, $2, $3, $4) returning id`,
    [name, type, JSON.stringify(configuration), messages === null ? null : JSON.stringify(messages)],
  );
  await db.query("insert into notifier.subscriptions (notification_template_id, trigger, job_template_id) values ($1, 'success', $2)", [
    rows[0].id, JOB_TEMPLATE,
  ]);
  return Number(rows[0].id);
}

describe("every type through the delivery service", () => {
  it("delivers a job's final notification with retries, per-target resends and one Idempotency-Key per row", async () => {
    const irc = await startIrcServer();
    const watcher = await watchIrc(irc, "watcher", ["#ops"]);
    await addTemplate("e2e slack", "slack", { token: SECRETS.slackToken, channels: ["#ops", "#dev"], api_url: `${apis.slack!.url}/api` },
      { success: { message: "{{ job.name }} finished {{ job.status }}" } });
    await addTemplate("e2e pagerduty", "pagerduty", {
      subdomain: "acme", token: SECRETS.pagerdutyToken, service_key: SECRETS.routingKey, client_name: "awx-e2e", api_url: apis.pagerduty!.url,
    });
    await addTemplate("e2e twilio", "twilio", {
      account_sid: SID, account_token: SECRETS.twilioToken, from_number: "+15550000001", to_numbers: ["+15550000002", "+15550000003"],
      api_url: apis.twilio!.url,
    });
    await addTemplate("e2e grafana", "grafana", { grafana_url: apis.grafana!.url, grafana_key: SECRETS.grafanaKey, annotation_tags: ["e2e"] });
    await addTemplate("e2e mattermost", "mattermost", { mattermost_url: `${apis.mattermost!.url}/hooks/mm`, mattermost_channel: "ops" });
    await addTemplate("e2e rocketchat", "rocketchat", { rocketchat_url: `${apis.rocketchat!.url}/hooks/rc/tok` });
    await addTemplate("e2e irc", "irc", { server: irc.host, port: irc.port, nickname: "awx", targets: ["#ops"] });

    const service = await ServiceProcess.start({ databaseUrl, env: { NOTIFIER_URL_BASE: URL_BASE } });
    const jobId = await runJob(db, "e2e job", "successful", JOB_TEMPLATE);
    await waitUntilSettled(db, 90_000);
    const { rows } = await db.query<{
      id: string; name: string; status: string; attempts: number; error: string | null; notifications_sent: number; delivered_targets: string[];
    }>(
      `select n.id::text, t.name, n.status, n.attempts, n.error, n.notifications_sent, n.delivered_targets
         from notifier.notifications n join notifier.notification_templates t on t.id = n.notification_template_id
        where n.job_id = $1 order by t.name`,
      [jobId],
    );
    const byTemplate = Object.fromEntries(rows.map((row) => [row.name.slice("e2e ".length), row]));
    expect(Object.keys(byTemplate).sort()).toEqual(["grafana", "irc", "mattermost", "pagerduty", "rocketchat", "slack", "twilio"]);
    for (const [name, row] of Object.entries(byTemplate)) {
      expect(row.status, `${name}: ${row.error}`).toBe("successful");
      expect(row.attempts, name).toBe(name === "irc" ? 1 : 2);
    }
    expect(byTemplate.slack!.delivered_targets.sort()).toEqual(["#dev", "#ops"]);
    expect(byTemplate.twilio!.notifications_sent).toBe(2);

    const defaultMessage = `Job #${jobId} 'e2e job' successful: ${URL_BASE}/jobs/job/${jobId}`;
    // Every request of a row carries the row's id as Idempotency-Key; only what failed was resent.
    for (const [name, api] of Object.entries(apis)) {
      expect(new Set(api.requests.map((r) => r.headers["idempotency-key"])), name).toEqual(new Set([byTemplate[name]!.id]));
    }
    expect(apis.slack!.requests.map((r) => JSON.parse(r.body))).toEqual([
      { channel: "ops", text: "e2e job finished successful" },
      { channel: "dev", text: "e2e job finished successful" },
      { channel: "dev", text: "e2e job finished successful" },
    ]);
    expect(apis.twilio!.requests.map((r) => new URLSearchParams(r.body).get("To"))).toEqual(["+15550000002", "+15550000003", "+15550000003"]);
    expect(new URLSearchParams(apis.twilio!.requests[2]!.body).get("Body")).toBe(defaultMessage);
    const [firstEvent, secondEvent] = apis.pagerduty!.requests.map((r) => JSON.parse(r.body));
    expect(secondEvent).toEqual(firstEvent);
    expect(secondEvent.payload.summary).toBe(defaultMessage);
    expect(secondEvent.payload.custom_details).toMatchObject({ id: jobId, name: "e2e job", status: "successful" });
    expect(JSON.parse(apis.grafana!.requests[1]!.body)).toMatchObject({ text: defaultMessage, tags: ["e2e"], isRegion: true });
    expect(JSON.parse(apis.mattermost!.requests[1]!.body)).toEqual({ text: defaultMessage, channel: "ops" });
    expect(JSON.parse(apis.rocketchat!.requests[1]!.body)).toEqual({ text: defaultMessage });
    await watcher.waitFor(1, (m) => m.from === "awx" && m.target === "#ops" && m.text === defaultMessage);

    // Secrets appear nowhere the service writes: logs and recorded errors.
    const recorded = (await db.query("select coalesce(string_agg(error, ' '), '') as errors from notifier.notifications")).rows[0].errors;
    for (const secret of Object.values(SECRETS)) {
      expect(service.output).not.toContain(secret);
      expect(recorded).not.toContain(secret);
    }
  });
});

