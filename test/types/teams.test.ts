import { beforeAll, describe, expect, it } from "vitest";
import { teams, type TeamsConfiguration } from "../../src/types/teams.js";
import { DeliveryError } from "../../src/types/type.js";
import { makeDelivery, sampleJob } from "../helpers/delivery.js";
import { fakeTeams } from "../helpers/fakeTeams.js";
import { HttpReceiver } from "../helpers/httpReceiver.js";

const HOOK = "/webhookb2/4f1c0e7a-0000-4000-8000-000000000001@tenant/IncomingWebhook/0123456789abcdef0123456789abcdef/guid";
const METADATA = JSON.stringify({ id: 42, name: "deploy web", status: "failed", url: "https://awx.example.com/jobs/job/42" });

let api: HttpReceiver;
beforeAll(async () => {
  api = await HttpReceiver.start();
});

const configuration = (): TeamsConfiguration => ({ teams_url: `${api.url}${HOOK}` });
const failure = (promise: Promise<unknown>) => promise.then(() => null, (error: unknown) => error as DeliveryError);
const card = (index = 0) => JSON.parse(api.requests[index]!.body).attachments[0].content;

describe("teams", () => {
  it("posts an Adaptive Card with the message, the host counts, the failed hosts and a link to the job", async () => {
    api.requests.length = 0;
    api.responder = fakeTeams({ path: HOOK });
    const job = sampleJob({ status: "failed", host_status_counts: { ok: 2, failures: 3 }, host_names: { ok: ["a", "b"], failures: ["web1", "web2"] } });
    const outcome = await teams.send(makeDelivery(configuration(), { subject: "Job #42 'deploy web' failed", body: METADATA, job, notificationId: "88" }));
    expect(outcome.notificationsSent).toBe(1);
    expect(outcome.recipients).not.toContain("0123456789abcdef0123456789abcdef");
    expect(api.requests[0]!.headers["idempotency-key"]).toBe("88");
    expect(card()).toMatchObject({
      type: "AdaptiveCard",
      body: [
        { type: "TextBlock", text: "Job #42 'deploy web' failed" },
        { type: "FactSet", facts: [
          { title: "Status", value: "failed" },
          { title: "Hosts ok", value: "2" },
          { title: "Hosts failures", value: "3" },
          { title: "Failed hosts", value: "web1, web2 and 1 more" },
        ] },
      ],
      actions: [{ type: "Action.OpenUrl", url: "https://awx.example.com/jobs/job/42" }],
    });
  });

  it("accepts a Workflows URL's 202, and sends a custom body that is a Teams message as it is", async () => {
    api.requests.length = 0;
    api.responder = fakeTeams({ path: HOOK, workflows: true });
    const own = { "@type": "MessageCard", text: "my own card" };
    await teams.send(makeDelivery(configuration(), { body: JSON.stringify(own) }));
    expect(JSON.parse(api.requests[0]!.body)).toEqual(own);
  });

  it("treats HTTP 200 with an error text as a failure: a throttled post is retried", async () => {
    api.responder = () => ({ status: 200, body: "Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=msgapi,cv=abc." });
    const throttled = await failure(teams.send(makeDelivery(configuration(), { body: METADATA })));
    expect(throttled).toBeInstanceOf(DeliveryError);
    expect(throttled!.message).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/webhookb2\/.*: Teams did not post the message: Microsoft Teams endpoint returned HTTP error 429/);
    expect(throttled!.message).not.toContain("0123456789abcdef0123456789abcdef");
    expect(throttled!.permanent).toBe(false);

    api.responder = () => ({ status: 200, body: "Webhook Bad Request - Null or empty event" });
    expect((await failure(teams.send(makeDelivery(configuration(), { body: METADATA }))))!.permanent).toBe(false);

    api.responder = () => ({ status: 200, body: "Summary or Text is required." });
    expect((await failure(teams.send(makeDelivery(configuration(), { body: METADATA }))))!.permanent).toBe(true);
  });

  it("reports HTTP 429 as retryable", async () => {
    api.responder = () => ({ status: 429, body: "Too many requests", headers: { "retry-after": "2" } });
    const error = await failure(teams.send(makeDelivery(configuration(), { body: METADATA })));
    expect(error!.message).toMatch(/HTTP 429: Too many requests$/);
    expect(error!.permanent).toBe(false);
  });
});
