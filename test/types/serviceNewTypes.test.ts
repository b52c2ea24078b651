import { once } from "node:events";
import type pg from "pg";
import { SMTPServer } from "smtp-server";
import { beforeAll, describe, expect, it } from "vitest";
import { afterFile } from "../helpers/afterFile.js";
import { connect, createTestDatabase } from "../helpers/database.js";
import { fakeSlack } from "../helpers/fakeApis.js";
import { fakeSns } from "../helpers/fakeSns.js";
import { fakeTeams } from "../helpers/fakeTeams.js";
import { HttpReceiver, type ReceivedRequest, type Responder } from "../helpers/httpReceiver.js";
import { saveStatsEvent } from "../helpers/jobs.js";
import { ServiceProcess, waitUntilSettled } from "../helpers/service.js";

// End to end through a real `pg-job-notifier listen` process: awssns and teams deliver with a
// retry and one Idempotency-Key per row; a failed job's default email (a real SMTP server) and
// Slack text name its failed and unreachable hosts from the playbook_on_stats wrapup.

const URL_BASE = "https://awx.example.com";
const TOPIC = "arn:aws:sns:eu-west-1:123456789012:awx-jobs";
const AWS = { keyId: "AKIAE2ESERVICE000001", secret: "e2e-sns-secret-access-key-000000000001" };
const SLACK_TOKEN = "xoxb-e2e-hosts-token-0001";
const TEAMS_PATH = "/webhookb2/e2e@tenant/IncomingWebhook/feedfacefeedfacefeedfacefeedface/guid";
// The service's SDK must not look for credentials anywhere but the template.
const AWS_ENV = { AWS_EC2_METADATA_DISABLED: "true", AWS_CONFIG_FILE: "/nonexistent/aws-config", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials" };

function failOnce(responder: Responder, failure: Responder): Responder {
  let failed = false;
  return (request: ReceivedRequest) => {
    if (failed) return responder(request);
    failed = true;
    return failure(request);
  };
}

let databaseUrl: string;
let db: pg.Client;
let templateSeq = 0;

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  db = await connect(databaseUrl);
});

async function addTemplate(type: string, configuration: unknown, trigger: string, jobTemplateId: number): Promise<void> {
  const { rows } = await db.query(
    "insert into notifier.notification_templates (name, notification_type, notification_configuration) values ($1, $2, $3) returning id",
    [`e2e ${type} ${templateSeq++}`, type, JSON.stringify(configuration)],
  );
  await db.query("insert into notifier.subscriptions (notification_template_id, trigger, job_template_id) values ($1, $2, $3)", [rows[0].id, trigger, jobTemplateId]);
}

async function rowsOfJob(jobId: number) {
  const { rows } = await db.query<{ id: string; notification_type: string; status: string; attempts: number; error: string | null; subject: string; body: string | null }>(
    "select id::text, notification_type, status, attempts, error, subject, body from notifier.notifications where job_id = $1 order by notification_type",
    [jobId],
  );
  return Object.fromEntries(rows.map((row) => [row.notification_type, row]));
}

describe("awssns and teams through the delivery service", () => {
  it("publish a job's final notification, retrying once, with one Idempotency-Key per row", async () => {
    const sns = await HttpReceiver.start();
    const teams = await HttpReceiver.start();
    sns.responder = failOnce(fakeSns({ region: "eu-west-1", credentials: { [AWS.keyId]: AWS.secret }, topics: [TOPIC] }),
      () => ({ status: 400, headers: { "content-type": "text/xml" }, body: '<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>' }));
    teams.responder = failOnce(fakeTeams({ path: TEAMS_PATH }), () => ({ status: 200, body: "Microsoft Teams endpoint returned HTTP error 429 with ContextId x" }));
    await addTemplate("awssns", { aws_region: "eu-west-1", aws_access_key_id: AWS.keyId, aws_secret_access_key: AWS.secret, sns_topic_arn: TOPIC, api_url: sns.url }, "success", 51);
    await addTemplate("teams", { teams_url: `${teams.url}${TEAMS_PATH}` }, "success", 51);

    const service = await ServiceProcess.start({ databaseUrl, env: { NOTIFIER_URL_BASE: URL_BASE, ...AWS_ENV } });
    const { rows: [job] } = await db.query("insert into notifier.jobs (name, status, job_template_id) values ('e2e sns', 'running', 51) returning id");
    const jobId = Number(job.id);
    await db.query("update notifier.jobs set status = 'successful' where id = $1", [jobId]);
    await waitUntilSettled(db, 60_000);
    const rows = await rowsOfJob(jobId);
    for (const type of ["awssns", "teams"]) {
      expect(rows[type]!.status, `${type}: ${rows[type]!.error}`).toBe("successful");
      expect(rows[type]!.attempts, type).toBe(2);
    }
    expect(new Set(sns.requests.map((r) => r.headers["idempotency-key"]))).toEqual(new Set([rows.awssns!.id]));
    expect(new Set(teams.requests.map((r) => r.headers["idempotency-key"]))).toEqual(new Set([rows.teams!.id]));
    const published = new URLSearchParams(sns.requests[1]!.body);
    expect(JSON.parse(published.get("Message")!)).toMatchObject({ id: jobId, name: "e2e sns", status: "successful", url: `${URL_BASE}/jobs/job/${jobId}` });
    const teamsCard = JSON.parse(teams.requests[1]!.body).attachments[0].content;
    expect(teamsCard.body[0].text).toBe(`Job #${jobId} 'e2e sns' successful: ${URL_BASE}/jobs/job/${jobId}`);
    expect(teamsCard.actions[0].url).toBe(`${URL_BASE}/jobs/job/${jobId}`);
    expect(service.output).not.toContain(AWS.secret);
    expect(service.output).not.toContain("feedfacefeedfacefeedfacefeedface");
    service.kill();
    await service.waitForExit();
  });
});

