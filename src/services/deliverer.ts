import type { DatabasePool } from "../db.js";
import type { Logger } from "../logger.js";
import type { ServiceMetrics } from "../metrics.js";
import { claimDue, type ClaimedNotification } from "../sql/claimDue.js";
import { extendLease } from "../sql/extendLease.js";
import { markFailed, type FailedNotification } from "../sql/markFailed.js";
import { markSent, type SentNotification } from "../sql/markSent.js";
import { releaseClaims } from "../sql/releaseClaims.js";
import { retryDelaySeconds, scheduleRetry, type RetriedNotification } from "../sql/scheduleRetry.js";
import { attemptDelivery } from "./attemptDelivery.js";

/** Pause before retrying a database operation that failed (the database is down or restarting). */
export const DATABASE_RETRY_MS = 1000;

export interface DelivererConfig {
  /** This process's name in notifications.locked_by. */
  worker: string;
  /** Sends in flight at once. Up to as many more rows are claimed ahead, ready to start. */
  concurrency: number;
  leaseSeconds: number;
  retryDelaySeconds: number;
  maxAttempts: number;
  /** Base of job URLs in messages. */
  urlBase: string;
}

type Outcome =
  | { kind: "sent"; row: SentNotification }
  | { kind: "retry"; row: RetriedNotification }
  | { kind: "failed"; row: FailedNotification };

/** Why an attempt's signal was aborted by the service. */
class ShuttingDown extends Error {}

/**
 * Turns pending rows into sends: claims batches under a lease, renders each row once, sends with
 * bounded concurrency and a per-attempt timeout, and records outcomes in batches. One claim and
 * one round of completion queries are in flight at a time; whatever arrives meanwhile joins the
 * next batch, so batches grow with the load and a lone notification goes out at once.
 */
export class Deliverer {
  private readonly queue: ClaimedNotification[] = [];
  /** Rows being sent, by id, with the controller that aborts the attempt. */
  private readonly inFlight = new Map<string, AbortController>();
  private readonly outcomes: Outcome[] = [];
  /** Rows whose outcome is buffered or being written: still leased, still extended. */
  private readonly recording = new Set<string>();
  private claiming: Promise<void> | null = null;
  private flushing: Promise<void> | null = null;
  private claimWanted = false;
  /** A started row's outcome is buffered: once written, its final sibling becomes claimable. */
  private unblocking = false;
  /** Set by start(): wakes before it (the listener connecting) claim nothing yet. */
  private started = false;
  private stopping = false;
  private databaseRetry: NodeJS.Timeout | null = null;
  private leaseTimer: NodeJS.Timeout | null = null;
  private idle: (() => void) | null = null;
  /** False after a claim or completion query failed, until one succeeds. */
  databaseReachable = true;
  /**
   * Told after each claim whether this process is idle (nothing claimed, queued or in flight).
   * With the adaptive wake-up (migration 9) transactions NOTIFY only idle processes.
   */
  onClaimed: (idle: boolean) => void = () => {};

  constructor(
    private readonly db: DatabasePool,
    private readonly config: DelivererConfig,
    private readonly logger: Logger,
    private readonly metrics: ServiceMetrics,
  ) {}

  start(): void {
    this.started = true;
    const every = Math.max(100, (this.config.leaseSeconds * 1000) / 3);
    this.leaseTimer = setInterval(() => void this.extendLeases(), every);
    this.wake();
  }

  /** Something may be due: claim as soon as there is room. Cheap to call often. */
  wake(): void {
    this.claimWanted = true;
    this.pump();
  }

