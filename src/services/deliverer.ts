import { EventEmitter } from "node:events";
import type { HotPathDb } from "../db.js";
import { sqlState } from "../errors.js";
import type { Logger } from "../logger.js";
import type { ServiceMetrics } from "../metrics.js";
import { claimDue, type ClaimedNotification } from "../sql/claimDue.js";
import { extendLeases } from "../sql/extendLeases.js";
import { recordOutcomes, type AttemptOutcome } from "../sql/recordOutcomes.js";
import { releaseClaims } from "../sql/releaseClaims.js";
import { attemptDelivery } from "./attemptDelivery.js";

/** Pause before retrying a database operation that failed (the database is down or restarting). */
export const DATABASE_RETRY_MS = 1000;
/** Consecutive failed attempts (that may pass) of one template that open its circuit breaker. */
export const BREAKER_FAILURES = 5;
/** First pause of an open breaker; doubled each time it opens again without a success, up to the max. */
export const BREAKER_COOLDOWN_MS = 5000;
export const BREAKER_MAX_COOLDOWN_MS = 60_000;

export interface DelivererConfig {
  /** This process's name in notifications.locked_by. */
  worker: string;
  /** Sends in flight at once. Up to as many more rows are claimed ahead, ready to start. */
  concurrency: number;
  /** Sends in flight at once for one template (null: defaultTemplateConcurrency). */
  templateConcurrency: number | null;
  leaseSeconds: number;
  retryDelaySeconds: number;
  maxAttempts: number;
  /** 0: rows never expire. */
  maxAgeSeconds: number;
  /** Base of job URLs in messages. */
  urlBase: string;
}

/**
 * One template's share when NOTIFIER_TEMPLATE_CONCURRENCY is not set: all but an eighth of the
 * slots (at least one kept for the others), so a template with a fast receiver loses almost
 * nothing and a hung one leaves the others room.
 */
export function defaultTemplateConcurrency(concurrency: number): number {
  return Math.max(1, concurrency - Math.max(1, Math.ceil(concurrency / 8)));
}

/**
 * What the deliverer is doing (as graphile-worker's local queue names its modes):
 *   stopped   before start() and after stop();
 *   polling   claiming, or with rows claimed, queued or in flight (it claims again after sends);
 *   waiting   the last claim found nothing it may start: asleep until a wake() (NOTIFY, poll);
 *   stopping  stop() called: no claims, sends in flight finishing, outcomes being written.
 */
export type DelivererMode = "stopped" | "polling" | "waiting" | "stopping";

/** Test signals: what happened, so a test waits for the event rather than for time. */
export interface DelivererEvents {
  mode: [DelivererMode];
  /** A claim returned (its rows). */
  claimed: [readonly ClaimedNotification[]];
  /** A batch of outcomes was written: the status each recorded row now has (ignored rows absent). */
  recorded: [ReadonlyMap<string, string>];
}

/**
 * A claim that finds nothing while a send younger than this is in flight does not put the process
 * to sleep: that send's end claims again soon. Older sends may be stuck on a slow receiver; then
 * the process sleeps, so new rows NOTIFY it instead of waiting for those sends.
 */
export const SLOW_SEND_MS = 250;

/** Why an attempt's signal was aborted by the service. */
class ShuttingDown extends Error {}
class LeaseLost extends Error {}

/** A row this process holds: claimed, then queued, sent, and recorded. */
interface Held {
  row: ClaimedNotification;
  /** performance.now() at which the lease, as last confirmed by the database, lapses. */
  leaseUntil: number;
  /** Set while its send is in flight. */
  controller: AbortController | null;
  /** performance.now() when its send started. */
  sentAt: number;
}

/** A template's configuration and messages as one version of it reads them, parsed once. */
interface TemplateSettings {
  configurationText: string;
  messagesText: string | null;
  configuration: Record<string, unknown>;
  messages: unknown;
}

/** Per template: its rows queued and in flight, its receiver's circuit breaker, its settings. */
interface TemplateState {
  /** Of the last row claimed: rows carrying the same texts share these objects (and their checks). */
  settings: TemplateSettings | null;
  inFlight: number;
  /** Queued or in flight (not those whose outcome is being recorded). */
  held: number;
  failures: number;
  /** performance.now() until which the breaker is open (no claims, no sends); 0: closed. */
  openUntil: number;
  cooldownMs: number;
}

