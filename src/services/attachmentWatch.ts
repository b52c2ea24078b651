import type { DatabasePool } from "../db.js";
import type { Logger } from "../logger.js";
import { listAttachments, type Attachment } from "../sql/listAttachments.js";
import { PeriodicService } from "./periodicService.js";

export interface AttachmentWatchConfig {
  /** Seconds between checks (NOTIFIER_ATTACHMENT_CHECK_INTERVAL). */
  intervalSeconds: number;
}

/**
 * Watches the attachments' health (notifier.attachments(): triggers present and enabled, columns
 * still there): a host upgrade that dropped a column with CASCADE, or a DBA's DISABLE TRIGGER,
 * silently stops notifications, so the service says so in its log and on /healthz (503) until
 * it is repaired. Checked at start and every interval; logs only changes.
 */
export class AttachmentWatch extends PeriodicService {
  private broken: readonly Attachment[] = [];
  private lastReport = "";

  constructor(private readonly db: DatabasePool, config: AttachmentWatchConfig, private readonly logger: Logger) {
    super(config.intervalSeconds);
  }

  /** No attachment is known to be broken. */
  get healthy(): boolean {
    return this.broken.length === 0;
  }

  /** Checks once before the service starts, then every interval. */
  override start(): Promise<void> {
    return super.start({ runFirst: true });
  }

  protected run(): Promise<void> {
    return this.check();
  }

  private async check(): Promise<void> {
    try {
      this.broken = (await listAttachments(this.db)).filter((attachment) => !attachment.healthy);
    } catch (error) {
      // Unreachable database: the deliverer's own health says so; keep the last answer.
      this.logger.debug({ error: (error as Error).message }, "attachment check failed; trying again");
      return;
    }
    const report = JSON.stringify(this.broken.map((a) => [a.name, a.problems]));
    if (report === this.lastReport) return;
    this.lastReport = report;
    for (const attachment of this.broken) {
      this.logger.error(
        { attachment: attachment.name, table: attachment.table, problems: attachment.problems },
        `attachment ${attachment.name} is broken: its jobs are not notified until it is repaired (pg-job-notifier attach …)`,
      );
    }
    if (this.broken.length === 0) this.logger.info("attachments healthy");
  }
}
