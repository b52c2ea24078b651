import type { DatabasePool } from "../db.js";
import type { Logger } from "../logger.js";
import { purgeBatch, type PurgeCounts, type Retention } from "../sql/purgeBatch.js";
import { PeriodicService } from "./periodicService.js";

/** Rows of each kind one notifier.purge() call deletes at most: a short transaction, a few locks. */
export const DEFAULT_PURGE_BATCH = 1000;

export interface PurgerConfig extends Retention {
  /** Seconds between purges. */
  intervalSeconds: number;
  /** Rows per kind per batch (default DEFAULT_PURGE_BATCH). */
  batch?: number;
}

/**
 * Deletes what is past its retention, batch after batch, until a batch deletes nothing; returns
 * the totals per kind. Each batch skips the rows another session holds (claims, outcomes, host
 * transactions): they are left for the next purge, never waited for.
 */
export async function purgeAll(db: DatabasePool, retention: Retention, batch = DEFAULT_PURGE_BATCH): Promise<PurgeCounts> {
  const totals: PurgeCounts = { notifications: 0, job_events: 0, templates: 0, job_conditions: 0 };
  for (;;) {
    const counts = await purgeBatch(db, retention, batch);
    let deleted = 0;
    for (const [kind, count] of Object.entries(counts)) {
      totals[kind] = (totals[kind] ?? 0) + count;
      deleted += count;
    }
    if (deleted === 0) return totals;
  }
}

/**
 * Retention (CONTRACT §9): purges every `intervalSeconds`, the first time one interval after the
 * start. Safe with any number of processes doing the same (each batch skips the others' rows).
 */
export class Purger extends PeriodicService {
  constructor(private readonly db: DatabasePool, private readonly config: PurgerConfig, private readonly logger: Logger) {
    super(config.intervalSeconds);
  }

  protected run(): Promise<void> {
    return this.purge();
  }

  private async purge(): Promise<void> {
    try {
      const deleted = await purgeAll(this.db, this.config, this.config.batch);
      if (Object.values(deleted).some((count) => count > 0)) this.logger.info({ deleted }, "purged rows past their retention");
    } catch (error) {
      this.logger.warn({ error: (error as Error).message }, "purge failed; trying again at the next interval");
    }
  }
}
