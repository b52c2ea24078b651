import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { PENDING_COUNT_CAP, type Health } from "./sql/readHealth.js";

/** The service's Prometheus metrics, in a registry of its own (GET /metrics). */
export interface ServiceMetrics {
  registry: Registry;
  sent: Counter<"type">;
  failed: Counter<"type">;
  retried: Counter<"type">;
  claimBatchSize: Histogram;
  sendDuration: Histogram<"type" | "outcome">;
  backlog: Gauge;
  oldestDue: Gauge;
  oldestAwaitingWrapup: Gauge;
  notificationQueueUsage: Gauge;
  deliveryPaused: Gauge;
}

/**
 * `readHealth` (notifier.health(), index-backed and bounded) is asked once per scrape: the health
 * gauges are collected at the same moment and share one reading. When the database is
 * unreachable they keep their last values rather than failing the whole scrape.
 */
export function createMetrics(readHealth: () => Promise<Health>, isDeliveryPaused: () => Promise<boolean>): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let reading: Promise<Health> | null = null;
  const healthGauge = (name: string, help: string, value: (health: Health) => number) =>
    new Gauge({
      name, help, registers: [registry],
      async collect() {
        reading ??= readHealth().finally(() => (reading = null));
        try {
          this.set(value(await reading));
        } catch {
          // keep the last value: the scrape still reports everything else
        }
      },
    });
  return {
    registry,
    sent: new Counter({
      name: "notifier_notifications_sent_total", help: "Notifications delivered, by type.",
      labelNames: ["type"], registers: [registry],
    }),
    failed: new Counter({
      name: "notifier_notifications_failed_total", help: "Notifications given up on (marked failed), by type.",
      labelNames: ["type"], registers: [registry],
    }),
    retried: new Counter({
      name: "notifier_notifications_retried_total", help: "Failed attempts scheduled for a retry, by type.",
      labelNames: ["type"], registers: [registry],
    }),
    claimBatchSize: new Histogram({
      name: "notifier_claim_batch_size", help: "Rows claimed per claim query.",
      buckets: [0, 1, 2, 4, 8, 16, 32, 64, 128], registers: [registry],
    }),
    sendDuration: new Histogram({
      name: "notifier_send_duration_seconds", help: "Duration of one delivery attempt (render and send), by type and outcome.",
      labelNames: ["type", "outcome"], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
      registers: [registry],
    }),
    backlog: healthGauge("notifier_backlog", `Pending notification rows in the database (claimed or not), counted up to ${PENDING_COUNT_CAP}.`,
      (health) => health.pending),
    oldestDue: healthGauge("notifier_oldest_due_seconds",
      "Seconds since the pending row due longest ago became due (0: none due). Alert when it grows.",
      (health) => health.oldestDueSeconds),
    oldestAwaitingWrapup: healthGauge("notifier_oldest_awaiting_wrapup_seconds",
      "Seconds since the oldest job still waiting for its wrapup event finished (0: none). Above the wrapup grace: the sweep is not running.",
      (health) => health.oldestAwaitingWrapupSeconds),
    notificationQueueUsage: healthGauge("notifier_notification_queue_usage",
      "pg_notification_queue_usage(): fraction of the instance-wide NOTIFY queue in use (shared with every LISTENer of the instance).",
      (health) => health.notificationQueueUsage),
    deliveryPaused: new Gauge({
      name: "notifier_delivery_paused", help: "1 while notifier.settings.delivery_paused stops all delivery (pg-job-notifier pause).",
      registers: [registry],
      async collect() {
        try {
          this.set((await isDeliveryPaused()) ? 1 : 0);
        } catch {
          // keep the last value
        }
      },
    }),
  };
}
