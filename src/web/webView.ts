import type http from "node:http";
import type { CommonQueryMethods } from "../db.js";
import { listJobNotifications } from "../sql/listJobNotifications.js";
import { listRecentJobs } from "../sql/listRecentJobs.js";
import { listTemplatesWithTriggers } from "../sql/listTemplatesWithTriggers.js";
import { readHealth } from "../sql/readHealth.js";
import { retryNotifications } from "../sql/retryNotifications.js";
import { maskSecrets } from "../types/index.js";
import { NOTIFICATION_STATUSES, type NotificationStatus } from "../job.js";
import { pageQuery, renderPage } from "./page.js";

/** How many of the newest jobs the page lists when the URL does not say. */
export const DEFAULT_JOB_LIMIT = 50;
const MAX_JOB_LIMIT = 500;
const MAX_REFRESH_SECONDS = 3600;

/** Settings of the web view. */
export interface WebViewOptions {
  /** Reads the page's data and retries rows (the service's pool). */
  db: CommonQueryMethods;
  /** Jobs listed by default (`?limit=` may ask for up to 500). */
  jobLimit?: number;
}

/**
 * Answers one request when it is the web view's; resolves false for any other path. `url` is the
 * request's URL as the HTTP server parsed it (a RouteHandler).
 */
export type WebViewHandler = (request: http.IncomingMessage, response: http.ServerResponse, url: URL) => Promise<boolean>;

/**
 * The web view: `GET /` (recent jobs and their notifications, the templates; `?status=` filters,
 * `?refresh=N` reloads every N seconds, `?limit=N` lists more or fewer jobs)
 * and `POST /notifications/ID/retry` (a failed row back to pending, then back to the page).
 * Access control (loopback or token) is the HTTP server's, applied before this runs.
 */
export function createWebView(options: WebViewOptions): WebViewHandler {
  return async (request, response, url) => {
    if (url.pathname === "/" && (request.method === "GET" || request.method === "HEAD")) {
      await servePage(options, url, response);
      return true;
    }
    const retry = /^\/notifications\/(\d{1,18})\/retry$/.exec(url.pathname);
    if (retry && request.method === "POST") {
      await serveRetry(options, request, retry[1]!, url, response);
      return true;
    }
    return false;
  };
}

async function servePage(options: WebViewOptions, url: URL, response: http.ServerResponse): Promise<void> {
  const status = statusFilter(url.searchParams.get("status"));
  const requestedLimit = Number(url.searchParams.get("limit"));
  const limit = Number.isSafeInteger(requestedLimit) && requestedLimit > 0
    ? Math.min(requestedLimit, MAX_JOB_LIMIT)
    : options.jobLimit ?? DEFAULT_JOB_LIMIT;
  const [health, jobs, templates] = await Promise.all([
    readHealth(options.db),
    listRecentJobs(options.db, { limit, status }),
    listTemplatesWithTriggers(options.db),
  ]);
  const notifications = await listJobNotifications(options.db, { jobIds: jobs.map((job) => job.jobId), status });
  const page = renderPage({
    health,
    jobs,
    notifications,
    status,
    refreshSeconds: refreshSeconds(url),
    limit,
    templates: templates.map((template) => ({
      id: template.id,
      name: template.name,
      notificationType: template.notificationType,
      maskedConfiguration: maskSecrets(template.notificationType, template.configuration) as Record<string, unknown>,
      triggers: template.triggers,
    })),
  });
  response.writeHead(200, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    // Inline style only, no script, no framing: a stray name in a job cannot run anything.
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
  });
  response.end(page);
}

async function serveRetry(
  options: WebViewOptions,
  request: http.IncomingMessage,
  id: string,
  url: URL,
  response: http.ServerResponse,
): Promise<void> {
  if (!sameOrigin(request)) {
    response.writeHead(403, { "content-type": "text/plain; charset=utf-8" });
    response.end("retry refused: the request did not come from this page\n");
    return;
  }
  await retryNotifications(options.db, [id]);
  response.writeHead(303, { location: `/${pageQuery(statusFilter(url.searchParams.get("status")), refreshSeconds(url))}` });
  response.end();
}

function refreshSeconds(url: URL): number | null {
  const seconds = Number(url.searchParams.get("refresh"));
  return Number.isSafeInteger(seconds) && seconds > 0 ? Math.min(seconds, MAX_REFRESH_SECONDS) : null;
}

function statusFilter(value: string | null): NotificationStatus | undefined {
  return NOTIFICATION_STATUSES.find((status) => status === value);
}

/**
 * Refuses cross-site form posts (another site open in the same browser posting to a loopback
 * port). Browsers say where a request comes from in Sec-Fetch-Site, older ones in Origin;
 * clients that send neither (curl, scripts) are not browsers carrying someone's cookie.
 */
function sameOrigin(request: http.IncomingMessage): boolean {
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined) return site === "same-origin" || site === "none";
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}
