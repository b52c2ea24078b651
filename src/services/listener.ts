import pgListen from "pg-listen";
import { APPLICATION_NAMES, connectionConfig } from "../databaseUrl.js";
import type { Logger } from "../logger.js";
import { SleepLock } from "./sleepLock.js";

/** The channel notifier.wake_listeners() notifies (CONTRACT §1). */
export const NOTIFY_CHANNEL = "notifier";
/** Longest pause between reconnection attempts. */
export const MAX_RECONNECT_INTERVAL_MS = 2000;

export interface ListenerConfig {
  databaseUrl: string;
  /** Wake-up without a NOTIFY this often, so a lost notification delays a row at most this long. */
  pollIntervalSeconds: number;
}

/**
 * LISTEN notifier on a connection of its own, reconnecting forever. NOTIFY is only a hint:
 * `onWake` runs on every notification, after every (re)connection (what was sent while
 * disconnected is gone) and on a fallback timer.
 *
 * Adaptive wake-up (migration 9): transactions NOTIFY only while a service sleeps, so the
 * deliverer reports after each claim whether it has anything to do; idle() takes the sleep lock
 * (then claims once more), busy() lets it go. See SleepLock.
 */
export class Listener {
  private subscriber: ReturnType<typeof pgListen.default> | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private connected = false;
  private subscribed = false;
  private readonly sleepLock: SleepLock;

  constructor(private readonly config: ListenerConfig, private readonly logger: Logger, private readonly onWake: () => void) {
    this.sleepLock = new SleepLock(config.databaseUrl, logger, () => this.onWake());
  }

  /** The LISTEN connection (made at start: its TLS may take a first connection to settle). */
  private async subscribe(): Promise<ReturnType<typeof pgListen.default>> {
    const subscriber = pgListen.default(await connectionConfig(this.config.databaseUrl, APPLICATION_NAMES.listen), {
      retryTimeout: Infinity,
      retryInterval: (attempt) => Math.min(100 * 2 ** attempt, MAX_RECONNECT_INTERVAL_MS),
      paranoidChecking: 10_000,
      // The payload is a constant hint, not JSON.
      parse: (payload) => payload,
    });
    subscriber.notifications.on(NOTIFY_CHANNEL, () => this.onWake());
    subscriber.events.on("connected", () => {
      if (!this.connected && this.subscribed) this.logger.info("listening again after reconnecting");
      this.connected = true;
      this.onWake();
    });
    subscriber.events.on("reconnect", (attempt) => {
      // No NOTIFY reaches us now: let transactions stop paying for them; "connected" claims.
      this.sleepLock.wake();
      if (this.connected) this.logger.warn("lost the LISTEN connection; reconnecting");
      this.connected = false;
      if (attempt % 10 === 0) this.logger.warn({ attempt }, "still reconnecting the LISTEN connection");
    });
    subscriber.events.on("error", (error) => this.logger.warn({ error: error.message }, "LISTEN connection error"));
    return subscriber;
  }

  /** The last claim found nothing and nothing is in flight: sleep (only while LISTEN is in effect). */
  idle(): void {
    if (this.listening) this.sleepLock.sleep();
  }

  /** There is work: this process claims again by itself after each send. */
  busy(): void {
    this.sleepLock.wake();
  }

  /** True while connected with LISTEN in effect. */
  get listening(): boolean {
    return this.connected && this.subscribed;
  }

  async start(): Promise<void> {
    this.subscriber = await this.subscribe();
    await this.subscriber.connect();
    await this.subscriber.listenTo(NOTIFY_CHANNEL);
    this.subscribed = true;
    this.pollTimer = setInterval(() => this.onWake(), this.config.pollIntervalSeconds * 1000);
    this.onWake();
  }

  async stop(): Promise<void> {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.subscribed = false;
    await this.sleepLock.close();
    await this.subscriber?.close().catch(() => {});
  }
}
