/**
 * The latency method shared by the service and graphile-worker: an open-loop client issues work
 * at a steady rate, notes when each COMMIT is acknowledged, and the sink notes when the matching
 * request (by Idempotency-Key) arrives; both on CLOCK_MONOTONIC, so the two processes agree.
 */
import { monotonicMs } from "./child.js";

/** The moderate steady rate of the latency runs, per second. */
export const LATENCY_RATE_PER_S = 200;
/** Samples dropped at the start (connections and caches warming up). */
const WARMUP_SAMPLES = 50;

export interface LatencyResult { p50: number; p90: number; p99: number; max: number; samples: number; ratePerSecond: number }

/**
 * Calls `issue(i)` at LATENCY_RATE_PER_S for `seconds` (stopping at twice that when the client
 * falls behind on a loaded machine); `issue` resolves once its COMMIT is acknowledged with the
 * key its request will carry. Returns each key's acknowledgement time, in issue order.
 */
export async function steadyLoad(seconds: number, issue: (index: number) => Promise<string>): Promise<Map<string, number>> {
  const committedAt = new Map<string, number>();
  const total = Math.round(seconds * LATENCY_RATE_PER_S);
  const started = monotonicMs();
  const stopAt = started + seconds * 2000;
  for (let i = 0; i < total && monotonicMs() < stopAt; i++) {
    const wait = started + (i * 1000) / LATENCY_RATE_PER_S - monotonicMs();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const key = await issue(i);
    committedAt.set(key, monotonicMs());
  }
  return committedAt;
}

/** Percentiles of arrival - commit over every key but the warm-up ones (a burst keeps them all: `warmup` 0). */
export function latencyStats(committedAt: Map<string, number>, arrivals: Map<string, number>, warmup = WARMUP_SAMPLES): LatencyResult {
  const latencies = [...committedAt].slice(warmup).map(([key, at]) => arrivals.get(key)! - at).sort((a, b) => a - b);
  if (latencies.length === 0 || latencies.some((latency) => !Number.isFinite(latency))) {
    throw new Error("a request is missing its arrival or its commit time");
  }
  const percentile = (fraction: number) => latencies[Math.min(latencies.length - 1, Math.round(fraction * (latencies.length - 1)))]!;
  return {
    p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99), max: latencies[latencies.length - 1]!,
    samples: latencies.length, ratePerSecond: LATENCY_RATE_PER_S,
  };
}
