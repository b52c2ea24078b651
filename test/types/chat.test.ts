import { beforeAll, describe, expect, it } from "vitest";
import { mattermost } from "../../src/types/mattermost.js";
import { rocketchat } from "../../src/types/rocketchat.js";
import { DeliveryError } from "../../src/types/type.js";
import { makeDelivery } from "../helpers/delivery.js";
import { fakeChatWebhook } from "../helpers/fakeApis.js";
import { HttpReceiver } from "../helpers/httpReceiver.js";

// Incoming webhooks carry their secret in the path: it must not show in errors.
const MATTERMOST_HOOK = "/hooks/x8kqz1p9w7bq3f5n1r2t4y6u8i";
const ROCKETCHAT_HOOK = "/hooks/6Hq2Xy9a8Zb7Cc6D/aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3";
let api: HttpReceiver;
beforeAll(async () => {
  api = await HttpReceiver.start();
});

describe("mattermost", () => {
  it("posts {text, channel, username, icon_url} to the incoming webhook", async () => {
    api.requests.length = 0;
    api.responder = fakeChatWebhook({ path: MATTERMOST_HOOK, success: { status: 200, body: "ok" } });
    const outcome = await mattermost.send(makeDelivery({
      mattermost_url: `${api.url}${MATTERMOST_HOOK}`,
      mattermost_channel: "town-square",
      mattermost_username: "awx",
      mattermost_icon_url: "https://example.com/awx.png",
    }, { subject: "Job #42 'deploy web' successful", notificationId: "12" }));
    expect(outcome.notificationsSent).toBe(1);
    expect(outcome.recipients).not.toContain("x8kqz1p9w7bq3f5n1r2t4y6u8i");
    expect(api.requests[0]!.headers["idempotency-key"]).toBe("12");
    expect(JSON.parse(api.requests[0]!.body)).toEqual({
      text: "Job #42 'deploy web' successful", channel: "town-square", username: "awx", icon_url: "https://example.com/awx.png",
    });
  });

  it("omits what is not set, and reports a failure without the hook's secret", async () => {
    api.requests.length = 0;
    api.responder = fakeChatWebhook({ path: MATTERMOST_HOOK, success: { status: 200, body: "ok" } });
    await mattermost.send(makeDelivery({ mattermost_url: `${api.url}${MATTERMOST_HOOK}`, mattermost_channel: null }, { subject: "bare" }));
    expect(JSON.parse(api.requests[0]!.body)).toEqual({ text: "bare" });

    api.responder = () => ({ status: 500, body: "internal error" });
    const error = await mattermost.send(makeDelivery({ mattermost_url: `${api.url}${MATTERMOST_HOOK}` }))
      .then(() => null, (e: unknown) => e as DeliveryError);
    expect(error!.message).toMatch(/HTTP 500: internal error$/);
    expect(error!.message).not.toContain("x8kqz1p9w7bq3f5n1r2t4y6u8i");
  });
});

describe("rocketchat", () => {
  it("posts {text, username, icon_url} to the incoming webhook", async () => {
    api.requests.length = 0;
    api.responder = fakeChatWebhook({ path: ROCKETCHAT_HOOK, success: { status: 200, body: '{"success":true}' } });
    await rocketchat.send(makeDelivery({
      rocketchat_url: `${api.url}${ROCKETCHAT_HOOK}`, rocketchat_username: "awx", rocketchat_icon_url: "https://example.com/awx.png",
    }, { subject: "Job #42 'deploy web' successful" }));
    expect(JSON.parse(api.requests[0]!.body)).toEqual({
      text: "Job #42 'deploy web' successful", username: "awx", icon_url: "https://example.com/awx.png",
    });
  });

  it("fails on an unknown hook, without its token in the error", async () => {
    api.responder = fakeChatWebhook({ path: ROCKETCHAT_HOOK, success: { status: 200, body: "{}" } });
    const error = await rocketchat.send(makeDelivery({ rocketchat_url: `${api.url}/hooks/wrong/aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3` }))
      .then(() => null, (e: unknown) => e as DeliveryError);
    expect(error!.message).toContain("HTTP 404");
    expect(error!.message).not.toContain("aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3");
  });
});
