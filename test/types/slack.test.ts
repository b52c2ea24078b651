import { beforeAll, describe, expect, it } from "vitest";
import { slack, type SlackConfiguration } from "../../src/types/slack.js";
import { DeliveryError } from "../../src/types/type.js";
import { makeDelivery } from "../helpers/delivery.js";
import { fakeSlack } from "../helpers/fakeApis.js";
import { HttpReceiver } from "../helpers/httpReceiver.js";

const TOKEN = "xoxb-1111-2222-slack-secret-token";
let api: HttpReceiver;
beforeAll(async () => {
  api = await HttpReceiver.start();
});

function configuration(overrides: Partial<SlackConfiguration> = {}): SlackConfiguration {
  return { token: TOKEN, channels: ["#ops"], api_url: `${api.url}/api`, ...overrides };
}

const failure = (promise: Promise<unknown>) => promise.then(() => null, (error: unknown) => error as DeliveryError);

describe("slack", () => {
  it("posts chat.postMessage to each channel with the bot token, in a thread or an attachment when asked", async () => {
    api.requests.length = 0;
    api.responder = fakeSlack({ token: TOKEN });
    const outcome = await slack.send(makeDelivery(
      configuration({ channels: ["#ops", "C0DEV,1767225600.000100"] }),
      { subject: "Job #42 'deploy web' successful", notificationId: "77" },
    ));
    expect(outcome).toEqual({ recipients: "#ops, C0DEV,1767225600.000100", notificationsSent: 2, deliveredTargets: ["#ops", "C0DEV,1767225600.000100"] });
    expect(api.requests.map((r) => JSON.parse(r.body))).toEqual([
      { channel: "ops", text: "Job #42 'deploy web' successful" },
      { channel: "C0DEV", thread_ts: "1767225600.000100", text: "Job #42 'deploy web' successful" },
    ]);
    expect(api.requests.every((r) => r.headers["idempotency-key"] === "77")).toBe(true);

    api.requests.length = 0;
    await slack.send(makeDelivery(configuration({ hex_color: "#ff0000" }), { subject: "colored" }));
    expect(JSON.parse(api.requests[0]!.body)).toEqual({ channel: "ops", attachments: [{ color: "#ff0000", text: "colored" }] });

    // As AWX, a value that is not a hex color (AWX templates often have "") means plain text.
    api.requests.length = 0;
    await slack.send(makeDelivery(configuration({ hex_color: "" }), { subject: "plain" }));
    expect(JSON.parse(api.requests[0]!.body)).toEqual({ channel: "ops", text: "plain" });
  });

  it("treats HTTP 200 with ok: false as a failure and retries only the channels that failed", async () => {
    api.requests.length = 0;
    api.responder = fakeSlack({ token: TOKEN, missingChannels: ["gone"] });
    const config = configuration({ channels: ["#ops", "#gone", "#dev"] });
    const error = await failure(slack.send(makeDelivery(config)));
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error!.message).toBe("slack: 1 of 3 targets failed: #gone: chat.postMessage: channel_not_found");
    expect(error!.deliveredTargets).toEqual(["#ops", "#dev"]);
    expect(error!.permanent).toBe(true);

    // The channel is created; the retry goes to it alone.
    api.requests.length = 0;
    api.responder = fakeSlack({ token: TOKEN });
    const outcome = await slack.send(makeDelivery(config, { deliveredTargets: error!.deliveredTargets }));
    expect(api.requests.map((r) => JSON.parse(r.body).channel)).toEqual(["gone"]);
    expect(outcome).toEqual({ recipients: "#ops, #gone, #dev", notificationsSent: 3, deliveredTargets: ["#ops", "#dev", "#gone"] });
  });

  it("reports a rate limit or server error as retryable", async () => {
    api.responder = () => ({ status: 429, body: "ratelimited", headers: { "retry-after": "1" } });
    const error = await failure(slack.send(makeDelivery(configuration())));
    expect(error!.message).toMatch(/^slack: 1 of 1 targets failed: #ops: POST http:\/\/127\.0\.0\.1:\d+\/api\/chat\.postMessage: HTTP 429: ratelimited$/);
    expect(error!.permanent).toBe(false);
    expect(error!.deliveredTargets).toEqual([]);
  });

  it("never shows the token in an error, even when the server echoes it", async () => {
    api.responder = fakeSlack({ token: "another-token" });
    const refused = await failure(slack.send(makeDelivery(configuration())));
    expect(refused!.message).toContain("invalid_auth");
    expect(refused!.message).not.toContain(TOKEN);

    api.responder = (request) => ({ status: 500, body: `bad header: ${request.headers.authorization}` });
    const echoed = await failure(slack.send(makeDelivery(configuration())));
    expect(echoed!.message).toContain("HTTP 500: bad header: Bearer ***");
    expect(echoed!.message).not.toContain(TOKEN);
  });
});
