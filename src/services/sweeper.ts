import type { DatabasePool } from "../db.js";
import type { Logger } from "../logger.js";
import { expireWrapups } from "../sql/expireWrapups.js";
import { PeriodicService } from "./periodicService.js";

/** Jobs per batch: each batch is one short transaction of its own. */
export const DEFAULT_SWEEP_BATCH_SIZE = 500;

export interface SweeperConfig {
  /** Seconds between runs of notifier.expire_wrapups(). */
  intervalSeconds: number;
  /** Jobs per batch (default DEFAULT_SWEEP_BATCH_SIZE). */
  batchSize?: number;
}

/**
 * Never give up (CONTRACT §5.4): fires the final notifications of jobs whose wrapup never came,
 * once notifier.settings.wrapup_grace has passed since their final status (the one grace of the
 * database; every process agrees). Each run loops over bounded SKIP LOCKED batches until a batch
 * comes back short, so a long callback-receiver outage is swept in many short transactions that
 * never wait on a host writer. Safe with any number of processes doing the same.
 */
export class Sweeper extends PeriodicService {
  constructor(private readonly db: DatabasePool, private readonly config: SweeperConfig, private readonly logger: Logger) {
    super(config.intervalSeconds);
  }

  protected run(): Promise<number> {
    return this.sweep();
  }

  /** One run: batches until one comes back short. Returns how many jobs it expired. */
  async sweep(): Promise<number> {
    const batchSize = this.config.batchSize ?? DEFAULT_SWEEP_BATCH_SIZE;
    let total = 0;
    try {
      for (;;) {
        const expired = await expireWrapups(this.db, batchSize);
        total += expired;
        if (expired < batchSize || this.stopping) break;
      }
    } catch (error) {
      this.logger.warn({ error: (error as Error).message }, "wrapup sweep failed; trying again");
    }
    if (total > 0) this.logger.info({ jobs: total }, "wrapup grace expired: final notifications created without host counts");
    return total;
  }
}
