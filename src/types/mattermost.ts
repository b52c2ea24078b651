import { DEFAULT_MESSAGE } from "../render/defaults.js";
import { declareKeys, fromKeys, TIMEOUT_KEY, type ConfigurationOf } from "./keys.js";
import { displayUrl, httpRequest } from "./http.js";
import type { NotificationType } from "./type.js";

const keys = declareKeys({
  /** The incoming webhook URL: it carries its secret in the path. */
  mattermost_url: { type: "string", required: true, secret: true },
  mattermost_no_verify_ssl: { type: "boolean", default: false },
  mattermost_channel: { type: "string" },
  mattermost_username: { type: "string" },
  mattermost_icon_url: { type: "string" },
  timeout: TIMEOUT_KEY,
});

export type MattermostConfiguration = ConfigurationOf<typeof keys>;

/** Mattermost (AWX's mattermost type): POSTs {text, channel, username, icon_url} to the incoming webhook. */
export const mattermost: NotificationType<MattermostConfiguration> = {
  name: "mattermost",
  ...fromKeys(keys),
  defaultMessages: { message: DEFAULT_MESSAGE, body: null },
  bodyFormat: "text",
  async send(delivery) {
    const config = delivery.configuration;
    await httpRequest({
      notificationId: delivery.notificationId,
      method: "POST",
      url: config.mattermost_url,
      json: {
        text: delivery.subject,
        ...(config.mattermost_channel ? { channel: config.mattermost_channel } : {}),
        ...(config.mattermost_username ? { username: config.mattermost_username } : {}),
        ...(config.mattermost_icon_url ? { icon_url: config.mattermost_icon_url } : {}),
      },
      verifyTls: !config.mattermost_no_verify_ssl,
      signal: delivery.signal,
    });
    return { recipients: displayUrl(config.mattermost_url), notificationsSent: 1, deliveredTargets: [] };
  },
};
