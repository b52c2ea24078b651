import { beforeAll, describe, expect, it } from "vitest";
import { pagerduty, type PagerdutyConfiguration } from "../../src/types/pagerduty.js";
import { DeliveryError } from "../../src/types/type.js";
import { makeDelivery, sampleJob } from "../helpers/delivery.js";
import { fakePagerduty } from "../helpers/fakeApis.js";
import { HttpReceiver } from "../helpers/httpReceiver.js";

const ROUTING_KEY = "R0UT1NGKEY0123456789abcdefabcdef";
const TOKEN = "pd-rest-api-token-secret";
let api: HttpReceiver;
beforeAll(async () => {
  api = await HttpReceiver.start();
});

function configuration(overrides: Partial<PagerdutyConfiguration> = {}): PagerdutyConfiguration {
  return { subdomain: "acme", token: TOKEN, service_key: ROUTING_KEY, client_name: "awx-prod", api_url: api.url, ...overrides };
}

describe("pagerduty", () => {
  it("enqueues an Events API v2 trigger with the message, the metadata as details and a stable dedup_key", async () => {
    api.requests.length = 0;
    api.responder = fakePagerduty({ routingKey: ROUTING_KEY });
    const body = JSON.stringify({ id: 42, name: "deploy web", status: "failed" });
    const delivery = makeDelivery(configuration(), {
      notificationId: "501", trigger: "error", subject: "Job #42 'deploy web' failed", body, job: sampleJob({ status: "failed" }),
    });
    const outcome = await pagerduty.send(delivery);
    // The same row again (a retry, or a duplicate send): the same dedup_key, so one incident.
    await pagerduty.send(delivery);

    expect(outcome.notificationsSent).toBe(1);
    const [first, second] = api.requests;
    expect(first!.method).toBe("POST");
    expect(first!.url).toBe("/v2/enqueue");
    expect(first!.headers["idempotency-key"]).toBe("501");
    expect(JSON.parse(first!.body)).toEqual({
      routing_key: ROUTING_KEY,
      event_action: "trigger",
      dedup_key: "pg-job-notifier-job-42-notification-501",
      client: "awx-prod",
      payload: {
        summary: "Job #42 'deploy web' failed",
        source: "awx-prod",
        severity: "error",
        custom_details: { id: 42, name: "deploy web", status: "failed" },
      },
    });
    expect(second!.body).toBe(first!.body);
  });

  it("sends info severity for other triggers and a text body as it is", async () => {
    api.requests.length = 0;
    api.responder = fakePagerduty({ routingKey: ROUTING_KEY });
    await pagerduty.send(makeDelivery(configuration(), { trigger: "started", body: "plain words" }));
    const event = JSON.parse(api.requests[0]!.body);
    expect(event.payload.severity).toBe("info");
    expect(event.payload.custom_details).toBe("plain words");
  });

  it("fails on anything but 202, keeping the routing key and token out of the error", async () => {
    api.responder = fakePagerduty({ routingKey: "some-other-key" });
    const invalid = await pagerduty.send(makeDelivery(configuration())).then(() => null, (e: unknown) => e as DeliveryError);
    expect(invalid).toBeInstanceOf(DeliveryError);
    expect(invalid!.message).toMatch(/HTTP 400: .*routing_key' is invalid/);

    // A hostile or broken server echoing the request: still no secret.
    api.responder = (request) => ({ status: 400, body: request.body });
    const echoed = await pagerduty.send(makeDelivery(configuration())).then(() => null, (e: unknown) => e as DeliveryError);
    expect(echoed!.message).toContain("HTTP 400");
    expect(echoed!.message).not.toContain(ROUTING_KEY);

    api.responder = () => ({ status: 200, body: "{}" });
    const unexpected = await pagerduty.send(makeDelivery(configuration())).then(() => null, (e: unknown) => e as DeliveryError);
    expect(unexpected!.message).toMatch(/expected HTTP 202 from the Events API, got 200$/);
  });
});
