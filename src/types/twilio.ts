import { DEFAULT_MESSAGE } from "../render/defaults.js";
import { declareKeys, fromKeys, TIMEOUT_KEY, type ConfigurationOf } from "./keys.js";
import { httpRequest, urlUnder } from "./http.js";
import { deliverToEachTarget } from "./targets.js";
import { DeliveryError, type NotificationType } from "./type.js";

/** Twilio's REST API; `api_url` overrides it (tests, proxies, regional edges). */
export const TWILIO_API_URL = "https://api.twilio.com";

const keys = declareKeys({
  account_sid: { type: "string", required: true },
  account_token: { type: "string", required: true, secret: true },
  from_number: { type: "string", required: true },
  to_numbers: { type: "list", required: true },
  api_url: { type: "string", default: TWILIO_API_URL },
  timeout: TIMEOUT_KEY,
});

export type TwilioConfiguration = ConfigurationOf<typeof keys>;

/**
 * Twilio (AWX's twilio type): one SMS per number through the Messages API (form-encoded
 * To/From/Body, basic auth account_sid:account_token); success is 201. Numbers an earlier
 * attempt reached are skipped.
 */
export const twilio: NotificationType<TwilioConfiguration> = {
  name: "twilio",
  ...fromKeys(keys),
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
