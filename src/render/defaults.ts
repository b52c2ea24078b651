/**
 * AWX's default message templates (liquid), shared by the notification types. Kept apart from
 * render.ts so type modules can import them without an import cycle through the type registry.
 *
 * `job.host_status_counts_unavailable` is true when the wrapup grace fired (CONTRACT §5.4): the
 * defaults then say so instead of silently showing no counts.
 *
 * Each default has, beside it, a lean renderer: the same text built without liquid, from the few
 * values the default reads (DefaultsContext). The delivery service renders every row at send
 * time, and rendering the defaults through liquid was an eighth of its CPU per row.
 * test/renderDefaults.test.ts renders generated snapshots both ways and requires the same bytes.
 */

import type { ApprovalState } from "./messages.js";

/** A value the lean renderers write as liquid does: a string as it is, a number as String() writes it, nil as nothing. */
export type PlainValue = string | number | null | undefined;

/** The buckets of `job.hosts` the defaults list, with their labels. */
const LISTED_HOST_BUCKETS = [["failures", "Failed hosts"], ["dark", "Unreachable hosts"]] as const;
type ListedHostBucket = (typeof LISTED_HOST_BUCKETS)[number][0];

/**
 * The variables of the render context (render.ts renderContext) that the defaults read, with the
 * same names. Host lists are at most HOST_NAMES_PER_BUCKET strings (render.ts falls back to
 * liquid for anything else).
 */
export interface DefaultsContext {
  job_friendly_name: PlainValue;
  url: string;
  job: {
    id: PlainValue;
    name: PlainValue;
    status: PlainValue;
    host_status_counts_unavailable: boolean;
    hosts: Record<ListedHostBucket, string[]>;
    hosts_omitted: Record<ListedHostBucket, number>;
  };
  /** Workflow approvals only. */
  approval_node_name?: PlainValue;
  workflow_url?: string;
  /** The job metadata as JSON (read only by the bodies: render.ts builds it on first read). */
  readonly job_metadata: string;
}

/** An output context's escape of one `{{ … }}` (render.ts's for "text", "slack", "json"). */
export type WriteOutput = (value: PlainValue) => string;

/** A default template's lean renderer. */
export type LeanRender = (c: DefaultsContext, write: WriteOutput) => string;

const HOST_COUNTS_UNAVAILABLE_NOTE = " (host counts unavailable)";

/** The one-line message of every type: `Job #42 'deploy' successful: https://…`. */
export const DEFAULT_MESSAGE =
  "{{ job_friendly_name }} #{{ job.id }} '{{ job.name }}' {{ job.status }}" +
  `{% if job.host_status_counts_unavailable %}${HOST_COUNTS_UNAVAILABLE_NOTE}{% endif %}: {{ url }}`;

const leanMessage: LeanRender = (c, w) =>
  `${w(c.job_friendly_name)} #${w(c.job.id)} '${w(c.job.name)}' ${w(c.job.status)}` +
  `${c.job.host_status_counts_unavailable ? HOST_COUNTS_UNAVAILABLE_NOTE : ""}: ${w(c.url)}`;

/** `<label>: h1, h2 and 3 more` for a bucket of `job.hosts`, when it names any host. */
function hostListLine(bucket: ListedHostBucket, label: string, separator: string): string {
  return `{% if job.hosts.${bucket}.size > 0 %}${separator}${label}: {{ job.hosts.${bucket} | join: ", " }}` +
    `{% if job.hosts_omitted.${bucket} > 0 %} and {{ job.hosts_omitted.${bucket} }} more{% endif %}{% endif %}`;
}

function leanHostListLine(c: DefaultsContext, w: WriteOutput, bucket: ListedHostBucket, label: string, separator: string): string {
  const names = c.job.hosts[bucket];
  const omitted = c.job.hosts_omitted[bucket];
  if (!(names.length > 0)) return "";
  return `${separator}${label}: ${w(names.join(", "))}${omitted > 0 ? ` and ${w(omitted)} more` : ""}`;
}

/** For a job that did not succeed: its failed and unreachable hosts, each list after `separator`. */
function failedHosts(separator: string): string {
  const lines = LISTED_HOST_BUCKETS.map(([bucket, label]) => hostListLine(bucket, label, separator)).join("");
  return `{% if job.status != "successful" %}${lines}{% endif %}`;
}

