import { DEFAULT_MESSAGE } from "../render/defaults.js";
import { declareKeys, fromKeys, TIMEOUT_KEY, type ConfigurationOf } from "./keys.js";
import { displayUrl, httpRequest } from "./http.js";
import type { NotificationType } from "./type.js";

const keys = declareKeys({
  /** The incoming webhook URL: it carries its token in the path. */
  rocketchat_url: { type: "string", required: true, secret: true },
  rocketchat_no_verify_ssl: { type: "boolean", default: false },
  rocketchat_username: { type: "string" },
  rocketchat_icon_url: { type: "string" },
  timeout: TIMEOUT_KEY,
});

export type RocketchatConfiguration = ConfigurationOf<typeof keys>;

/** Rocket.Chat (AWX's rocketchat type): POSTs {text, username, icon_url} to the incoming webhook. */
export const rocketchat: NotificationType<RocketchatConfiguration> = {
  name: "rocketchat",
  ...fromKeys(keys),
  defaultMessages: { message: DEFAULT_MESSAGE, body: null },
  bodyFormat: "text",
  async send(delivery) {
    const config = delivery.configuration;
    await httpRequest({
      notificationId: delivery.notificationId,
      method: "POST",
      url: config.rocketchat_url,
      json: {
        text: delivery.subject,
        ...(config.rocketchat_username ? { username: config.rocketchat_username } : {}),
        ...(config.rocketchat_icon_url ? { icon_url: config.rocketchat_icon_url } : {}),
      },
      verifyTls: !config.rocketchat_no_verify_ssl,
      signal: delivery.signal,
    });
    return { recipients: displayUrl(config.rocketchat_url), notificationsSent: 1, deliveredTargets: [] };
  },
};