/**
 * Turns pending rows into sends: claims batches under a lease (each claim counts an attempt and
 * carries a token), renders each row once, sends with bounded concurrency — per process and per
 * template — and records outcomes in batches through notifier.record_outcomes, which decides
 * retry-or-fail. One claim and one round of recording are in flight at a time; whatever arrives
 * meanwhile joins the next batch, so batches grow with the load and a lone notification goes out
 * at once.
 *
 * Fencing (CONTRACT §5.11): leases are extended under their tokens; a send whose lease could not
 * be extended before it lapses (the database link is down, or another process holds the row) is
 * aborted, and an outcome recorded too late is ignored by SQL and reported here.
 */
export class Deliverer {
  /** Test signals (see DelivererEvents). */
  readonly events = new EventEmitter<DelivererEvents>();
  private currentMode: DelivererMode = "stopped";
  private readonly held = new Map<string, Held>();
  private readonly queue: ClaimedNotification[] = [];
  private inFlight = 0;
  private readonly outcomes: AttemptOutcome[] = [];
  private readonly templates = new Map<number, TemplateState>();
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
  /** An extension is in flight (it may wait on a row lock): the next one waits for it. */
  private extending = false;
  private lastExtension = 0;
  private slowSendCheck: NodeJS.Timeout | null = null;
  private idle: (() => void) | null = null;
  /** False after a claim or completion query failed, until one succeeds. */
  databaseReachable = true;
  /**
   * Told after each claim whether this process is idle (nothing claimed, queued or in flight).
   * With the adaptive wake-up (migration 9) transactions NOTIFY only idle processes.
   */
  onClaimed: (idle: boolean) => void = () => {};

  constructor(
    private readonly db: HotPathDb,
    private readonly config: DelivererConfig,
    private readonly logger: Logger,
    private readonly metrics: ServiceMetrics,
  ) {}

  /** Sends in flight at once for one template. */
  private get templateCap(): number {
    return this.config.templateConcurrency ?? defaultTemplateConcurrency(this.config.concurrency);
  }

  private get leaseMs(): number {
    return this.config.leaseSeconds * 1000;
  }

  get mode(): DelivererMode {
    return this.currentMode;
  }

  private enter(mode: DelivererMode): void {
    if (this.currentMode === mode) return;
    this.currentMode = mode;
    this.events.emit("mode", mode);
  }

  start(): void {
    this.started = true;
    this.enter("polling");
    // Extend three times per lease; abort a send once less than a sixth of its lease is left
    // confirmed — checked on its own tick, so an extension that hangs cannot hold the check up.
    this.leaseTimer = setInterval(() => {
      this.abortLapsing();
      if (!this.extending && performance.now() - this.lastExtension >= this.leaseMs / 3) void this.extendLeases();
    }, Math.max(50, this.leaseMs / 6));
    this.wake();
  }

  /** Something may be due: claim as soon as there is room. Cheap to call often. */
  wake(): void {
    this.claimWanted = true;
    this.pump();
  }

