import { DEFAULT_JSON_BODY, DEFAULT_MESSAGE } from "../render/defaults.js";
import { declareKeys, fromKeys, TIMEOUT_KEY, type ConfigurationOf } from "./keys.js";
import { httpRequest, urlUnder } from "./http.js";
import { DeliveryError, type NotificationType } from "./type.js";

/** PagerDuty's Events API; `api_url` overrides it (tests, proxies, the EU service region). */
export const PAGERDUTY_API_URL = "https://events.pagerduty.com";
/** The Events API v2 caps a summary at this many characters. */
const MAX_SUMMARY_CHARS = 1024;

const keys = declareKeys({
  /** AWX's account subdomain and REST API token: kept for AWX templates, unused by Events API v2. */
  subdomain: { type: "string", required: true },
  token: { type: "string", required: true, secret: true },
  /** The integration's routing key ("Integration Key"). */
  service_key: { type: "string", required: true, secret: true },
  /** Sent as the event's client and source. */
  client_name: { type: "string", required: true },
  api_url: { type: "string", default: PAGERDUTY_API_URL },
  timeout: TIMEOUT_KEY,
});

export type PagerdutyConfiguration = ConfigurationOf<typeof keys>;

/**
 * PagerDuty (AWX's pagerduty type) through the Events API v2: one `trigger` event per
 * notification. Its dedup_key is the notification's own id (one per job, template and trigger),
 * so a retry or a duplicate send updates the same alert instead of opening another incident.
 * Summary = the message; custom details = the body (parsed when it is JSON, by default the job
 * metadata). Severity is `error` for the error trigger, `info` otherwise. Success is 202.
 */
export const pagerduty: NotificationType<PagerdutyConfiguration> = {
  name: "pagerduty",
  ...fromKeys(keys),
  defaultMessages: { message: DEFAULT_MESSAGE, body: DEFAULT_JSON_BODY },
  bodyFormat: "text",
  async send(delivery) {
    const config = delivery.configuration;
    const response = await httpRequest({
      notificationId: delivery.notificationId,
      method: "POST",
      url: urlUnder(config.api_url ?? PAGERDUTY_API_URL, "/v2/enqueue"),
      json: {
        routing_key: config.service_key,
        event_action: "trigger",
        dedup_key: pagerdutyDedupKey(delivery.job.id, delivery.notificationId),
        client: config.client_name,
        payload: {
          summary: delivery.subject.slice(0, MAX_SUMMARY_CHARS),
          source: config.client_name,
          severity: delivery.trigger === "error" ? "error" : "info",
          custom_details: parsedOrText(delivery.body),
        },
      },
      secrets: [config.service_key, config.token],
      signal: delivery.signal,
    });
    if (response.status !== 202) {
      throw new DeliveryError(`POST ${response.displayUrl}: expected HTTP 202 from the Events API, got ${response.status}`);
    }
    return { recipients: `PagerDuty service ${config.client_name}`, notificationsSent: 1, deliveredTargets: [] };
  },
};

/** Stable for one notification row: every attempt and re-send of it names the same alert. */
export function pagerdutyDedupKey(jobId: number, notificationId: string): string {
  return `pg-job-notifier-job-${jobId}-notification-${notificationId}`;
}

function parsedOrText(body: string | null): unknown {
  if (body === null || body === "") return {};
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}
