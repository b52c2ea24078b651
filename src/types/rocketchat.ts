import { z } from "zod";
import { DEFAULT_MESSAGE } from "../render/defaults.js";
import { requiredText, timeoutSeconds } from "./configuration.js";
import { displayUrl, httpRequest } from "./http.js";
import type { NotificationType } from "./type.js";

const configurationSchema = z.object({
  /** The incoming webhook URL (it carries its token in the path, masked in errors). */
  rocketchat_url: requiredText,
  rocketchat_no_verify_ssl: z.boolean().nullish(),
  rocketchat_username: z.string().nullish(),
  rocketchat_icon_url: z.string().nullish(),
  timeout: timeoutSeconds,
}).strict();

export type RocketchatConfiguration = z.infer<typeof configurationSchema>;

/** Rocket.Chat (AWX's rocketchat type): POSTs {text, username, icon_url} to the incoming webhook. */
export const rocketchat: NotificationType<RocketchatConfiguration> = {
  name: "rocketchat",
  configurationSchema,
  secretKeys: [],
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