  /**
   * Stops claiming, waits up to `graceMs` for sends in flight, aborts the rest (recording the
   * targets they reached, attempt uncounted), records every outcome and gives back the rows not
   * sent, so another process sends them without waiting for the lease.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.enter("stopping");
    if (this.databaseRetry) clearTimeout(this.databaseRetry);
    if (this.slowSendCheck) clearTimeout(this.slowSendCheck);
    await this.claiming;
    const drained = new Promise<void>((resolve) => {
      this.idle = resolve;
      if (this.inFlight === 0) resolve();
    });
    const deadline = new Promise<boolean>((resolve) => setTimeout(() => resolve(true), graceMs).unref());
    if (await Promise.race([drained.then(() => false), deadline])) {
      this.logger.warn({ inFlight: this.inFlight }, "shutdown grace over: aborting sends still in flight");
      for (const held of this.held.values()) held.controller?.abort(new ShuttingDown("shutting down"));
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
    this.enter("stopped");
  }

  private template(id: number): TemplateState {
    let state = this.templates.get(id);
    if (!state) {
      state = { settings: null, inFlight: 0, held: 0, failures: 0, openUntil: 0, cooldownMs: BREAKER_COOLDOWN_MS };
      this.templates.set(id, state);
    }
    return state;
  }

  /**
   * The row's template settings, parsed only when its texts differ from the last row's (the
   * template was changed): every row of one version gets the same objects, so the type's check
   * of the configuration runs once per version (attemptDelivery).
   */
  private settingsOf(row: ClaimedNotification, state: TemplateState): TemplateSettings {
    const known = state.settings;
    if (known && known.configurationText === row.configurationText && known.messagesText === row.messagesText) return known;
    state.settings = {
      configurationText: row.configurationText,
      messagesText: row.messagesText,
      configuration: JSON.parse(row.configurationText) as Record<string, unknown>,
      messages: row.messagesText === null ? null : JSON.parse(row.messagesText),
    };
    return state.settings;
  }

  /** May a row of this template start now? Its share of the concurrency, one at a time once its breaker reopens. */
  private mayStart(state: TemplateState, now: number): boolean {
    if (state.openUntil > now) return false;
    const halfOpen = state.failures >= BREAKER_FAILURES;
    return state.inFlight < (halfOpen ? 1 : this.templateCap);
  }

  private pump(): void {
    // Not before start(): rows claimed while the service could still fail to start (its HTTP
    // port taken) would stay leased, unextended and unreleased, until the lease lapsed.
    if (!this.started) return;
    const now = performance.now();
    for (let index = 0; !this.stopping && this.inFlight < this.config.concurrency && index < this.queue.length;) {
      const row = this.queue[index]!;
      if (!this.mayStart(this.template(row.templateId), now)) {
        index++;
        continue;
      }
      this.queue.splice(index, 1);
      void this.attempt(row);
    }
    if (this.stopping || !this.claimWanted || this.claiming || this.databaseRetry) return;
    // Queued rows of a template that may not start now leave room for the others' rows.
    const startable = this.queue.filter((row) => this.mayStart(this.template(row.templateId), now)).length;
    const room = this.config.concurrency * 2 - startable - this.inFlight;
    if (room <= 0) return;
    this.claimWanted = false;
    this.enter("polling");
    this.claiming = this.claim(Math.min(room, this.leastTemplateRoom(now))).finally(() => {
      this.claiming = null;
      this.pump();
    });
  }

  /**
   * How many more rows the fullest template still claimed may hold: a batch larger than that could
   * bring rows this process would only give back (each given-back row costs a claim and an
   * outcome for nothing — 15 % of the claims of a one-template backlog). Templates skipped by the
   * claim do not count; one not held yet may bring its whole share.
   */
  private leastTemplateRoom(now: number): number {
    let least = this.templateCap * 2;
    for (const state of this.templates.values()) {
      if (state.held > 0 && !this.claimSkips(state, now)) least = Math.min(least, this.templateCap * 2 - state.held);
    }
    return least;
  }

  /** A template to claim no rows of: its breaker is open, or this process holds its share (twice its sends) already. */
  private claimSkips(state: TemplateState, now: number): boolean {
    return state.openUntil > now || state.held >= this.templateCap * 2;
  }

  private skippedTemplates(now: number): number[] {
    const skipped: number[] = [];
    for (const [id, state] of this.templates) if (this.claimSkips(state, now)) skipped.push(id);
    return skipped;
  }

