/** Job kinds, statuses and triggers as the SQL schema defines them (AWX's names). */
export const JOB_KINDS = [
  "job", "project_update", "inventory_update", "ad_hoc_command", "system_job", "workflow_job", "workflow_approval",
] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const JOB_STATUSES = ["new", "pending", "waiting", "running", "successful", "failed", "error", "canceled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/**
 * Notification triggers. A workflow_approval job matches only subscriptions whose trigger is
 * `approval`: its running notification is a `started` row, its decision an `approval` row
 * (notifier.final_trigger_of / notifier.subscription_trigger_of in SQL).
 */
export const TRIGGERS = ["started", "success", "error", "approval"] as const;
export type Trigger = (typeof TRIGGERS)[number];

/** The statuses of a notification row (notifier.notifications.status, CONTRACT §5). */
export const NOTIFICATION_STATUSES = ["pending", "successful", "failed"] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/** AWX's friendly name of each kind, used in default messages. */
export const FRIENDLY_NAMES: Record<JobKind, string> = {
  job: "Job",
  project_update: "Project Update",
  inventory_update: "Inventory Update",
  ad_hoc_command: "AdHoc Command",
  system_job: "System Job",
  workflow_job: "Workflow Job",
  workflow_approval: "Workflow Approval",
};

/** The buckets of a playbook_on_stats event, in AWX's order of precedence (a later one wins). */
export const HOST_BUCKETS = ["skipped", "ok", "changed", "failures", "dark"] as const;
export type HostBucket = (typeof HOST_BUCKETS)[number];
/** How many host names per bucket a job records (mirrors notifier.host_names_from_stats). */
export const HOST_NAMES_PER_BUCKET = 100;

/**
 * The job as a notification row recorded it when it was created (`notifications.job_snapshot`,
 * made by the attachment's notifier.<stem>__snapshot() in SQL, e.g. notifier.jobs__snapshot,
 * notifier.awx__snapshot): messages describe this moment, never a later one.
 */
export interface JobSnapshot {
  id: number;
  kind: JobKind;
  name: string;
  job_template_id: number | null;
  organization_id: number | null;
  status: JobStatus;
  wrapup_dispatched: boolean;
  host_status_counts: Record<string, number> | null;
  /**
   * Host names per bucket of the wrapup's playbook_on_stats (failures, dark, ok, changed,
   * skipped), each host in the one bucket host_status_counts counts it in, at most
   * HOST_NAMES_PER_BUCKET per bucket (sorted); NULL until the wrapup, or when it had no stats.
   */
  host_names?: Partial<Record<HostBucket, string[]>> | null;
  extra: Record<string, unknown>;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** Set when the grace expired without the wrapup: host counts are unavailable. */
  wrapup_expired_at: string | null;
  /** workflow_approval: the approval timed out (its status is failed). */
  timed_out?: boolean;
}
