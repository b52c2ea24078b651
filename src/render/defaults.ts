/**
 * AWX's default message templates (liquid), shared by the notification types. Kept apart from
 * render.ts so type modules can import them without an import cycle through the type registry.
 *
 * `job.host_status_counts_unavailable` is true when the wrapup grace fired (CONTRACT §5.4): the
 * defaults then say so instead of silently showing no counts.
 */

/** The one-line message of every type: `Job #42 'deploy' successful: https://…`. */
export const DEFAULT_MESSAGE =
  "{{ job_friendly_name }} #{{ job.id }} '{{ job.name }}' {{ job.status }}" +
  "{% if job.host_status_counts_unavailable %} (host counts unavailable){% endif %}: {{ url }}";

/** A plain-text body (email): a summary line, a blank line, then the job metadata. */
export const DEFAULT_TEXT_BODY =
  "{{ job_friendly_name }} #{{ job.id }} had status {{ job.status }}, view details at {{ url }}" +
  "{% if job.host_status_counts_unavailable %}\n" +
  "Host counts were unavailable: the job's wrapup event was not processed within the grace period." +
  "{% endif %}\n\n{{ job_metadata }}";

/** A JSON body (webhook, and the metadata part of PagerDuty/Grafana): the job metadata. */
export const DEFAULT_JSON_BODY = "{{ job_metadata }}";
