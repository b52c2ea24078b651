import type { JobSnapshot } from "../job.js";
import { DEFAULT_JSON_BODY, DEFAULT_MESSAGE } from "../render/defaults.js";
import { displayUrl, excerpt, httpRequest } from "./http.js";
import { declareKeys, fromKeys, TIMEOUT_KEY, type ConfigurationOf } from "./keys.js";
import { DeliveryError, type NotificationType } from "./type.js";

const keys = declareKeys({
  /** The incoming webhook or Workflows URL: it carries its token (signature) in the URL. */
  teams_url: { type: "string", required: true, secret: true },
  timeout: TIMEOUT_KEY,
});

export type TeamsConfiguration = ConfigurationOf<typeof keys>;

/** Host buckets shown as facts, in AWX's order. */
const SHOWN_BUCKETS = ["ok", "changed", "failures", "dark", "skipped"] as const;

/** Words in a Teams error text that mean the same request would fail again. */
const PERMANENT_ANSWER = /summary or text is required|bad payload|invalid|not found|disabled|forbidden|unauthori[sz]ed/i;

/**
 * Microsoft Teams (an incoming webhook or a Workflows "post to a channel when a webhook request
 * is received" URL): POSTs an Adaptive Card with the message, the job's host counts and a button
 * to the job (the URL comes from the body, by default the job metadata); a custom body
 * that is itself a Teams message (a JSON object with `attachments` or `@type`) is sent as is.
 *
 * Teams answers like Slack: an incoming webhook says HTTP 200 with "1" when it posted, but also
 * HTTP 200 with an error text when it did not (a throttled or refused post); Workflows answer
 * 202. Any other 2xx text is a failure, retried unless it names a payload or URL problem.
 */
export const teams: NotificationType<TeamsConfiguration> = {
  name: "teams",
  ...fromKeys(keys),
  defaultMessages: { message: DEFAULT_MESSAGE, body: DEFAULT_JSON_BODY },
  bodyFormat: "text",
  async send(delivery) {
    const config = delivery.configuration;
    const parsed = parseObject(delivery.body);
    const payload = parsed && ("attachments" in parsed || "@type" in parsed) ? parsed : teamsCard(delivery.subject, parsed, delivery.job);
    const response = await httpRequest({
      notificationId: delivery.notificationId,
      method: "POST",
      url: config.teams_url,
      json: payload,
      signal: delivery.signal,
    });
    const answer = response.body.trim();
    if (response.status === 202 || answer === "" || answer === "1") {
      return { recipients: displayUrl(config.teams_url), notificationsSent: 1, deliveredTargets: [] };
    }
    throw new DeliveryError(`POST ${response.displayUrl}: Teams did not post the message: ${excerpt(answer)}`, {
      permanent: PERMANENT_ANSWER.test(answer) && !/429|throttl|too many/i.test(answer),
    });
  },
};

/**
 * The Adaptive Card: the message as the title, facts (status, host counts per bucket, the failed
 * and unreachable hosts) and an "Open the job" button when the metadata has the job's URL.
 */
export function teamsCard(message: string, metadata: Record<string, unknown> | null, job: JobSnapshot): Record<string, unknown> {
  const facts: { title: string; value: string }[] = [{ title: "Status", value: job.status }];
  const counts = job.host_status_counts ?? {};
  for (const bucket of SHOWN_BUCKETS) {
    const count = counts[bucket];
    if (typeof count === "number") facts.push({ title: `Hosts ${bucket}`, value: String(count) });
  }
  for (const [bucket, title] of [["failures", "Failed hosts"], ["dark", "Unreachable hosts"]] as const) {
    const names = job.host_names?.[bucket] ?? [];
    const omitted = (counts[bucket] ?? 0) - names.length;
    if (names.length > 0) facts.push({ title, value: names.join(", ") + (omitted > 0 ? ` and ${omitted} more` : "") });
  }
  const url = typeof metadata?.url === "string" && /^https?:\/\//.test(metadata.url) ? metadata.url : null;
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body: [
            { type: "TextBlock", text: message, wrap: true, weight: "Bolder" },
            { type: "FactSet", facts },
          ],
          ...(url ? { actions: [{ type: "Action.OpenUrl", title: "Open the job", url }] } : {}),
        },
      },
    ],
  };
}

function parseObject(body: string | null): Record<string, unknown> | null {
  if (!body) return null;
  try {
    const parsed: unknown = JSON.parse(body);
    return isObject(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