  /**
   * Stops claiming, waits up to `graceMs` for sends in flight, aborts the rest, records every
   * outcome and gives back the rows not sent, so another process sends them without waiting
   * for the lease.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.databaseRetry) clearTimeout(this.databaseRetry);
    await this.claiming;
    const drained = new Promise<void>((resolve) => {
      this.idle = resolve;
      if (this.inFlight.size === 0) resolve();
    });
    const deadline = new Promise<boolean>((resolve) => setTimeout(() => resolve(true), graceMs).unref());
    if (await Promise.race([drained.then(() => false), deadline])) {
      this.logger.warn({ inFlight: this.inFlight.size }, "shutdown grace over: aborting sends still in flight");
      for (const controller of this.inFlight.values()) controller.abort(new ShuttingDown("shutting down"));
      await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    }
    await this.flushUntilDone(graceMs);
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    try {
      const released = await releaseClaims(this.db, this.config.worker);
      if (released > 0) this.logger.info({ released }, "released claimed rows not sent");
    } catch (error) {
      this.logger.warn({ error: (error as Error).message }, "could not release claimed rows; they are sent after their lease");
    }
  }

  private pump(): void {
    // Not before start(): rows claimed while the service could still fail to start (its HTTP
    // port taken) would stay leased, unextended and unreleased, until the lease lapsed.
    if (!this.started) return;
    while (!this.stopping && this.inFlight.size < this.config.concurrency && this.queue.length > 0) {
      void this.attempt(this.queue.shift()!);
    }
    if (this.stopping || !this.claimWanted || this.claiming || this.databaseRetry) return;
    const room = this.config.concurrency * 2 - this.queue.length - this.inFlight.size;
    if (room <= 0) return;
    this.claimWanted = false;
    this.claiming = this.claim(room).finally(() => {
      this.claiming = null;
      this.pump();
    });
  }

  private async claim(limit: number): Promise<void> {
    try {
      const rows = await claimDue(this.db, { worker: this.config.worker, limit, leaseSeconds: this.config.leaseSeconds });
      this.metrics.claimBatchSize.observe(rows.length);
      this.databaseIsBack();
      // A full batch means more may be due right now.
      if (rows.length === limit) this.claimWanted = true;
      this.queue.push(...rows);
      this.onClaimed(rows.length === 0 && this.queue.length === 0 && this.inFlight.size === 0);
    } catch (error) {
      this.databaseFailed("claim", error);
    }
  }

  private async attempt(row: ClaimedNotification): Promise<void> {
    const controller = new AbortController();
    this.inFlight.set(row.id, controller);
    const startedAt = performance.now();
    const attempt = row.attempts + 1;
    const result = await attemptDelivery({
      notificationId: row.id,
      templateName: row.templateName,
      notificationType: row.notificationType,
      configuration: row.configuration,
      messages: row.messages,
      trigger: row.trigger,
      job: row.jobSnapshot,
      urlBase: this.config.urlBase,
      // Rendered once: a retry sends exactly what the first attempt rendered.
      rendered: row.subject === null ? null : { subject: row.subject, body: row.body },
      deliveredTargets: row.deliveredTargets,
      controller,
    });
    let outcome: Outcome | null;
    if (!result.ok && controller.signal.reason instanceof ShuttingDown) {
      outcome = null; // released on shutdown, sent again by the next process
    } else if (result.ok) {
      const { rendered, outcome: sent } = result;
      outcome = {
        kind: "sent",
        row: { id: row.id, subject: rendered.subject, body: rendered.body, recipients: sent.recipients,
               notificationsSent: sent.notificationsSent, deliveredTargets: sent.deliveredTargets },
      };
    } else {
      const common = { id: row.id, error: result.error, subject: result.rendered?.subject ?? null, body: result.rendered?.body ?? null,
                       deliveredTargets: result.deliveredTargets };
      outcome = result.permanent || attempt >= this.config.maxAttempts
        ? { kind: "failed", row: common }
        : { kind: "retry", row: { ...common, delaySeconds: retryDelaySeconds(this.config.retryDelaySeconds, attempt) } };
    }
    const seconds = (performance.now() - startedAt) / 1000;
    this.inFlight.delete(row.id);
    if (outcome) this.record(row, attempt, outcome, seconds);
    if (this.inFlight.size === 0) this.idle?.();
    // Look for rows created meanwhile: transactions do not NOTIFY a busy process (migration 9).
    // With nothing else to do, falling asleep is that look (the listener claims once more after
    // taking the sleep lock), so a lone send costs one claim less.
    if (this.inFlight.size === 0 && this.queue.length === 0 && !this.claiming) this.onClaimed(true);
    else this.claimWanted = true;
    this.pump();
  }

  private record(row: ClaimedNotification, attempt: number, outcome: Outcome, seconds: number): void {
    const type = row.notificationType;
    this.metrics.sendDuration.observe({ type, outcome: outcome.kind }, seconds);
    const fields = {
      notification: row.id, job: row.jobId, template: row.templateName, type, trigger: row.trigger, attempt,
      durationMs: Math.round(seconds * 1000),
    };
    if (outcome.kind === "sent") {
      this.metrics.sent.inc({ type });
      this.logger.info(fields, "notification sent");
    } else if (outcome.kind === "retry") {
      this.metrics.retried.inc({ type });
      this.logger.warn({ ...fields, error: outcome.row.error, retryInSeconds: Number(outcome.row.delaySeconds.toFixed(3)) }, "send failed, will retry");
    } else {
      this.metrics.failed.inc({ type });
      this.logger.error({ ...fields, error: outcome.row.error }, "notification failed");
    }
    this.outcomes.push(outcome);
    this.recording.add(row.id);
    if (row.trigger === "started") this.unblocking = true;
    void this.flush();
  }

  /** Writes every buffered outcome; one round at a time, the next round takes what piled up. */
  private flush(): Promise<void> {
    if (this.flushing || this.outcomes.length === 0) return this.flushing ?? Promise.resolve();
    const batch = this.outcomes.splice(0);
    const unblocking = this.unblocking;
    this.unblocking = false;
    const of = <K extends Outcome["kind"]>(kind: K) =>
      batch.filter((outcome): outcome is Extract<Outcome, { kind: K }> => outcome.kind === kind).map((outcome) => outcome.row);
    this.flushing = (async () => {
      try {
        await Promise.all([
          markSent(this.db, of("sent") as SentNotification[]),
          scheduleRetry(this.db, this.config.worker, of("retry") as RetriedNotification[]),
          markFailed(this.db, this.config.worker, of("failed") as FailedNotification[]),
        ]);
        this.databaseIsBack();
        for (const outcome of batch) this.recording.delete(outcome.row.id);
        if (unblocking) this.wake();
      } catch (error) {
        this.outcomes.unshift(...batch);
        this.unblocking ||= unblocking;
        this.databaseFailed("record outcomes", error);
        await new Promise((resolve) => setTimeout(resolve, DATABASE_RETRY_MS));
      } finally {
        this.flushing = null;
      }
      if (this.outcomes.length > 0 && !this.stopping) void this.flush();
    })();
    return this.flushing;
  }