describe("failed hosts in the default messages", () => {
  it("a failed job's email and Slack text name its failed and unreachable hosts", async () => {
    const mails: string[] = [];
    const smtp = new SMTPServer({
      authOptional: true, disabledCommands: ["STARTTLS"], logger: false,
      onData(stream, _session, callback) {
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          mails.push(Buffer.concat(chunks).toString("utf8"));
          callback();
        });
      },
    });
    smtp.listen(0, "127.0.0.1");
    await once(smtp.server, "listening");
    afterFile(() => new Promise<void>((resolve) => smtp.close(() => resolve())));
    const slack = await HttpReceiver.start();
    slack.responder = fakeSlack({ token: SLACK_TOKEN });
    const smtpPort = (smtp.server.address() as { port: number }).port;
    await addTemplate("email", { host: "127.0.0.1", port: smtpPort, sender: "awx@example.com", recipients: ["ops@example.com"] }, "error", 52);
    await addTemplate("slack", { token: SLACK_TOKEN, channels: ["#ops"], api_url: `${slack.url}/api` }, "error", 52);

    const service = await ServiceProcess.start({ databaseUrl, env: { NOTIFIER_URL_BASE: URL_BASE } });
    const { rows: [job] } = await db.query(
      "insert into notifier.jobs (name, status, job_template_id, wrapup_dispatched) values ('e2e hosts', 'running', 52, true) returning id",
    );
    const jobId = Number(job.id);
    await db.query("update notifier.jobs set status = 'failed' where id = $1", [jobId]);
    await saveStatsEvent(db, jobId, { ok: { web1: 1, web2: 1, db1: 1 }, failures: { web2: 1 }, dark: { db1: 1 }, changed: { web1: 1 } });
    await waitUntilSettled(db, 60_000);
    const rows = await rowsOfJob(jobId);
    expect(rows.email!.status, rows.email!.error ?? "").toBe("successful");
    expect(rows.slack!.status, rows.slack!.error ?? "").toBe("successful");

    expect(mails).toHaveLength(1);
    const text = mails[0]!.replace(/=\r?\n/g, "").replace(/\r\n/g, "\n");
    expect(text).toContain(`Job #${jobId} had status failed, view details at ${URL_BASE}/jobs/job/${jobId}\nFailed hosts: web2\nUnreachable hosts: db1\n\n{`);
    expect(JSON.parse(slack.requests[0]!.body).text).toBe(`Job #${jobId} 'e2e hosts' failed: ${URL_BASE}/jobs/job/${jobId}; Failed hosts: web2; Unreachable hosts: db1`);
    service.kill();
    await service.waitForExit();
  });
});

describe("workflow approvals through the delivery service", () => {
  // The rows SQL creates for approvals (migrations of the approvals protocol) are written here as
  // notifier.create_notifications writes them: a `started` row whose snapshot is the approval.
  it("notifies a workflow approval through the triggers: waiting for review, then timed out, with AWX's messages, in order", async () => {
    const hook = await HttpReceiver.start();
    const { rows: [template] } = await db.query(
      "insert into notifier.notification_templates (name, notification_type, notification_configuration) values ('e2e approvals', 'webhook', $1) returning id",
      [JSON.stringify({ url: `${hook.url}/approvals` })],
    );
    await db.query("insert into notifier.subscriptions (notification_template_id, trigger) values ($1, 'approval')", [template.id]);
    const service = await ServiceProcess.start({ databaseUrl, env: { NOTIFIER_URL_BASE: URL_BASE } });
    // As AWX's approval: running while it waits, then failed with timed_out when nobody decided.
    const { rows: [job] } = await db.query(
      `insert into notifier.jobs (kind, name, status, extra) values ('workflow_approval', 'Deploy to prod?', 'running', '{"workflow_job_id": 900}')
       returning id`);
    const [waiting] = await hook.waitForRequests(1);
    await db.query("update notifier.jobs set status = 'failed', timed_out = true where id = $1", [job.id]);
    const [, decided] = await hook.waitForRequests(2);
    await waitUntilSettled(db, 60_000);
    const { rows } = await db.query(
      "select trigger, status, subject from notifier.notifications where job_id = $1 order by id", [job.id]);
    expect(rows).toEqual([
      { trigger: "started", status: "successful",
        subject: `The approval node 'Deploy to prod?' needs review. This node can be viewed at: ${URL_BASE}/jobs/workflow_job/900` },
      { trigger: "approval", status: "successful",
        subject: `The approval node 'Deploy to prod?' has timed out. ${URL_BASE}/jobs/workflow_job/900` },
    ]);
    expect(JSON.parse(waiting!.body)).toMatchObject({ kind: "workflow_approval", status: "running", timed_out: false });
    expect(JSON.parse(decided!.body)).toMatchObject({ kind: "workflow_approval", status: "failed", timed_out: true });
    service.kill();
    await service.waitForExit();
  });
});
