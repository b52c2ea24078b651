import { DEFAULT_JSON_BODY, DEFAULT_MESSAGE } from "../render/defaults.js";
import { declareKeys, fromKeys, TIMEOUT_KEY, type ConfigurationOf } from "./keys.js";
import { displayUrl, httpRequest, urlUnder } from "./http.js";
import type { NotificationType } from "./type.js";

const keys = declareKeys({
  grafana_url: { type: "string", required: true },
  /** A service account token (or legacy API key) allowed to write annotations. */
  grafana_key: { type: "string", required: true, secret: true },
  dashboardId: { type: "integer" },
  panelId: { type: "integer" },
  annotation_tags: { type: "list" },
  grafana_no_verify_ssl: { type: "boolean", default: false },
  /** Annotate the run as a region from start to finish (AWX's default) or one point in time. */
  isRegion: { type: "boolean", default: true },
  timeout: TIMEOUT_KEY,
});

export type GrafanaConfiguration = ConfigurationOf<typeof keys>;

/**
 * Grafana (AWX's grafana type): an annotation through POST {grafana_url}/api/annotations with
 * the key as a Bearer token. Its text is the message; it spans the job's run: `started` and
 * `finished` of the body when it is a JSON object that has them (the default body, the job
 * metadata, does — as in AWX), else the job's own times; an unfinished job ends where it began.
 */
export const grafana: NotificationType<GrafanaConfiguration> = {
  name: "grafana",
  ...fromKeys(keys),
  defaultMessages: { message: DEFAULT_MESSAGE, body: DEFAULT_JSON_BODY },
  bodyFormat: "text",
  async send(delivery) {
    const config = delivery.configuration;
    const times = bodyTimes(delivery.body);
    const time = epochMs(times.started ?? delivery.job.started_at) ?? epochMs(delivery.job.created_at) ?? Date.now();
    const timeEnd = epochMs(times.finished ?? delivery.job.finished_at) ?? time;
    await httpRequest({
      notificationId: delivery.notificationId,
      method: "POST",
      url: urlUnder(config.grafana_url, "/api/annotations"),
      bearerToken: config.grafana_key,
      json: {
        time,
        timeEnd,
        isRegion: config.isRegion ?? true,
        ...(config.dashboardId != null ? { dashboardId: config.dashboardId } : {}),
        ...(config.panelId != null ? { panelId: config.panelId } : {}),
        tags: config.annotation_tags ?? [],
        text: delivery.subject,
      },
      verifyTls: !config.grafana_no_verify_ssl,
      signal: delivery.signal,
    });
    return { recipients: displayUrl(config.grafana_url), notificationsSent: 1, deliveredTargets: [] };
  },
};

function bodyTimes(body: string | null): { started?: unknown; finished?: unknown } {
  try {
    const parsed: unknown = body ? JSON.parse(body) : null;
    return typeof parsed === "object" && parsed !== null ? (parsed as { started?: unknown; finished?: unknown }) : {};
  } catch {
    return {};
  }
}

function epochMs(value: unknown): number | null {
  if (typeof value !== "string" || value === "") return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}
