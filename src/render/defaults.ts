/**
 * AWX's default message templates (liquid), shared by the notification types. Kept apart from
 * render.ts so type modules can import them without an import cycle through the type registry.
 *
 * `job.host_status_counts_unavailable` is true when the wrapup grace fired (CONTRACT §5.4): the
 * defaults then say so instead of silently showing no counts.
 */

import type { ApprovalState } from "./messages.js";

/** The one-line message of every type: `Job #42 'deploy' successful: https://…`. */
export const DEFAULT_MESSAGE =
  "{{ job_friendly_name }} #{{ job.id }} '{{ job.name }}' {{ job.status }}" +
  "{% if job.host_status_counts_unavailable %} (host counts unavailable){% endif %}: {{ url }}";

/** `<label>: h1, h2 and 3 more` for a bucket of `job.hosts`, when it names any host. */
function hostListLine(bucket: "failures" | "dark", label: string, separator: string): string {
  return `{% if job.hosts.${bucket}.size > 0 %}${separator}${label}: {{ job.hosts.${bucket} | join: ", " }}` +
    `{% if job.hosts_omitted.${bucket} > 0 %} and {{ job.hosts_omitted.${bucket} }} more{% endif %}{% endif %}`;
}

/** For a job that did not succeed: its failed and unreachable hosts, each list after `separator`. */
function failedHosts(separator: string): string {
  return `{% if job.status != "successful" %}${hostListLine("failures", "Failed hosts", separator)}` +
    `${hostListLine("dark", "Unreachable hosts", separator)}{% endif %}`;
}

/**
 * A plain-text body (email): a summary line (then, for a job that did not succeed, a line each of
 * its failed and unreachable hosts), a blank line, then the job metadata.
 */
export const DEFAULT_TEXT_BODY =
  "{{ job_friendly_name }} #{{ job.id }} had status {{ job.status }}, view details at {{ url }}" +
  "{% if job.host_status_counts_unavailable %}\n" +
  "Host counts were unavailable: the job's wrapup event was not processed within the grace period." +
  "{% endif %}" + failedHosts("\n") + "\n\n{{ job_metadata }}";

/** Slack's one-line message: AWX's, then the failed and unreachable hosts of a job that did not succeed. */
export const DEFAULT_SLACK_MESSAGE = DEFAULT_MESSAGE + failedHosts("; ");

/** A JSON body (webhook, and the metadata part of PagerDuty/Grafana): the job metadata. */
export const DEFAULT_JSON_BODY = "{{ job_metadata }}";

/**
 * AWX's default approval messages (awx/main/notifications/custom_notification_base.py), by state
 * of `messages.workflow_approval`. `approval_node_name` is the approval's name, `workflow_url` the
 * page of its workflow job. The body is the text body's counterpart, for types with a text body.
 */
export const DEFAULT_APPROVAL_MESSAGES: Record<ApprovalState, { message: string; body: string }> = {
  running: {
    message: "The approval node '{{ approval_node_name }}' needs review. This node can be viewed at: {{ workflow_url }}",
    body: "'{{ approval_node_name }}' needs review. This approval node can be viewed at: {{ workflow_url }}\n\n{{ job_metadata }}",
  },
  approved: {
    message: "The approval node '{{ approval_node_name }}' was approved. {{ workflow_url }}",
    body: "The approval node '{{ approval_node_name }}' was approved. {{ workflow_url }}\n\n{{ job_metadata }}",
  },
  denied: {
    message: "The approval node '{{ approval_node_name }}' was denied. {{ workflow_url }}",
    body: "The approval node '{{ approval_node_name }}' was denied. {{ workflow_url }}\n\n{{ job_metadata }}",
  },
  timed_out: {
    message: "The approval node '{{ approval_node_name }}' has timed out. {{ workflow_url }}",
    body: "The approval node '{{ approval_node_name }}' has timed out. {{ workflow_url }}\n\n{{ job_metadata }}",
  },
};