  private async flushUntilDone(graceMs: number): Promise<void> {
    const deadline = Date.now() + Math.max(graceMs, DATABASE_RETRY_MS * 3);
    while ((this.outcomes.length > 0 || this.flushing) && Date.now() < deadline) {
      await (this.flushing ?? this.flush());
    }
    if (this.outcomes.length > 0) {
      this.logger.warn({ unrecorded: this.outcomes.length }, "could not record every outcome; those rows are sent again after their lease");
    }
  }

  private async extendLeases(): Promise<void> {
    const ids = [...this.queue.map((row) => row.id), ...this.inFlight.keys(), ...this.recording];
    try {
      await extendLease(this.db, this.config.worker, ids, this.config.leaseSeconds);
    } catch (error) {
      this.databaseFailed("extend leases", error);
    }
  }

  private databaseFailed(operation: string, error: unknown): void {
    if (this.databaseReachable) {
      this.logger.warn({ operation, error: (error as Error).message }, "database operation failed; retrying");
    }
    this.databaseReachable = false;
    if (!this.databaseRetry && !this.stopping) {
      this.databaseRetry = setTimeout(() => {
        this.databaseRetry = null;
        this.wake();
      }, DATABASE_RETRY_MS);
    }
  }

  private databaseIsBack(): void {
    if (!this.databaseReachable) this.logger.info("database reachable again");
    this.databaseReachable = true;
  }
}
