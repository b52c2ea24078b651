import { NOTIFICATION_STATUSES, type NotificationStatus } from "../job.js";
import type { JobNotification } from "../sql/listJobNotifications.js";
import type { RecentJob } from "../sql/listRecentJobs.js";
import type { Health } from "../sql/readHealth.js";
import { html, SafeHtml } from "./html.js";

/** The notification statuses the page filters by (notifier.notifications.status). */

/** A template as the page shows it: configuration already masked. */
export interface TemplateView {
  id: string;
  name: string;
  notificationType: string;
  maskedConfiguration: Record<string, unknown>;
  triggers: readonly string[];
}

export interface PageData {
  /** notifier.health(): the pending count (bounded); the outbox is never counted whole. */
  health: Health;
  jobs: readonly RecentJob[];
  notifications: readonly JobNotification[];
  templates: readonly TemplateView[];
  status: NotificationStatus | undefined;
  /** Reload the page every this many seconds (`?refresh=`), or null. */
  refreshSeconds: number | null;
  /** Number of jobs asked for, shown so the reader knows the list is cut. */
  limit: number;
}

/** The whole page: totals and filters, recent jobs with their notification rows, templates. */
export function renderPage(data: PageData): string {
  const byJob = new Map<string, JobNotification[]>();
  for (const row of data.notifications) byJob.set(row.jobId, [...(byJob.get(row.jobId) ?? []), row]);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pg-job-notifier</title>
${data.refreshSeconds ? html`<meta http-equiv="refresh" content="${data.refreshSeconds}">` : ""}
<style>${new SafeHtml(STYLE)}</style>
</head>
<body>
<header>
  <h1>pg-job-notifier</h1>
  <nav aria-label="Filter by notification status">
    ${filterLink(undefined, data, "all", null)}
    ${NOTIFICATION_STATUSES.map((status) => filterLink(status, data, status, status === "pending" ? pendingCount(data.health) : null))}
  </nav>
  <a class="refresh" href="/${pageQuery(data.status, data.refreshSeconds ? null : DEFAULT_REFRESH_SECONDS)}">${data.refreshSeconds ? "stop auto-refresh" : "auto-refresh"}</a>
</header>
<main>
<section>
  <h2>Recent jobs${data.status ? html` with ${data.status} notifications` : ""}</h2>
  ${data.jobs.length === 0
    ? html`<p class="empty">No jobs${data.status ? html` with ${data.status} notifications` : ""} yet.</p>`
    : html`<table id="jobs">
    <thead><tr><th>Job</th><th>Status</th><th>Notifications</th></tr></thead>
    <tbody>${data.jobs.map((job) => jobRow(job, byJob.get(job.jobId) ?? [], data))}</tbody>
  </table>
  <p class="note">The newest ${data.limit} jobs at most.${data.refreshSeconds ? html` Refreshed every ${data.refreshSeconds} s.` : " Reload to refresh."}</p>`}
</section>
<section>
  <h2>Templates</h2>
  ${data.templates.length === 0
    ? html`<p class="empty">No notification templates yet.</p>`
    : html`<table id="templates">
    <thead><tr><th>Template</th><th>Type</th><th>Subscribed to</th><th>Configuration (secrets masked)</th></tr></thead>
    <tbody>${data.templates.map(templateRow)}</tbody>
  </table>`}
</section>
</main>
</body>
</html>
`.text;
}

/** Seconds between reloads when the reader turns auto-refresh on. */
export const DEFAULT_REFRESH_SECONDS = 3;

/** The query string that keeps the page's filter and refresh ("" when neither is set). */
export function pageQuery(status: NotificationStatus | undefined, refreshSeconds: number | null): string {
  const query = new URLSearchParams();
  if (status) query.set("status", status);
  if (refreshSeconds) query.set("refresh", String(refreshSeconds));
  const text = query.toString();
  return text ? `?${text}` : "";
}

/** A filter link; `count` (only pending has one: counting the whole outbox is too dear) in bold. */
function filterLink(status: NotificationStatus | undefined, data: PageData, label: string, count: string | null): SafeHtml {
  const href = `/${pageQuery(status, data.refreshSeconds)}`;
  return html`<a href="${href}" class="filter ${status ?? "all"}"${status === data.status ? html` aria-current="page"` : ""}>${label}${count === null ? "" : html` <b>${count}</b>`}</a>`;
}

/** "12", or "10000+" past the health function's cap. */
function pendingCount(health: Health): string {
  return health.pendingCapped ? `${health.pending}+` : String(health.pending);
}

function jobRow(job: RecentJob, rows: readonly JobNotification[], data: PageData): SafeHtml {
  const status = data.status;
  return html`<tr class="job" data-job-id="${job.jobId}">
  <td><span class="id">#${job.jobId}</span> ${job.name || html`<i>unnamed</i>`}<div class="kind">${job.kind}</div></td>
  <td><span class="job-status ${job.status}">${job.status}</span>${job.waitingFor ? html`<div class="waiting">final waits for ${job.waitingFor}</div>` : ""}</td>
  <td>
    <div class="counts">${NOTIFICATION_STATUSES.filter((s) => job[s] > 0).map((s) => html`<span class="count ${s}">${job[s]} ${s}</span>`)}${job.pending + job.successful + job.failed === 0 ? html`<span class="none">none${status ? "" : " yet"}</span>` : ""}</div>
    ${rows.length > 0 ? html`<ul class="notifications">${rows.map((row) => notificationItem(row, data))}</ul>` : ""}
  </td>
</tr>`;
}

function notificationItem(row: JobNotification, data: PageData): SafeHtml {
  return html`<li class="notification ${row.status}" data-notification-id="${row.id}" data-status="${row.status}">
  <span class="trigger">${row.trigger}</span> → ${row.templateName} <span class="type">(${row.notificationType})</span>
  <span class="status ${row.status}">${row.status}</span>
  <span class="detail">${detail(row)}</span>
  ${row.status === "failed"
    ? html`<form method="post" action="/notifications/${row.id}/retry${pageQuery(data.status, data.refreshSeconds)}"><button type="submit" class="retry">Retry</button></form>`
    : ""}
  ${row.error
    ? html`<details class="error"><summary title="${row.error}">${firstLine(row.error)}</summary><pre>${row.error}</pre></details>`
    : ""}
</li>`;
}

function detail(row: JobNotification): SafeHtml {
  const attempts = `${row.attempts} attempt${row.attempts === 1 ? "" : "s"}`;
  if (row.status === "successful") return html`${attempts}, sent ${time(row.sentAt)}`;
  if (row.status === "pending") return html`${attempts}, next ${time(row.runAt)}`;
  return html`${attempts}`;
}

function time(iso: string | null): SafeHtml {
  if (!iso) return html``;
  return html`<time datetime="${iso}" title="${iso}">${iso.slice(11, 19)} UTC</time>`;
}

function firstLine(text: string): string {
  const line = text.split("\n", 1)[0]!;
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

function templateRow(template: TemplateView): SafeHtml {
  return html`<tr data-template-id="${template.id}">
  <td>${template.name}</td>
  <td>${template.notificationType}</td>
  <td>${template.triggers.length > 0 ? template.triggers.join(", ") : html`<span class="none">nothing</span>`}</td>
  <td><pre class="configuration">${JSON.stringify(template.maskedConfiguration, null, 2)}</pre></td>
</tr>`;
}

/** Trusted constant CSS (inserted unescaped). */
const STYLE = `
:root { --ok: #1a7f37; --bad: #cf222e; --wait: #9a6700; --muted: #57606a; --line: #d0d7de; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans", sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
header { display: flex; align-items: center; gap: 24px; padding: 12px 24px; background: #24292f; color: #fff; }
header h1 { font-size: 18px; margin: 0; }
nav { display: flex; gap: 8px; }
.refresh { margin-left: auto; color: #d0d7de; font-size: 13px; }
.filter { color: #fff; text-decoration: none; padding: 3px 10px; border-radius: 12px; border: 1px solid #57606a; }
.filter[aria-current] { background: #fff; color: #24292f; }
main { padding: 8px 24px 24px; }
h2 { font-size: 16px; margin: 20px 0 8px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; vertical-align: top; padding: 8px 10px; border-bottom: 1px solid var(--line); }
th { background: #f6f8fa; font-weight: 600; }
.id, .kind, .type, .detail, .note, .none, .waiting { color: var(--muted); }
.kind, .waiting { font-size: 12px; }
.job-status, .status, .count { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; background: #eaeef2; }
.successful { --tone: var(--ok); } .failed, .error, .canceled { --tone: var(--bad); } .pending, .running, .waiting { --tone: var(--wait); }
.job-status, .status, .count { color: var(--tone, #24292f); }
.counts { display: flex; gap: 6px; margin-bottom: 4px; }
ul.notifications { list-style: none; margin: 0; padding: 0; }
li.notification { padding: 3px 0; border-top: 1px dashed #eaeef2; }
li.notification:first-child { border-top: 0; }
.trigger { font-weight: 600; }
form { display: inline; }
button.retry { font: inherit; font-size: 12px; padding: 0 10px; border: 1px solid var(--bad); color: var(--bad); background: #fff; border-radius: 6px; cursor: pointer; }
details.error summary { color: var(--bad); cursor: pointer; font-size: 12px; }
pre { margin: 4px 0 0; white-space: pre-wrap; word-break: break-word; font-size: 12px; }
pre.configuration { margin: 0; }
.empty { color: var(--muted); }
`;
