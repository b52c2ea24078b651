import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** The service's Prometheus metrics, in a registry of its own (GET /metrics). */
export interface ServiceMetrics {
  registry: Registry;
  sent: Counter<"type">;
  failed: Counter<"type">;
  retried: Counter<"type">;
  claimBatchSize: Histogram;
  sendDuration: Histogram<"type" | "outcome">;
  backlog: Gauge;
  deliveryPaused: Gauge;
}

/**
 * `countBacklog` is asked on every scrape; when the database is unreachable the gauge keeps its
 * last value rather than failing the whole scrape.
 */
export function createMetrics(countBacklog: () => Promise<number>, isDeliveryPaused: () => Promise<boolean>): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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
    backlog: new Gauge({
      name: "notifier_backlog", help: "Pending notification rows in the database (claimed or not).",
      registers: [registry],
      async collect() {
        try {
          this.set(await countBacklog());
        } catch {
          // keep the last value: the scrape still reports everything else
        }
      },
    }),
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
