import type { DatabasePool } from "../db.js";
import type { Logger } from "../logger.js";
import { expireWrapups } from "../sql/expireWrapups.js";

export interface SweeperConfig {
  /** Seconds between runs of notifier.expire_wrapups(). */
  intervalSeconds: number;
  /** NOTIFIER_WRAPUP_GRACE: seconds after a job finished before its missing wrapup is given up on. */
  graceSeconds: number;
}

/**
 * Never give up (CONTRACT §5.4): fires the final notifications of jobs whose wrapup event never
 * came. Safe with any number of processes doing the same (the SQL is exactly-once).
 */
export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly db: DatabasePool, private readonly config: SweeperConfig, private readonly logger: Logger) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.sweep().finally(() => (this.running = null));
    }, this.config.intervalSeconds * 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  private async sweep(): Promise<void> {
    try {
      const expired = await expireWrapups(this.db, this.config.graceSeconds);
      if (expired > 0) this.logger.info({ jobs: expired }, "wrapup grace expired: final notifications created without host counts");
    } catch (error) {
      this.logger.warn({ error: (error as Error).message }, "wrapup sweep failed; trying again");
    }
  }
}
