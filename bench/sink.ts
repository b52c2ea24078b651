/**
 * The local webhook every delivery benchmark posts to, run as a child process (see child.ts).
 * It answers 200 to every request as soon as the body has arrived, counts requests, remembers
 * when the first and the last arrived (rates are measured here, at the receiver, the same way
 * for every sender), and, when asked, the arrival time of each Idempotency-Key (latency).
 */
import http from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { monotonicMs, serveParent } from "./child.js";

export interface SinkStats {
  count: number;
  /** Monotonic ms of the first and last request since the last reset (NaN before any). */
  firstMs: number;
  lastMs: number;
}

/** Requests counted from the first to the last arrival, and the time between them. */
export interface SinkSpan {
  requests: number;
  ms: number;
}

export function sinkSpan(stats: SinkStats): SinkSpan {
  return { requests: stats.count - 1, ms: stats.lastMs - stats.firstMs };
}

// The server runs only in the child (run.ts imports the types and sinkSpan above).
if (process.send) {
  let stats: SinkStats = { count: 0, firstMs: NaN, lastMs: NaN };
  let arrivals: Map<string, number> | null = null;
  let countWaiters: Array<{ count: number; resolve: () => void }> = [];

  const server = http.createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      const now = monotonicMs();
      if (stats.count === 0) stats.firstMs = now;
      stats.lastMs = now;
      stats.count++;
      const key = request.headers["idempotency-key"];
      if (arrivals && typeof key === "string") arrivals.set(key, now);
      response.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
      response.end("ok");
      if (countWaiters.length) {
        countWaiters = countWaiters.filter((waiter) => (stats.count >= waiter.count ? (waiter.resolve(), false) : true));
      }
    });
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");

  serveParent({
    url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    /** Starts a new measurement; `record` keeps each Idempotency-Key's arrival time. */
    reset: ({ record }) => {
      stats = { count: 0, firstMs: NaN, lastMs: NaN };
      arrivals = record ? new Map() : null;
      return true;
    },
    stats: () => stats,
    /** Resolves with the stats once `count` requests have arrived, or after `timeoutMs`. */
    waitFor: async ({ count, timeoutMs }) => {
      if (stats.count < (count as number)) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs as number);
          countWaiters.push({ count: count as number, resolve: () => (clearTimeout(timer), resolve()) });
        });
      }
      return stats;
    },
    arrivals: () => [...(arrivals ?? new Map()).entries()],
  });
}
