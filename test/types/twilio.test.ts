import { beforeAll, describe, expect, it } from "vitest";
import { twilio, type TwilioConfiguration } from "../../src/types/twilio.js";
import { DeliveryError } from "../../src/types/type.js";
import { makeDelivery } from "../helpers/delivery.js";
import { fakeTwilio } from "../helpers/fakeApis.js";
import { HttpReceiver } from "../helpers/httpReceiver.js";

const SID = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN = "twilio-auth-token-secret-value";
let api: HttpReceiver;
beforeAll(async () => {
  api = await HttpReceiver.start();
});

function configuration(overrides: Partial<TwilioConfiguration> = {}): TwilioConfiguration {
  return { account_sid: SID, account_token: AUTH_TOKEN, from_number: "+15550000001", to_numbers: ["+15550000002"], api_url: api.url, ...overrides };
}

describe("twilio", () => {
  it("sends one form-encoded SMS per number with basic auth", async () => {
    api.requests.length = 0;
    api.responder = fakeTwilio({ accountSid: SID, authToken: AUTH_TOKEN });
    const outcome = await twilio.send(makeDelivery(
      configuration({ to_numbers: ["+15550000002", "+15550000003"] }),
      { subject: "Job #42 'deploy & test' successful", notificationId: "900" },
    ));
    expect(outcome).toEqual({ recipients: "+15550000002, +15550000003", notificationsSent: 2, deliveredTargets: ["+15550000002", "+15550000003"] });
    expect(api.requests).toHaveLength(2);
    for (const request of api.requests) {
      expect(request.method).toBe("POST");
      expect(request.url).toBe(`/2010-04-01/Accounts/${SID}/Messages.json`);
      expect(request.headers["content-type"]).toBe("application/x-www-form-urlencoded");
      expect(request.headers.authorization).toBe(`Basic ${Buffer.from(`${SID}:${AUTH_TOKEN}`).toString("base64")}`);
      expect(request.headers["idempotency-key"]).toBe("900");
    }
    expect(api.requests.map((r) => Object.fromEntries(new URLSearchParams(r.body)))).toEqual([
      { To: "+15550000002", From: "+15550000001", Body: "Job #42 'deploy & test' successful" },
      { To: "+15550000003", From: "+15550000001", Body: "Job #42 'deploy & test' successful" },
    ]);
  });

  it("on a partial failure keeps the numbers that got it, and the retry texts only the others", async () => {
    api.requests.length = 0;
    api.responder = fakeTwilio({ accountSid: SID, authToken: AUTH_TOKEN, invalidNumbers: ["+15550000003"] });
    const config = configuration({ to_numbers: ["+15550000002", "+15550000003", "+15550000004"] });
    const error = await twilio.send(makeDelivery(config)).then(() => null, (e: unknown) => e as DeliveryError);
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error!.message).toMatch(/^twilio: 1 of 3 targets failed: \+15550000003: POST .*: HTTP 400: .*21211/);
    expect(error!.deliveredTargets).toEqual(["+15550000002", "+15550000004"]);

    api.requests.length = 0;
    api.responder = fakeTwilio({ accountSid: SID, authToken: AUTH_TOKEN });
    const outcome = await twilio.send(makeDelivery(config, { deliveredTargets: error!.deliveredTargets }));
    expect(api.requests.map((r) => new URLSearchParams(r.body).get("To"))).toEqual(["+15550000003"]);
    expect(outcome.notificationsSent).toBe(3);
  });

  it("fails on a wrong token without showing it, and on any answer but 201", async () => {
    api.responder = fakeTwilio({ accountSid: SID, authToken: "the-real-one" });
    const refused = await twilio.send(makeDelivery(configuration())).then(() => null, (e: unknown) => e as DeliveryError);
    expect(refused!.message).toContain("HTTP 401");
    expect(refused!.message).not.toContain(AUTH_TOKEN);
    expect(refused!.message).not.toContain(Buffer.from(`${SID}:${AUTH_TOKEN}`).toString("base64"));

    api.responder = () => ({ status: 200, body: "{}" });
    const unexpected = await twilio.send(makeDelivery(configuration())).then(() => null, (e: unknown) => e as DeliveryError);
    expect(unexpected!.message).toMatch(/expected HTTP 201 from the Messages API, got 200$/);
  });
});