  private async claim(limit: number): Promise<void> {
    const sentAt = performance.now();
    try {
      const rows = await claimDue(this.db, {
        worker: this.config.worker,
        limit,
        leaseSeconds: this.config.leaseSeconds,
        maxAttempts: this.config.maxAttempts,
        maxAgeSeconds: this.config.maxAgeSeconds > 0 ? this.config.maxAgeSeconds : null,
        skipIds: [...this.held.keys()],
        skipTemplates: this.skippedTemplates(sentAt),
      });
      this.metrics.claimBatchSize.observe(rows.length);
      this.databaseIsBack();
      // A full batch means more may be due right now.
      if (rows.length === limit) this.claimWanted = true;
      for (const row of rows) {
        this.held.set(row.id, { row, leaseUntil: sentAt + this.leaseMs, controller: null, sentAt: 0 });
        const template = this.template(row.templateId);
        // One batch can bring more of one template than it may hold: give the excess back.
        if (template.held >= this.templateCap * 2) this.giveBack(row);
        else {
          template.held++;
          this.queue.push(row);
        }
      }
      void this.flush();
      // Nothing more to claim and nothing queued that may start: sleep (take the sleep lock), so
      // rows created meanwhile NOTIFY this process — also while sends to a slow receiver are in
      // flight, whose end would otherwise be the next look for work (migration 9).
      const now = performance.now();
      const idle = rows.length === 0 && !this.queue.some((row) => this.mayStart(this.template(row.templateId), now));
      if (idle && this.inFlight === 0) this.enter("waiting");
      this.events.emit("claimed", rows);
      if (idle && this.hasYoungSend(now)) {
        // Its end claims again; look once more in case it turns out to be stuck.
        this.onClaimed(false);
        this.slowSendCheck ??= setTimeout(() => {
          this.slowSendCheck = null;
          this.wake();
        }, SLOW_SEND_MS);
      } else this.onClaimed(idle);
    } catch (error) {
      this.databaseFailed("claim", error);
    }
  }

  /** A send started less than SLOW_SEND_MS ago is in flight. */
  private hasYoungSend(now: number): boolean {
    if (this.inFlight === 0) return false;
    for (const held of this.held.values()) if (held.controller && now - held.sentAt < SLOW_SEND_MS) return true;
    return false;
  }

  private async attempt(row: ClaimedNotification): Promise<void> {
    const controller = new AbortController();
    const held = this.held.get(row.id)!;
    held.controller = controller;
    held.sentAt = performance.now();
    const template = this.template(row.templateId);
    template.inFlight++;
    this.inFlight++;
    const settings = this.settingsOf(row, template);
    const result = await attemptDelivery({
      notificationId: row.id,
      templateName: row.templateName,
      notificationType: row.notificationType,
      configuration: settings.configuration,
      messages: settings.messages,
      trigger: row.trigger,
      job: row.jobSnapshot,
      urlBase: this.config.urlBase,
      // Rendered once: a retry sends exactly what the first attempt rendered.
      rendered: row.subject === null ? null : { subject: row.subject, body: row.body },
      deliveredTargets: row.deliveredTargets,
      controller,
    });
    held.controller = null;
    template.inFlight--;
    template.held--;
    this.inFlight--;
    const reason = controller.signal.reason;
    let outcome: AttemptOutcome;
    if (result.ok) {
      const { rendered, outcome: sent } = result;
      outcome = {
        id: row.id, leaseToken: row.leaseToken, kind: "sent", error: null, httpStatus: null, retryAfterSeconds: null,
        subject: rendered.subject, body: rendered.body, recipients: sent.recipients,
        notificationsSent: sent.notificationsSent, deliveredTargets: sent.deliveredTargets,
      };
      template.failures = 0;
      template.cooldownMs = BREAKER_COOLDOWN_MS;
    } else {
      const shuttingDown = reason instanceof ShuttingDown;
      outcome = {
        id: row.id, leaseToken: row.leaseToken,
        // Stopped by the shutdown: given back with the targets it reached, the attempt uncounted.
        kind: shuttingDown ? "released" : result.permanent ? "permanent" : "error",
        error: reason instanceof LeaseLost ? `aborted: ${reason.message}` : result.error,
        httpStatus: result.httpStatus, retryAfterSeconds: result.retryAfterSeconds,
        subject: result.rendered?.subject ?? null, body: result.rendered?.body ?? null, recipients: null,
        notificationsSent: null, deliveredTargets: result.deliveredTargets,
      };
      if (outcome.kind === "error" && !(reason instanceof LeaseLost)) this.failedAttempt(row, template);
    }
    this.log(row, outcome, (performance.now() - held.sentAt) / 1000);
    this.outcomes.push(outcome);
    if (row.trigger === "started") this.unblocking = true;
    void this.flush();
    if (this.inFlight === 0) this.idle?.();
    // Look for rows created meanwhile: transactions do not NOTIFY a busy process (migration 9).
    // With nothing else to do, falling asleep is that look (the listener claims once more after
    // taking the sleep lock), so a lone send costs one claim less.
    if (this.inFlight === 0 && this.queue.length === 0 && !this.claiming) this.onClaimed(true);
    else this.claimWanted = true;
    this.pump();
  }

