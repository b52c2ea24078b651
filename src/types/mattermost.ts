import { z } from "zod";
import { DEFAULT_MESSAGE } from "../render/defaults.js";
import { requiredText, timeoutSeconds } from "./configuration.js";
import { displayUrl, httpRequest } from "./http.js";
import type { NotificationType } from "./type.js";

const configurationSchema = z.object({
  /** The incoming webhook URL (it carries its secret in the path, masked in errors). */
  mattermost_url: requiredText,
  mattermost_no_verify_ssl: z.boolean().nullish(),
  mattermost_channel: z.string().nullish(),
  mattermost_username: z.string().nullish(),
  mattermost_icon_url: z.string().nullish(),
  timeout: timeoutSeconds,
}).strict();

export type MattermostConfiguration = z.infer<typeof configurationSchema>;

/** Mattermost (AWX's mattermost type): POSTs {text, channel, username, icon_url} to the incoming webhook. */
export const mattermost: NotificationType<MattermostConfiguration> = {
  name: "mattermost",
  configurationSchema,
  secretKeys: [],
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
