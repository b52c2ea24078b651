import { DEFAULT_JSON_BODY, DEFAULT_MESSAGE } from "../render/defaults.js";
import { declareKeys, fromKeys, TIMEOUT_KEY, type ConfigurationOf } from "./keys.js";
import { displayUrl, httpRequest } from "./http.js";
import type { NotificationType } from "./type.js";

/** AWX's webhook keys. */
const keys = declareKeys({
  url: { type: "string", required: true },
  http_method: { type: "string", enumeration: ["POST", "PUT"], default: "POST" },
  /** Scalar values are sent as their text. */
  headers: { type: "object" },
  username: { type: "string" },
  password: { type: "string", secret: true },
  disable_ssl_verification: { type: "boolean", default: false },
  timeout: TIMEOUT_KEY,
});

export type WebhookConfiguration = ConfigurationOf<typeof keys>;

/** POSTs (or PUTs) the rendered body, by default the job metadata, as JSON to `url`. */
export const webhook: NotificationType<WebhookConfiguration> = {
  name: "webhook",
  ...fromKeys(keys),
  defaultMessages: { message: DEFAULT_MESSAGE, body: DEFAULT_JSON_BODY },
  bodyFormat: "json",
  async send(delivery) {
    const { configuration } = delivery;
    const { username, password } = configuration;
    await httpRequest({
      notificationId: delivery.notificationId,
      method: configuration.http_method ?? "POST",
      url: configuration.url,
      jsonText: delivery.body ?? JSON.stringify({ text: delivery.subject }),
      headers: Object.fromEntries(Object.entries(configuration.headers ?? {}).map(([name, value]) => [name, String(value)])),
      basicAuth: username || password ? { username: username ?? "", password: password ?? "" } : undefined,
      verifyTls: !configuration.disable_ssl_verification,
      signal: delivery.signal,
    });
    return { recipients: displayUrl(configuration.url), notificationsSent: 1, deliveredTargets: [] };
  },
};