  /** A failure that may pass: counts toward the template's breaker, which opens after BREAKER_FAILURES in a row. */
  private failedAttempt(row: ClaimedNotification, template: TemplateState): void {
    template.failures++;
    const now = performance.now();
    // Sends already in flight when it opened fail too: they do not reopen it or lengthen its pause.
    if (template.failures < BREAKER_FAILURES || template.openUntil > now) return;
    template.openUntil = now + template.cooldownMs;
    this.logger.warn({ template: row.templateName, failures: template.failures, pauseMs: template.cooldownMs },
      "circuit breaker open: pausing this template's sends");
    template.cooldownMs = Math.min(BREAKER_MAX_COOLDOWN_MS, template.cooldownMs * 2);
    // Its queued rows go back (attempt uncounted) rather than holding room others could use.
    for (let index = this.queue.length - 1; index >= 0; index--) {
      const queued = this.queue[index]!;
      if (queued.templateId !== row.templateId) continue;
      this.queue.splice(index, 1);
      template.held--;
      this.giveBack(queued);
    }
    // Claim again once it closes, even if nothing else wakes this process.
    setTimeout(() => this.wake(), template.openUntil - now).unref();
  }

  /** Hands a claimed row back unsent, its attempt uncounted (recorded with the next batch). */
  private giveBack(row: ClaimedNotification): void {
    this.outcomes.push({
      id: row.id, leaseToken: row.leaseToken, kind: "released", error: null, httpStatus: null, retryAfterSeconds: null,
      subject: null, body: null, recipients: null, notificationsSent: null, deliveredTargets: null,
    });
  }

  private log(row: ClaimedNotification, outcome: AttemptOutcome, seconds: number): void {
    const type = row.notificationType;
    this.metrics.sendDuration.observe({ type, outcome: outcome.kind === "sent" ? "sent" : outcome.kind === "released" ? "released" : "failed" }, seconds);
    const fields = {
      notification: row.id, job: row.jobId, template: row.templateName, type, trigger: row.trigger, attempt: row.attempts,
      durationMs: Math.round(seconds * 1000),
    };
    if (outcome.kind === "sent") this.logger.info(fields, "notification sent");
    else if (outcome.kind === "released") this.logger.info({ ...fields, deliveredTargets: outcome.deliveredTargets }, "send aborted by the shutdown; released");
  }

