import { z } from "zod";
import { DEFAULT_MESSAGE } from "../render/defaults.js";
import { requiredList, requiredText, timeoutSeconds } from "./configuration.js";
import { httpRequest, urlUnder } from "./http.js";
import { deliverToEachTarget } from "./targets.js";
import { DeliveryError, type NotificationType } from "./type.js";

/** Twilio's REST API; `api_url` overrides it (tests, proxies, regional edges). */
export const TWILIO_API_URL = "https://api.twilio.com";

const configurationSchema = z.object({
  account_sid: requiredText,
  account_token: requiredText,
  from_number: requiredText,
  to_numbers: requiredList,
  api_url: z.string().nullish(),
  timeout: timeoutSeconds,
}).strict();

export type TwilioConfiguration = z.infer<typeof configurationSchema>;

/**
 * Twilio (AWX's twilio type): one SMS per number through the Messages API (form-encoded
 * To/From/Body, basic auth account_sid:account_token); success is 201. Numbers an earlier
 * attempt reached are skipped.
 */
export const twilio: NotificationType<TwilioConfiguration> = {
  name: "twilio",
  configurationSchema,
  secretKeys: ["account_token"],
  defaultMessages: { message: DEFAULT_MESSAGE, body: null },
  bodyFormat: "text",
  async send(delivery) {
    const config = delivery.configuration;
    const endpoint = urlUnder(config.api_url ?? TWILIO_API_URL, `/2010-04-01/Accounts/${encodeURIComponent(config.account_sid)}/Messages.json`);
    return deliverToEachTarget({
      type: "twilio",
      targets: config.to_numbers,
      delivery,
      send: async (number) => {
        const response = await httpRequest({
          notificationId: delivery.notificationId,
          method: "POST",
          url: endpoint,
          form: { To: number, From: config.from_number, Body: delivery.subject },
          basicAuth: { username: config.account_sid, password: config.account_token },
          signal: delivery.signal,
        });
        if (response.status !== 201) {
          throw new DeliveryError(`POST ${response.displayUrl}: expected HTTP 201 from the Messages API, got ${response.status}`);
        }
      },
    });
  },
};
