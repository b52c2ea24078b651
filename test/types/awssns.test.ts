import { once } from "node:events";
import { beforeAll, describe, expect, it } from "vitest";
import { awssns, snsSubject, type AwssnsConfiguration } from "../../src/types/awssns.js";
import { DeliveryError } from "../../src/types/type.js";
import { makeDelivery } from "../helpers/delivery.js";
import { fakeSns, type FakeSnsOptions } from "../helpers/fakeSns.js";
import { HttpReceiver } from "../helpers/httpReceiver.js";

// The SDK's default credential chain made deterministic: credentials from these variables only,
// never ~/.aws files or instance metadata.
const ENV_KEY_ID = "AKIAENVCHAIN00000001";
const ENV_SECRET = "env-chain-secret-access-key-0000000000001";
process.env.AWS_ACCESS_KEY_ID = ENV_KEY_ID;
process.env.AWS_SECRET_ACCESS_KEY = ENV_SECRET;
process.env.AWS_CONFIG_FILE = "/nonexistent/aws-config";
process.env.AWS_SHARED_CREDENTIALS_FILE = "/nonexistent/aws-credentials";
process.env.AWS_EC2_METADATA_DISABLED = "true";
for (const name of ["AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"]) delete process.env[name];

const KEY_ID = "AKIAIOSFODNN7EXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLEsessionTOKEN0000000000";
const TOPIC = "arn:aws:sns:eu-west-1:123456789012:awx-jobs";
const BODY = JSON.stringify({ id: 42, name: "deploy web", status: "successful" }, null, 4);

let sns: HttpReceiver;
beforeAll(async () => {
  sns = await HttpReceiver.start();
});

function serve(options: Partial<FakeSnsOptions> = {}) {
  sns.requests.length = 0;
  sns.responder = fakeSns({ region: "eu-west-1", credentials: { [KEY_ID]: SECRET, [ENV_KEY_ID]: ENV_SECRET }, topics: [TOPIC], ...options });
}

function configuration(overrides: Partial<AwssnsConfiguration> = {}): AwssnsConfiguration {
  return { aws_region: "eu-west-1", aws_access_key_id: KEY_ID, aws_secret_access_key: SECRET, sns_topic_arn: TOPIC, api_url: sns.url, ...overrides };
}

const failure = (promise: Promise<unknown>) => promise.then(() => null, (error: unknown) => error as DeliveryError);
const form = (index = 0) => new URLSearchParams(sns.requests[index]!.body);

describe("awssns", () => {
  it("publishes the body to the topic, SigV4-signed for the region and sns, with the Idempotency-Key", async () => {
    serve();
    const outcome = await awssns.send(makeDelivery(configuration(), { body: BODY, notificationId: "501" }));
    expect(outcome).toEqual({ recipients: TOPIC, notificationsSent: 1, deliveredTargets: [] });
    expect(sns.requests).toHaveLength(1);
    expect(Object.fromEntries(form())).toEqual({
      Action: "Publish", Version: "2010-03-31", TopicArn: TOPIC, Message: BODY,
      Subject: "Job #42 'deploy web' successful: https://awx.example.com/jobs/job/42",
    });
    const request = sns.requests[0]!;
    expect(request.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${KEY_ID}/\\d{8}/eu-west-1/sns/aws4_request, `));
    expect(request.headers["idempotency-key"]).toBe("501");
    expect(String(request.headers.authorization)).toMatch(/SignedHeaders=[^,]*idempotency-key/);
  });

  it("signs the session token when one is configured", async () => {
    serve();
    await awssns.send(makeDelivery(configuration({ aws_session_token: SESSION_TOKEN }), { body: BODY }));
    expect(sns.requests[0]!.headers["x-amz-security-token"]).toBe(SESSION_TOKEN);
    expect(String(sns.requests[0]!.headers.authorization)).toMatch(/SignedHeaders=[^,]*x-amz-security-token/);
  });

  it("uses the SDK's default credential chain when the keys are empty, and the topic's region when none is set", async () => {
    serve();
    await awssns.send(makeDelivery(configuration({ aws_region: "", aws_access_key_id: "", aws_secret_access_key: null }), { body: BODY }));
    expect(sns.requests[0]!.headers.authorization).toMatch(new RegExp(`Credential=${ENV_KEY_ID}/\\d{8}/eu-west-1/sns/`));
  });

  it("a counterpart that checks signatures refuses a wrong secret, permanently, without showing it", async () => {
    serve();
    const error = await failure(awssns.send(makeDelivery(configuration({ aws_secret_access_key: "not-the-secret-0000" }), { body: BODY })));
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error!.message).toMatch(/^SNS arn:aws:sns:eu-west-1:123456789012:awx-jobs \(http:\/\/127\.0\.0\.1:\d+\/\): SignatureDoesNotMatch \(HTTP 403\): /);
    expect(error!.permanent).toBe(true);
    expect(error!.message).not.toContain("not-the-secret-0000");
  });

  it.each([
    [400, "InvalidParameter", true],
    [403, "AuthorizationError", true],
    [404, "NotFound", true],
    [400, "Throttling", false],
    [429, "TooManyRequestsException", false],
    [500, "InternalError", false],
    [503, "ServiceUnavailable", false],
  ])("HTTP %i %s: permanent %s, one request (the SDK does not retry)", async (status, code, permanent) => {
    serve({ fail: { status, code } });
    const error = await failure(awssns.send(makeDelivery(configuration(), { body: BODY })));
    expect(error!.message).toContain(`: ${code} (HTTP ${status}): `);
    expect(error!.permanent).toBe(permanent);
    expect(sns.requests).toHaveLength(1);
  });

  it("a topic SNS does not know is NotFound, permanent", async () => {
    serve({ topics: [] });
    const error = await failure(awssns.send(makeDelivery(configuration(), { body: BODY })));
    expect(error!.message).toContain("NotFound (HTTP 404): Topic does not exist");
    expect(error!.permanent).toBe(true);
  });

  it("the attempt's signal aborts a request SNS has not answered", async () => {
    serve();
    const answer = sns.responder;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    sns.responder = async (request) => {
      await held;
      return answer(request);
    };
    const controller = new AbortController();
    const sending = failure(awssns.send(makeDelivery(configuration(), { body: BODY, signal: controller.signal })));
    await once(sns, "request");
    controller.abort(new Error("the service is stopping"));
    const error = await sending;
    release();
    expect(error!.message).toBe(`SNS ${TOPIC}: the service is stopping`);
    expect(error!.permanent).toBe(false);
  });

  it("sends the message line when there is no body, and keeps the Subject within SNS's rules", async () => {
    serve();
    await awssns.send(makeDelivery(configuration(), { body: null, subject: "Job #1 'déploiement' failed" }));
    expect(form().get("Message")).toBe("Job #1 'déploiement' failed");
    expect(form().get("Subject")).toBe("Job #1 'd?ploiement' failed");
    expect(snsSubject("x".repeat(150))).toHaveLength(100);
  });
});
