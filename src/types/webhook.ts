import { z } from "zod";
import { DEFAULT_JSON_BODY, DEFAULT_MESSAGE } from "../render/defaults.js";
import { requiredText, timeoutSeconds } from "./configuration.js";
import { displayUrl, httpRequest } from "./http.js";
import type { NotificationType } from "./type.js";

/** Keys as notifier.notification_type_keys lists them for 'webhook' (AWX's names). */
const configurationSchema = z
  .object({
    url: requiredText,
    // Optional keys may also be JSON null, as SQL treats null as absent.
    http_method: z.enum(["POST", "PUT"]).nullish(),
    // SQL accepts any JSON object; scalar values are sent as their text.
    headers: z.record(z.union([z.string(), z.number(), z.boolean()])).nullish(),
    username: z.string().nullish(),
    password: z.string().nullish(),
    disable_ssl_verification: z.boolean().nullish(),
    timeout: timeoutSeconds,
  })
  .strict();

export type WebhookConfiguration = z.infer<typeof configurationSchema>;

/** POSTs (or PUTs) the rendered body, by default the job metadata, as JSON to `url`. */
export const webhook: NotificationType<WebhookConfiguration> = {
  name: "webhook",
  configurationSchema,
  secretKeys: ["password"],
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