function leanFailedHosts(c: DefaultsContext, w: WriteOutput, separator: string): string {
  if (c.job.status === "successful") return "";
  return LISTED_HOST_BUCKETS.map(([bucket, label]) => leanHostListLine(c, w, bucket, label, separator)).join("");
}

const HOST_COUNTS_UNAVAILABLE_LINE =
  "\nHost counts were unavailable: the job's wrapup event was not processed within the grace period.";

/**
 * A plain-text body (email): a summary line (then, for a job that did not succeed, a line each of
 * its failed and unreachable hosts), a blank line, then the job metadata.
 */
export const DEFAULT_TEXT_BODY =
  "{{ job_friendly_name }} #{{ job.id }} had status {{ job.status }}, view details at {{ url }}" +
  `{% if job.host_status_counts_unavailable %}${HOST_COUNTS_UNAVAILABLE_LINE}{% endif %}` +
  failedHosts("\n") + "\n\n{{ job_metadata }}";

const leanTextBody: LeanRender = (c, w) =>
  `${w(c.job_friendly_name)} #${w(c.job.id)} had status ${w(c.job.status)}, view details at ${w(c.url)}` +
  `${c.job.host_status_counts_unavailable ? HOST_COUNTS_UNAVAILABLE_LINE : ""}` +
  `${leanFailedHosts(c, w, "\n")}\n\n${w(c.job_metadata)}`;

/** Slack's one-line message: AWX's, then the failed and unreachable hosts of a job that did not succeed. */
export const DEFAULT_SLACK_MESSAGE = DEFAULT_MESSAGE + failedHosts("; ");

const leanSlackMessage: LeanRender = (c, w) => leanMessage(c, w) + leanFailedHosts(c, w, "; ");

/** A JSON body (webhook, and the metadata part of PagerDuty/Grafana): the job metadata. */
export const DEFAULT_JSON_BODY = "{{ job_metadata }}";

const leanJsonBody: LeanRender = (c, w) => w(c.job_metadata);

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

const LEAN_APPROVAL_MESSAGES: Record<ApprovalState, { message: LeanRender; body: LeanRender }> = {
  running: {
    message: (c, w) => `The approval node '${w(c.approval_node_name)}' needs review. This node can be viewed at: ${w(c.workflow_url)}`,
    body: (c, w) => `'${w(c.approval_node_name)}' needs review. This approval node can be viewed at: ${w(c.workflow_url)}\n\n${w(c.job_metadata)}`,
  },
  approved: {
    message: (c, w) => `The approval node '${w(c.approval_node_name)}' was approved. ${w(c.workflow_url)}`,
    body: (c, w) => `The approval node '${w(c.approval_node_name)}' was approved. ${w(c.workflow_url)}\n\n${w(c.job_metadata)}`,
  },
  denied: {
    message: (c, w) => `The approval node '${w(c.approval_node_name)}' was denied. ${w(c.workflow_url)}`,
    body: (c, w) => `The approval node '${w(c.approval_node_name)}' was denied. ${w(c.workflow_url)}\n\n${w(c.job_metadata)}`,
  },
  timed_out: {
    message: (c, w) => `The approval node '${w(c.approval_node_name)}' has timed out. ${w(c.workflow_url)}`,
    body: (c, w) => `The approval node '${w(c.approval_node_name)}' has timed out. ${w(c.workflow_url)}\n\n${w(c.job_metadata)}`,
  },
};

/** Every default template with its lean renderer, by the template's source. */
export const LEAN_DEFAULTS: ReadonlyMap<string, LeanRender> = new Map<string, LeanRender>([
  [DEFAULT_MESSAGE, leanMessage],
  [DEFAULT_SLACK_MESSAGE, leanSlackMessage],
  [DEFAULT_TEXT_BODY, leanTextBody],
  [DEFAULT_JSON_BODY, leanJsonBody],
  ...(Object.keys(DEFAULT_APPROVAL_MESSAGES) as ApprovalState[]).flatMap((state) => [
    [DEFAULT_APPROVAL_MESSAGES[state].message, LEAN_APPROVAL_MESSAGES[state].message] as const,
    [DEFAULT_APPROVAL_MESSAGES[state].body, LEAN_APPROVAL_MESSAGES[state].body] as const,
  ]),
]);