  /** Writes every buffered outcome; one round at a time, the next round takes what piled up. */
  private flush(): Promise<void> {
    if (this.flushing || this.outcomes.length === 0) return this.flushing ?? Promise.resolve();
    const batch = this.outcomes.splice(0);
    const unblocking = this.unblocking;
    this.unblocking = false;
    this.flushing = (async () => {
      try {
        const recorded = await this.recordBatch(batch);
        this.databaseIsBack();
        this.settled(batch, recorded);
        this.events.emit("recorded", recorded);
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
      else this.pump();
    })();
    return this.flushing;
  }

  private policy() {
    return { retryDelaySeconds: this.config.retryDelaySeconds, maxAttempts: this.config.maxAttempts };
  }

  /**
   * One statement for the batch. When it fails for one row's data (a value PostgreSQL refuses), the
   * rows are recorded one by one, and a row refused on its own fails with that error instead of
   * jamming the batch forever (CONTRACT §5.10). Throws when the database itself failed.
   */
  private async recordBatch(batch: AttemptOutcome[]): Promise<Map<string, string>> {
    try {
      return await recordOutcomes(this.db, batch, this.policy());
    } catch (error) {
      if (!isRowDataError(error)) throw error;
    }
    const recorded = new Map<string, string>();
    for (const outcome of batch) {
      let statuses: Map<string, string>;
      try {
        statuses = await recordOutcomes(this.db, [outcome], this.policy());
      } catch (error) {
        if (!isRowDataError(error)) throw error;
        const message = `could not record the outcome of this attempt: ${databaseMessage(error)}`;
        this.logger.error({ notification: outcome.id, error: message }, "outcome refused by the database; failing the row");
        statuses = await recordOutcomes(this.db, [{
          ...outcome, kind: "permanent", error: message, subject: null, body: null, recipients: null, notificationsSent: null,
        }], this.policy());
      }
      for (const [id, status] of statuses) recorded.set(id, status);
    }
    return recorded;
  }

  /** The batch is written: counts what became of each row and forgets it; reports the outcomes SQL ignored. */
  private settled(batch: AttemptOutcome[], recorded: Map<string, string>): void {
    const ignored: string[] = [];
    for (const outcome of batch) {
      const held = this.held.get(outcome.id);
      if (held) {
        const status = recorded.get(outcome.id);
        const type = held.row.notificationType;
        const fields = { notification: outcome.id, job: held.row.jobId, template: held.row.templateName, type, trigger: held.row.trigger,
                         attempt: held.row.attempts, error: outcome.error ?? undefined, httpStatus: outcome.httpStatus ?? undefined };
        if (status === "successful") this.metrics.sent.inc({ type });
        else if (status === "failed") {
          this.metrics.failed.inc({ type });
          this.logger.error(fields, "notification failed");
        } else if (status === "pending" && outcome.kind === "error") {
          this.metrics.retried.inc({ type });
          this.logger.warn(fields, "send failed, will retry");
        }
        this.forget(held);
      }
      if (!recorded.has(outcome.id)) ignored.push(outcome.id);
    }
    if (ignored.length > 0) {
      this.logger.warn({ notifications: ignored }, "outcomes not recorded: the rows are no longer this process's (lease lapsed and claimed by another, or finished)");
    }
  }

  private forget(held: Held): void {
    this.held.delete(held.row.id);
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

  /**
   * Extends every lease held under its token; a row the database no longer gives this process
   * (another holds it, or it was finished) is lost: its send is aborted.
   */
  private async extendLeases(): Promise<void> {
    const rows = [...this.held.values()].map((held) => held.row);
    const sentAt = performance.now();
    this.extending = true;
    this.lastExtension = sentAt;
    try {
      const extended = await extendLeases(this.db, rows, this.config.leaseSeconds);
      for (const row of rows) {
        const held = this.held.get(row.id);
        if (!held) continue;
        if (extended.has(row.id)) held.leaseUntil = sentAt + this.leaseMs;
        else this.lose(held, "another process holds the row now");
      }
    } catch (error) {
      this.databaseFailed("extend leases", error);
    } finally {
      this.extending = false;
    }
  }

  /** Rows whose lease, as last confirmed, is about to lapse: another process may claim them soon. */
  private abortLapsing(): void {
    const now = performance.now();
    for (const held of [...this.held.values()]) {
      if (held.leaseUntil - this.leaseMs / 6 <= now) this.lose(held, "the lease could not be extended in time (database unreachable or blocked)");
    }
  }

  /** The row is no longer safely this process's: abort its send, or drop it from the queue. */
  private lose(held: Held, why: string): void {
    if (held.controller) {
      if (held.controller.signal.aborted) return;
      this.logger.warn({ notification: held.row.id, template: held.row.templateName }, `aborting send: ${why}`);
      held.controller.abort(new LeaseLost(why));
      return;
    }
    const queued = this.queue.indexOf(held.row);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.template(held.row.templateId).held--;
      this.logger.warn({ notification: held.row.id }, `dropping a claimed row before sending it: ${why}`);
      this.forget(held);
    }
    // Otherwise its outcome is buffered or being written: SQL fences it by its token.
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

/** Errors a value of the statement causes (data exception, constraint, program limit), not the database being unreachable. */
function isRowDataError(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && (state.startsWith("22") || state.startsWith("23") || state.startsWith("54"));
}

function databaseMessage(error: unknown): string {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if ((cause as { code?: unknown }).code !== undefined) return cause.message;
  }
  return (error as Error).message;
}
