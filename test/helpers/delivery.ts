import type { JobSnapshot, Trigger } from "../../src/job.js";
import type { Delivery } from "../../src/types/type.js";

/** A finished job as a notification row's snapshot records it. */
export function sampleJob(overrides: Partial<JobSnapshot> = {}): JobSnapshot {
  return {
    id: 42,
    kind: "job",
    name: "deploy web",
    job_template_id: 7,
    organization_id: 1,
    status: "successful",
    wrapup_dispatched: true,
    host_status_counts: { ok: 2, changed: 1 },
    extra: {},
    created_at: "2026-01-02T03:04:00.000Z",
    started_at: "2026-01-02T03:04:05.000Z",
    finished_at: "2026-01-02T03:05:06.500Z",
    wrapup_expired_at: null,
    ...overrides,
  };
}

/** One attempt of a type's send, as the delivery service makes it (a 30 s timeout by default). */
export function makeDelivery<Config>(configuration: Config, overrides: Partial<Delivery<Config>> = {}): Delivery<Config> {
  return {
    notificationId: "1001",
    configuration,
    trigger: "success" as Trigger,
    subject: "Job #42 'deploy web' successful: https://awx.example.com/jobs/job/42",
    body: null,
    job: sampleJob(),
    deliveredTargets: [],
    signal: AbortSignal.timeout(30_000),
    ...overrides,
  };
}
