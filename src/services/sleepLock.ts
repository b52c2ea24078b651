import pg from "pg";
import { APPLICATION_NAMES, connectionConfig } from "../databaseUrl.js";
import type { Logger } from "../logger.js";

/**
 * How long a service waits for the sleep lock before it claims anyway and tries again. The lock
 * is granted once the transactions that created rows without notifying have ended (usually within
 * a commit); a longer wait means a long host transaction, or another service asleep.
 */
export const SLEEP_LOCK_WAIT_MS = 250;
/** After the session failed, stay awake this long (the fallback poll claims meanwhile). */
export const SLEEP_LOCK_RETRY_MS = 1000;

/**
 * The service's side of the adaptive wake-up (migration 9, notifier.wake_listeners): transactions
 * that create rows NOTIFY only while some service holds the sleep lock, so a busy service must
 * find new rows by itself (the deliverer claims again after every send) and an idle one must hold
 * the lock — on a session of its own, taken only while LISTEN is in effect — before its last claim.
 *
 *   sleep(): nothing to do. Takes the lock, then calls `recheck` for a claim that sees every row
 *            of the transactions that skipped their NOTIFY (the grant waits for them to end).
 *            Not granted in time: calls `recheck` anyway; an idle result calls sleep() again.
 *   wake():  work found. Releases the lock, so transactions stop notifying.
 *
 * One lock operation runs at a time; calls made meanwhile are settled when it ends. If the
 * session drops, the lock is gone with it: `recheck` runs, and a sleep() after
 * SLEEP_LOCK_RETRY_MS reconnects (until then the fallback poll claims).
 */
export class SleepLock {
  private client: pg.Client | null = null;
  private held = false;
  private wanted = false;
  private settling: Promise<void> | null = null;
  private closed = false;
  private pausedUntil = 0;

  constructor(private readonly databaseUrl: string, private readonly logger: Logger, private readonly recheck: () => void) {}

  sleep(): void {
    if (Date.now() < this.pausedUntil) return;
    this.wanted = true;
    this.settle();
  }

  wake(): void {
    this.wanted = false;
    this.settle();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.settling;
    await this.client?.end().catch(() => {});
    this.client = null;
  }

  private settle(): void {
    if (this.settling || this.closed || this.wanted === this.held) return;
    this.settling = (this.wanted ? this.acquire() : this.release())
      .catch((error: Error) => this.lost(error))
      .finally(() => {
        this.settling = null;
        this.settle();
      });
  }

  private async acquire(): Promise<void> {
    const client = await this.session();
    const { rows } = await client.query("select notifier.begin_listener_sleep($1) as held", [SLEEP_LOCK_WAIT_MS]);
    this.held = rows[0].held === true;
    // Not granted: stay awake until the recheck's claim says there is still nothing to do.
    if (!this.held) this.wanted = false;
    this.recheck();
  }

  private async release(): Promise<void> {
    await this.client!.query("select notifier.end_listener_sleep()");
    this.held = false;
  }

  private async session(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client(await connectionConfig(this.databaseUrl, APPLICATION_NAMES.sleepLock));
    client.on("error", (error) => {
      if (this.client === client) this.lost(error);
    });
    await client.connect();
    this.client = client;
    return client;
  }

  /** The session failed: its lock is gone. Claim once more; the next sleep() starts a new session. */
  private lost(error: Error): void {
    if (this.closed) return;
    this.logger.warn({ error: error.message }, "sleep-lock session failed; claiming, then reconnecting when idle");
    const client = this.client;
    this.client = null;
    this.held = false;
    this.wanted = false;
    this.pausedUntil = Date.now() + SLEEP_LOCK_RETRY_MS; // no reconnecting in a tight loop
    void client?.end().catch(() => {});
    this.recheck();
  }
}
