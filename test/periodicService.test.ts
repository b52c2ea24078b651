import { afterEach, describe, expect, it, vi } from "vitest";
import { PeriodicService } from "../src/services/periodicService.js";

/** A run that lasts until the test releases it. */
class Gated extends PeriodicService {
  runs = 0;
  private release: (() => void) | null = null;
  protected run(): Promise<void> {
    this.runs += 1;
    return new Promise((resolve) => (this.release = resolve));
  }
  finish(): void {
    this.release?.();
    this.release = null;
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe("PeriodicService (the maintenance services' start/stop shape)", () => {
  it("never runs twice at once: ticks during a long run are no-ops, the next tick after it runs again", async () => {
    vi.useFakeTimers();
    const service = new Gated(1);
    await service.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(service.runs).toBe(1);
    await vi.advanceTimersByTimeAsync(5000); // five ticks while the first run is still going
    expect(service.runs).toBe(1);
    service.finish();
    await vi.advanceTimersByTimeAsync(1000);
    expect(service.runs).toBe(2);
    service.finish();
    await service.stop();
  });

  it("runs first when asked, and stop() waits for the run in flight, then runs nothing more", async () => {
    vi.useFakeTimers();
    const service = new Gated(1);
    const started = service.start({ runFirst: true });
    expect(service.runs).toBe(1);
    service.finish();
    await started;
    await vi.advanceTimersByTimeAsync(1000);
    expect(service.runs).toBe(2);
    let stopped = false;
    const stopping = service.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false); // the second run is still in flight
    service.finish();
    await stopping;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(service.runs).toBe(2);
  });
});
