import { DEFAULT_SLACK_MESSAGE } from "../render/defaults.js";
import { declareKeys, fromKeys, TIMEOUT_KEY, type ConfigurationOf } from "./keys.js";
import { excerpt, httpRequest, urlUnder } from "./http.js";
import { deliverToEachTarget } from "./targets.js";
import { DeliveryError, type NotificationType } from "./type.js";

/** Slack's Web API; `api_url` overrides it (tests, proxies, Enterprise Grid gateways). */
export const SLACK_API_URL = "https://slack.com/api";

const keys = declareKeys({
  token: { type: "string", required: true, secret: true },
  /** Channel names or IDs; `"channel,thread_ts"` replies in that thread. */
  channels: { type: "list", required: true },
  /** With a color (#rgb or #rrggbb), the message goes in an attachment of that color (AWX). */
  hex_color: { type: "string" },
  api_url: { type: "string", default: SLACK_API_URL },
  timeout: TIMEOUT_KEY,
});

export type SlackConfiguration = ConfigurationOf<typeof keys>;

/** Slack errors that the same request meets again on every retry. */
const PERMANENT_ERRORS = new Set([
  "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed", "account_inactive",
  "token_revoked", "token_expired", "no_permission", "missing_scope", "msg_too_long", "invalid_arguments",
]);

/**
 * Slack (AWX's slack type): chat.postMessage once per channel, with the bot token.
 *
 * A plain POST through the shared HTTP helper rather than @slack/web-api: one method is all it
 * needs, and the SDK brings its own HTTP stack and its own retries (and rate-limit waits) that
 * would escape the attempt's AbortSignal, the Idempotency-Key and the service's backoff.
 */
export const slack: NotificationType<SlackConfiguration> = {
  name: "slack",
  ...fromKeys(keys),
  defaultMessages: { message: DEFAULT_SLACK_MESSAGE, body: null },
  bodyFormat: "text",
  async send(delivery) {
    const config = delivery.configuration;
    const endpoint = urlUnder(config.api_url ?? SLACK_API_URL, "/chat.postMessage");
    // As AWX: anything but a hex color (often "") means no attachment.
    const color = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(config.hex_color ?? "") ? config.hex_color : null;
    return deliverToEachTarget({
      type: "slack",
      targets: config.channels,
      delivery,
      send: async (entry) => {
        const [channelPart = "", thread] = entry.split(",", 2).map((part) => part.trim());
        // AWX strips the leading "#": Slack takes channel names without it, or channel IDs.
        const channel = channelPart.replace(/^#/, "");
        const response = await httpRequest({
          notificationId: delivery.notificationId,
          method: "POST",
          url: endpoint,
          bearerToken: config.token,
          json: {
            channel,
            ...(thread ? { thread_ts: thread } : {}),
            ...(color
              ? { attachments: [{ color, text: delivery.subject }] }
              : { text: delivery.subject }),
          },
          signal: delivery.signal,
        });
        // Slack reports failures as HTTP 200 with {"ok": false, "error": "..."}.
        let answer: { ok?: unknown; error?: unknown };
        try {
          answer = JSON.parse(response.body) as typeof answer;
        } catch {
          throw new DeliveryError(`chat.postMessage: not a Slack API answer: ${excerpt(response.body)}`);
        }
        if (answer.ok !== true) {
          const error = typeof answer.error === "string" ? answer.error : "unknown_error";
          throw new DeliveryError(`chat.postMessage: ${error}`, { permanent: PERMANENT_ERRORS.has(error) });
        }
      },
    });
  },
};
