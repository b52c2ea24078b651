/**
 * The local webhook every delivery benchmark posts to, run as a child process (see child.ts).
 * It answers 200 to every request as soon as the body has arrived, counts requests, remembers
 * when the first and the last arrived (rates are measured here, at the receiver, the same way
 * for every sender), the CPU time of the benchmark's processes over that span (the sender, the
 * PostgreSQL backends, this sink), and, when asked, the arrival time of each Idempotency-Key
 * (latency).
 */
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { monotonicMs, serveParent } from "./child.js";

export interface SinkStats {
  count: number;
  /** Monotonic ms of the first and last request since the last reset (NaN before any). */
  firstMs: number;
  lastMs: number;
  /** The benchmark processes' CPU milliseconds (see benchCpuMs) and the requests counted between two samples of it. */
  cpu: BenchCpu & { requests: number };
}

/** Milliseconds between two samples of /proc/stat: often enough for a span of a second or more, rarely enough to cost nothing. */
export const CPU_SAMPLE_MS = 100;

/** CPU milliseconds (user + system) of the benchmark's processes: all, and PostgreSQL's and the sink's of them. */
export interface BenchCpu {
  totalMs: number;
  postgresMs: number;
  sinkMs: number;
}

/**
 * CPU used so far by the benchmark's own processes: every process descending from `rootPid` (the
 * benchmark run: the sender under test, the embedded PostgreSQL and its backends, this sink).
 * Other work on the machine does not count. NaN off Linux.
 */
export function benchCpuMs(rootPid: number): BenchCpu {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return { totalMs: NaN, postgresMs: NaN, sinkMs: NaN };
  }
  const processes = new Map<number, { command: string; parent: number; ticks: number }>();
  for (const pid of entries) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // The command name in parentheses (it may hold spaces), then state, ppid, … utime, stime.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    processes.set(Number(pid), {
      command: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
      parent: Number(fields[1]),
      ticks: Number(fields[11]) + Number(fields[12]),
    });
  }
  const descends = (pid: number): boolean => {
    for (let current = pid, depth = 0; current > 1 && depth < 64; depth++) {
      if (current === rootPid) return true;
      current = processes.get(current)?.parent ?? 0;
    }
    return false;
  };
  const ms = (ticks: number) => (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  const cpu = { totalMs: 0, postgresMs: 0, sinkMs: 0 };
  for (const [pid, { command, ticks }] of processes) {
    if (!descends(pid)) continue;
    cpu.totalMs += ms(ticks);
    if (command === "postgres") cpu.postgresMs += ms(ticks);
    if (pid === process.pid) cpu.sinkMs += ms(ticks);
  }
  return cpu;
}

/** Requests counted from the first to the last arrival, and the time between them. */
export interface SinkSpan {
  requests: number;
  ms: number;
  /** The benchmark processes' CPU milliseconds per request over the span (NaN when it was too short to sample). */
  cpuMsPerRequest: number;
  /** Of which PostgreSQL's (server and backends) and the sink's. */
  postgresCpuMsPerRequest: number;
  sinkCpuMsPerRequest: number;
}

export function sinkSpan(stats: SinkStats): SinkSpan {
  const { cpu } = stats;
  return {
    requests: stats.count - 1, ms: stats.lastMs - stats.firstMs,
    cpuMsPerRequest: cpu.totalMs / cpu.requests, postgresCpuMsPerRequest: cpu.postgresMs / cpu.requests, sinkCpuMsPerRequest: cpu.sinkMs / cpu.requests,
  };
}

// The server runs only in the child (run.ts imports the types and sinkSpan above).
if (process.send) {
  const emptyStats = (): SinkStats => ({ count: 0, firstMs: NaN, lastMs: NaN, cpu: { totalMs: 0, postgresMs: 0, sinkMs: 0, requests: 0 } });
  let stats = emptyStats();
  /** The first sample of the span (at the first request) and the time of the latest. */
  let firstSample: BenchCpu = { totalMs: NaN, postgresMs: NaN, sinkMs: NaN };
  let lastSampleMs = NaN;
  let arrivals: Map<string, number> | null = null;
  let countWaiters: Array<{ count: number; resolve: () => void }> = [];

  const server = http.createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      const now = monotonicMs();
      if (stats.count === 0) stats.firstMs = now;
      stats.lastMs = now;
      stats.count++;
      if (stats.count === 1 || now - lastSampleMs >= CPU_SAMPLE_MS) {
        const sample = benchCpuMs(process.ppid);
        if (stats.count === 1) firstSample = sample;
        else {
          stats.cpu = {
            totalMs: sample.totalMs - firstSample.totalMs, postgresMs: sample.postgresMs - firstSample.postgresMs,
            sinkMs: sample.sinkMs - firstSample.sinkMs, requests: stats.count - 1,
          };
        }
        lastSampleMs = now;
      }
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
      stats = emptyStats();
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
