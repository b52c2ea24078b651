/**
 * The start/stop shape of the maintenance services (the grace sweep, the purge, the attachments'
 * health), as River's internal/maintenance services share one: `run()` every `intervalSeconds`,
 * never two runs at once (a run that outlasts the interval makes the next tick a no-op), and
 * stop() waits for the run in flight. A subclass implements run() and never throws from it.
 */
export abstract class PeriodicService {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  /** Set by stop(): a run that loops over batches ends after the batch in hand. */
  protected stopping = false;

  constructor(private readonly intervalSeconds: number) {}

  /** Starts the interval; with `runFirst`, runs once and waits for it before the first interval. */
  async start(options: { runFirst?: boolean } = {}): Promise<void> {
    if (options.runFirst) await this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.intervalSeconds * 1000);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One run now, or the one already in flight. */
  protected runOnce(): Promise<unknown> {
    this.running ??= this.run().finally(() => (this.running = null));
    return this.running;
  }

  protected abstract run(): Promise<unknown>;
}
