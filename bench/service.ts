import type { BenchChild } from "./child.js";

export interface LatencyResult { p50: number; p99: number; max: number; samples: number; ratePerSecond: number }

export async function measureLatency(_url: string, _sink: BenchChild, _sinkUrl: string, _seconds: number): Promise<LatencyResult> {
  throw new Error("the delivery service is not available yet");
}

export async function measureDelivery(_url: string, _sink: BenchChild, _sinkUrl: string, _backlog: number, _processes: number, _concurrency: number): Promise<number> {
  throw new Error("the delivery service is not available yet");
}
