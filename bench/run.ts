/**
 * `npm run bench [-- --quick]`: the benchmark suite of CONTRACT §7. Prints a table and writes
 * bench/results.json; every figure sits beside its baseline, measured in the same run on the
 * same server (ratios hold on a shared machine, absolute rates do not). See docs/benchmarks.md.
 */
import os from "node:os";
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { BenchChild } from "./child.js";
import { createBareTables, describeMachine, openBenchServer } from "./database.js";
import { enqueueGraphileJobs, measureGraphileLatency } from "./graphileWorker.js";
import { sinkSpan, type SinkSpan, type SinkStats } from "./sink.js";
import { measureAttachedNotifyingTransitions, measureAttachedOrdinaryWrites } from "./attached.js";
import { measureNotifyingTransitions, measureOrdinaryWrites, WRITE_CLIENTS } from "./writes.js";
import { measureDelivery, measureLatency, startService } from "./service.js";
import { BURST_WRITERS, measureBurst, measureGraphileBurst, type BurstResult } from "./burst.js";

const quick = process.argv.includes("--quick");
/** `--only ceiling,delivery`: run only the phases whose names contain one of these words. */
const only = process.argv.find((arg) => arg.startsWith("--only="))?.slice("--only=".length).split(",");
/** Requests in flight for the plain client and for graphile-worker (and the service's --concurrency). */
export const HTTP_CONCURRENCY = 32;

const plan = quick
  ? { rounds: 1, roundMs: 1500, transitionJobs: 20_000, backlog: 3_000, latencySeconds: 3, deliveryRounds: 1, burstJobs: 150, burstRounds: 1 }
  : { rounds: 3, roundMs: 4000, transitionJobs: 100_000, backlog: 20_000, latencySeconds: 15, deliveryRounds: 2, burstJobs: 300, burstRounds: 2 };

/** A webhook body like the service's default one (AWX's job metadata as JSON). */
export const SAMPLE_BODY = JSON.stringify({
  id: 123456, name: "Deploy web tier", url: "https://awx.example.com/#/jobs/playbook/123456",
  created_by: "admin", started: "2026-11-29T12:00:00.000000+00:00", finished: "2026-11-29T12:03:14.000000+00:00",
  status: "successful", traceback: "", inventory: "Production", project: "Web", playbook: "site.yml",
  credential: "Machine", limit: "", extra_vars: "{}", hosts: { "web-01": { ok: 12, changed: 3, failures: 0 } },
  host_status_counts: { ok: 1, changed: 1 },
});

const results: Record<string, unknown> = { quick, started_at: new Date().toISOString() };
const table: Array<[string, string, string, string, string]> = [];
const rate = (value: number) => `${Math.round(value).toLocaleString("en-US")}/s`;
const times = (value: number) => `${value.toFixed(2)}×`;

async function phase<T>(name: string, body: () => Promise<T>): Promise<T | undefined> {
  if (only && !only.some((word) => name.includes(word))) return undefined;
  const started = performance.now();
  process.stderr.write(`bench: ${name}…`);
  try {
    const value = await body();
    process.stderr.write(` ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    return value;
  } catch (error) {
    process.stderr.write(` failed: ${(error as Error).message}\n`);
    (results.errors as string[] | undefined) ?? (results.errors = []);
    (results.errors as string[]).push(`${name}: ${(error as Error).message}`);
    return undefined;
  }
}

const server = await openBenchServer();
const sink = await BenchChild.start("sink");
const sinkUrl = await sink.call<string>("url");
try {
  const writesUrl = await server.createDatabase("writes");
  await createBareTables(writesUrl);
  results.machine = { ...(await describeMachine(writesUrl)), embedded_postgres: server.embedded, load_average_at_start: os.loadavg().map((l) => +l.toFixed(2)) };

  const ordinary = await phase("ordinary writes", () => measureOrdinaryWrites(writesUrl, plan.rounds, plan.roundMs));
  if (ordinary) {
    Object.assign(results, {
      ordinary_write_ratio: ordinary.ratio,
      ordinary_write_tx_per_s: ordinary.product.per_s,
      ordinary_write_bare_tx_per_s: ordinary.bare.per_s,
    });
    table.push([`ordinary writes (${WRITE_CLIENTS} clients)`, rate(ordinary.product.per_s), `bare tables ${rate(ordinary.bare.per_s)}`, times(ordinary.ratio), "≥ 0.95×"]);
  }

  const transitionsUrl = await server.createDatabase("transitions");
  await createBareTables(transitionsUrl);
  const notifying = await phase("notifying transitions", () =>
    measureNotifyingTransitions(transitionsUrl, plan.rounds, plan.roundMs, plan.transitionJobs, { compareAlwaysNotify: true, webhookUrl: sinkUrl }));
  if (notifying) {
    const always = notifying.variants.notifier_always_notify!;
    const outbox = notifying.variants.bare_with_outbox!;
    Object.assign(results, {
      notifying_transition_ratio: notifying.ratio,
      notifying_transition_vs_bare_outbox_ratio: notifying.product.per_s / outbox.per_s,
      bare_outbox_per_s: outbox.per_s,
      bare_outbox_ratio: outbox.ratio,
      notifying_transition_per_s: notifying.product.per_s,
      notifying_transition_bare_per_s: notifying.bare.per_s,
      notifying_transition_notified_fraction: (notifying.notified.notifier ?? 0) / notifying.product.transactions,
      notifying_transition_ratio_always_notify: always.ratio,
      notifying_transition_always_notify_notified_fraction: (notifying.notified.notifier_always_notify ?? 0) / always.transactions,
      notifying_transition_always_notify_per_s: always.per_s,
    });
    table.push([`notifying transitions (${WRITE_CLIENTS} clients)`, rate(notifying.product.per_s), `bare UPDATEs ${rate(notifying.bare.per_s)}`, times(notifying.ratio), ""]);
    table.push(["  … with NOTIFY in every transaction (before)", rate(always.per_s), `bare UPDATEs ${rate(notifying.bare.per_s)}`, times(always.ratio), ""]);
    table.push(["  … vs bare UPDATE + outbox INSERT, no triggers", rate(notifying.product.per_s), `bare with outbox ${rate(outbox.per_s)}`, times(notifying.product.per_s / outbox.per_s), "≥ 0.9× (the outbox floor)"]);
  }

  // The same on AWX's own main_unifiedjob, attached (notifier.attach_awx), as AWX writes it.
  const attachedOrdinary = await phase("attached ordinary writes", async () =>
    measureAttachedOrdinaryWrites(await server.createDatabase("attached_writes"), plan.rounds, plan.roundMs, WRITE_CLIENTS));
  if (attachedOrdinary) {
    Object.assign(results, {
      attached_ordinary_write_ratio: attachedOrdinary.ratio,
      attached_ordinary_write_tx_per_s: attachedOrdinary.product.per_s,
      attached_ordinary_write_bare_tx_per_s: attachedOrdinary.bare.per_s,
    });
    table.push([`attached AWX main_unifiedjob: ordinary writes (${WRITE_CLIENTS} clients)`, rate(attachedOrdinary.product.per_s),
      `same table unattached ${rate(attachedOrdinary.bare.per_s)}`, times(attachedOrdinary.ratio), "≥ 0.97×"]);
  }
  const attachedNotifying = await phase("attached notifying transitions", async () =>
    measureAttachedNotifyingTransitions(await server.createDatabase("attached_transitions"), plan.rounds, plan.roundMs, plan.transitionJobs, sinkUrl));
  if (attachedNotifying) {
    const outbox = attachedNotifying.variants.bare_with_outbox!;
    Object.assign(results, {
      attached_notifying_transition_ratio: attachedNotifying.ratio,
      attached_notifying_transition_vs_bare_outbox_ratio: attachedNotifying.product.per_s / outbox.per_s,
      attached_notifying_transition_per_s: attachedNotifying.product.per_s,
      attached_bare_outbox_per_s: outbox.per_s,
    });
    table.push(["  … notifying transitions vs bare UPDATE + outbox INSERT", rate(attachedNotifying.product.per_s),
      `bare with outbox ${rate(outbox.per_s)}`, times(attachedNotifying.product.per_s / outbox.per_s), "≥ 0.9×"]);
  }

  // The same with a delivery service running, as in production: it sleeps (so transactions
  // notify) whenever it has caught up. It shares the CPU with the writers on both sides.
  const withService = await phase("notifying transitions with a service running", async () => {
    const url = await server.createDatabase("transitions_service");
    await createBareTables(url);
    const service = await startService(url, HTTP_CONCURRENCY);
    try {
      return await measureNotifyingTransitions(url, plan.rounds, plan.roundMs, plan.transitionJobs, { compareAlwaysNotify: false, webhookUrl: sinkUrl });
    } finally {
      await service.stopService();
    }
  });
  if (withService) {
    const fraction = (withService.notified.notifier ?? 0) / withService.product.transactions;
    Object.assign(results, {
      notifying_transition_ratio_with_service: withService.ratio,
      notifying_transition_with_service_per_s: withService.product.per_s,
      notifying_transition_with_service_bare_per_s: withService.bare.per_s,
      notifying_transition_with_service_notified_fraction: fraction,
    });
    table.push([`  … with a service delivering meanwhile (${(fraction * 100).toFixed(1)} % notified)`, rate(withService.product.per_s),
      `bare UPDATEs ${rate(withService.bare.per_s)}`, times(withService.ratio), ""]);
  }

  const latency = await phase("latency", async () => measureLatency(await server.createDatabase("latency"), sink, sinkUrl, plan.latencySeconds));
  if (latency) {
    Object.assign(results, {
      latency_p50_ms: latency.p50, latency_p90_ms: latency.p90, latency_p99_ms: latency.p99, latency_max_ms: latency.max,
      latency_samples: latency.samples, latency_rate_per_s: latency.ratePerSecond,
    });
  }
  const graphileLatency = await phase("graphile-worker latency", async () =>
    measureGraphileLatency(await server.createDatabase("graphile_latency"), sink, sinkUrl, SAMPLE_BODY, plan.latencySeconds, HTTP_CONCURRENCY));
  if (graphileLatency) {
    Object.assign(results, {
      graphile_worker_latency_p50_ms: graphileLatency.p50, graphile_worker_latency_p90_ms: graphileLatency.p90,
      graphile_worker_latency_p99_ms: graphileLatency.p99, graphile_worker_latency_max_ms: graphileLatency.max,
    });
  }
  for (const [label, key, goal] of [["p50", "p50", "≤ 0.8× gw"], ["p99", "p99", "≤ 0.8× gw"]] as const) {
    if (!latency) break;
    const baseline = graphileLatency ? `graphile-worker ${graphileLatency[key].toFixed(2)} ms` : "";
    table.push([`latency at ${latency.ratePerSecond}/s, ${label}`, `${latency[key].toFixed(2)} ms`, baseline, graphileLatency ? times(latency[key] / graphileLatency[key]) : "", goal]);
  }

  // The burst, ABBA: product, graphile-worker, then graphile-worker, product; latencies of the
  // rounds of each side are pooled (p50/p99 over every job of its rounds).
  const burstSides = [
    { key: "burst", measure: async (round: number) => measureBurst(await server.createDatabase(`burst_${round}`), sink, sinkUrl, plan.burstJobs, HTTP_CONCURRENCY) },
    { key: "graphile_worker_burst", measure: async (round: number) =>
      measureGraphileBurst(await server.createDatabase(`graphile_burst_${round}`), sink, sinkUrl, SAMPLE_BODY, plan.burstJobs, HTTP_CONCURRENCY) },
  ];
  const bursts = new Map<string, BurstResult[]>();
  for (let round = 0; round < plan.burstRounds; round++) {
    for (const side of round % 2 === 0 ? burstSides : [...burstSides].reverse()) {
      const result = await phase(`${side.key.replace(/_/g, " ")} (round ${round + 1})`, () => side.measure(round));
      if (result) bursts.set(side.key, [...(bursts.get(side.key) ?? []), result]);
    }
    // The product again with its writers held to the COMMIT times graphile-worker's writers just
    // had: the same rows arriving at the same rate, whatever either side's writes cost.
    const graphileRound = bursts.get("graphile_worker_burst")?.[round];
    if (!graphileRound) continue;
    const paced = await phase(`burst at graphile-worker's pace (round ${round + 1})`, async () =>
      measureBurst(await server.createDatabase(`burst_paced_${round}`), sink, sinkUrl, plan.burstJobs, HTTP_CONCURRENCY, graphileRound.commitTimes));
    if (paced) bursts.set("burst_paced", [...(bursts.get("burst_paced") ?? []), paced]);
  }
  const pooled = (key: string) => {
    const rounds = bursts.get(key);
    if (!rounds || rounds.length === 0) return undefined;
    const mean = (pick: (result: BurstResult) => number) => rounds.reduce((sum, result) => sum + pick(result), 0) / rounds.length;
    return {
      p50: mean((r) => r.p50), p99: mean((r) => r.p99), max: Math.max(...rounds.map((r) => r.max)), commitSpanMs: mean((r) => r.commitSpanMs),
      rounds: rounds.map((r) => ({ p50: r.p50, p99: r.p99, max: r.max, commit_span_ms: r.commitSpanMs })),
    };
  };
  const productBurst = pooled("burst");
  const graphileBurst = pooled("graphile_worker_burst");
  if (productBurst) {
    Object.assign(results, { burst_latency_p50_ms: productBurst.p50, burst_latency_p99_ms: productBurst.p99, burst_latency_max_ms: productBurst.max,
      burst_commit_span_ms: productBurst.commitSpanMs,
      burst_rounds: productBurst.rounds, burst_jobs: plan.burstJobs, burst_writers: BURST_WRITERS });
  }
  if (graphileBurst) {
    Object.assign(results, { graphile_worker_burst_latency_p50_ms: graphileBurst.p50, graphile_worker_burst_latency_p99_ms: graphileBurst.p99,
      graphile_worker_burst_latency_max_ms: graphileBurst.max, graphile_worker_burst_rounds: graphileBurst.rounds,
      graphile_worker_burst_commit_span_ms: graphileBurst.commitSpanMs });
  }
  for (const key of ["p50", "p99"] as const) {
    if (!productBurst) break;
    table.push([`burst of ${plan.burstJobs} jobs, ${BURST_WRITERS} writers, ${key}`, `${productBurst[key].toFixed(1)} ms`,
      graphileBurst ? `graphile-worker ${graphileBurst[key].toFixed(1)} ms` : "", graphileBurst ? times(productBurst[key] / graphileBurst[key]) : "", "≤ 0.8× gw"]);
  }
  if (productBurst) {
    table.push(["  … the writers' first to last COMMIT", `${productBurst.commitSpanMs.toFixed(0)} ms`,
      graphileBurst ? `graphile-worker's ${graphileBurst.commitSpanMs.toFixed(0)} ms` : "", "", ""]);
  }
  const pacedBurst = pooled("burst_paced");
  if (pacedBurst && graphileBurst) {
    Object.assign(results, { burst_paced_latency_p50_ms: pacedBurst.p50, burst_paced_latency_p99_ms: pacedBurst.p99,
      burst_paced_latency_max_ms: pacedBurst.max, burst_paced_commit_span_ms: pacedBurst.commitSpanMs, burst_paced_rounds: pacedBurst.rounds });
    for (const key of ["p50", "p99"] as const) {
      table.push([`  … at graphile-worker's pace, ${key}`, `${pacedBurst[key].toFixed(1)} ms`, `graphile-worker ${graphileBurst[key].toFixed(1)} ms`,
        times(pacedBurst[key] / graphileBurst[key]), ""]);
    }
  }

  // The four senders drain the same backlog size into the same sink, in rounds ordered A B C D,
  // then D C B A, so a load that drifts during the run weighs on each of them alike.
  const senders: Array<{ name: string; key: string; measure: (round: number) => Promise<SinkSpan> }> = [
    { name: "plain HTTP client", key: "http_client_per_s", measure: () => measureHttpClient() },
    { name: "graphile-worker", key: "graphile_worker_per_s", measure: (round) => measureGraphileWorker(round) },
    { name: "delivery, 1 process", key: "delivery_per_s", measure: async (round) =>
      measureDelivery(await server.createDatabase(`delivery1_${round}`), sink, sinkUrl, plan.backlog, 1, HTTP_CONCURRENCY) },
    { name: "delivery, 2 processes", key: "delivery_per_s_2_processes", measure: async (round) =>
      measureDelivery(await server.createDatabase(`delivery2_${round}`), sink, sinkUrl, plan.backlog, 2, HTTP_CONCURRENCY) },
  ];
  const spans = new Map<string, SinkSpan[]>();
  for (let round = 0; round < plan.deliveryRounds; round++) {
    for (const sender of round % 2 === 0 ? senders : [...senders].reverse()) {
      const span = await phase(`${sender.name} (round ${round + 1})`, () => sender.measure(round));
      if (span) spans.set(sender.key, [...(spans.get(sender.key) ?? []), span]);
    }
  }
  const sum = (key: string, pick: (span: SinkSpan) => number) => spans.get(key)!.reduce((total, span) => total + pick(span), 0);
  const rateOf = (key: string) => (spans.has(key) ? sum(key, (span) => span.requests) / (sum(key, (span) => span.ms) / 1000) : undefined);
  /** The benchmark processes' CPU (sender, PostgreSQL, sink: bench/sink.ts) per delivered request, over the rounds' spans. */
  const perRow = (key: string, pick: (span: SinkSpan) => number) => sum(key, (span) => pick(span) * span.requests) / sum(key, (span) => span.requests);
  const cpuOf = (key: string) => (spans.has(key) ? perRow(key, (span) => span.cpuMsPerRequest) : undefined);
  const µs = (ms: number) => (ms * 1000).toFixed(0);
  const cpuText = (key: string) => `${µs(cpuOf(key)!)} µs CPU/row`;
  /** The CPU per row with its parts: the sender's own processes, PostgreSQL, the sink. */
  const cpuParts = (key: string) => {
    const postgres = perRow(key, (span) => span.postgresCpuMsPerRequest);
    const sinkPart = perRow(key, (span) => span.sinkCpuMsPerRequest);
    return `${cpuText(key)} (sender ${µs(cpuOf(key)! - postgres - sinkPart)}, PostgreSQL ${µs(postgres)}, sink ${µs(sinkPart)})`;
  };
  const ceiling = rateOf("http_client_per_s");
  const graphile = rateOf("graphile_worker_per_s");
  for (const { name, key } of senders) {
    if (!spans.has(key)) continue;
    const cpuKey = key.replace(/per_s/, "cpu_ms_per_row");
    results[cpuKey] = cpuOf(key);
    results[`${cpuKey}_postgresql`] = perRow(key, (span) => span.postgresCpuMsPerRequest);
    results[`${cpuKey}_sink`] = perRow(key, (span) => span.sinkCpuMsPerRequest);
    process.stderr.write(`bench: ${name}: ${cpuParts(key)}\n`);
  }
  if (ceiling) {
    results.http_client_per_s = ceiling;
    table.push([`plain undici client (concurrency ${HTTP_CONCURRENCY})`, rate(ceiling), "", "", "the ceiling"]);
    table.push(["", cpuText("http_client_per_s"), "", "", ""]);
  }
  if (graphile) {
    results.graphile_worker_per_s = graphile;
    if (ceiling) results.graphile_worker_vs_http_client = graphile / ceiling;
    table.push([`graphile-worker 0.17.3 (concurrency ${HTTP_CONCURRENCY}, batched)`, rate(graphile), ceiling ? `ceiling ${rate(ceiling)}` : "", ceiling ? times(graphile / ceiling) : "", ""]);
    table.push(["", cpuText("graphile_worker_per_s"), ceiling ? `ceiling ${cpuText("http_client_per_s")}` : "", ceiling ? times(cpuOf("graphile_worker_per_s")! / cpuOf("http_client_per_s")!) : "", ""]);
  }
  for (const [processes, key] of [[1, "delivery_per_s"], [2, "delivery_per_s_2_processes"]] as const) {
    const delivery = rateOf(key);
    if (!delivery) continue;
    results[key] = delivery;
    if (ceiling) results[`${key}_vs_http_client`] = delivery / ceiling;
    if (graphile) results[`${key}_vs_graphile_worker`] = delivery / graphile;
    const cpuKey = key.replace(/per_s/, "cpu_ms_per_row");
    if (graphile) results[`${cpuKey}_vs_graphile_worker`] = cpuOf(key)! / cpuOf("graphile_worker_per_s")!;
    table.push([`delivery from a backlog, ${processes} process${processes > 1 ? "es" : ""}`, rate(delivery),
      graphile ? `graphile-worker ${rate(graphile)}` : "", graphile ? times(delivery / graphile) : "", "≥ 1.5× gw"]);
    if (ceiling) table.push(["", "", `ceiling ${rate(ceiling)}`, times(delivery / ceiling), "≥ 0.5× ceiling"]);
    table.push(["", cpuText(key), graphile ? `graphile-worker ${cpuText("graphile_worker_per_s")}` : "",
      graphile ? times(cpuOf(key)! / cpuOf("graphile_worker_per_s")!) : "", ""]);
  }
} finally {
  await sink.stop();
  await server.close();
}

(results.machine as Record<string, unknown>).load_average_at_end = os.loadavg().map((l) => +l.toFixed(2));
results.finished_at = new Date().toISOString();
const file = fileURLToPath(new URL("./results.json", import.meta.url));
await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
printTable();
console.log(`\nmachine: ${JSON.stringify(results.machine)}\nwritten: ${file}`);
if (results.errors) process.exitCode = 1;

/** The ceiling: a plain undici client posts the backlog's number of bodies to the sink. */
async function measureHttpClient(): Promise<SinkSpan> {
  const client = await BenchChild.start("httpClient");
  try {
    await sink.call("reset", { record: false });
    await client.call("post", { url: sinkUrl, body: SAMPLE_BODY, total: plan.backlog, concurrency: HTTP_CONCURRENCY });
    return sinkSpan(await sink.call<SinkStats>("stats"));
  } finally {
    await client.stop();
  }
}

/** graphile-worker drains a backlog of jobs pre-inserted in a fresh database of its own. */
async function measureGraphileWorker(round: number): Promise<SinkSpan> {
  const url = await server.createDatabase(`graphile_${round}`);
  await enqueueGraphileJobs(url, plan.backlog, sinkUrl, SAMPLE_BODY);
  await sink.call("reset", { record: false });
  const worker = await BenchChild.start("graphileWorker");
  try {
    await worker.call("start", { connectionString: url, concurrency: HTTP_CONCURRENCY });
    const stats = await sink.call<SinkStats>("waitFor", { count: plan.backlog, timeoutMs: 120_000 });
    if (stats.count < plan.backlog) throw new Error(`only ${stats.count} of ${plan.backlog} jobs ran within 120 s`);
    await worker.call("stop");
    return sinkSpan(stats);
  } finally {
    await worker.stop();
  }
}

function printTable(): void {
  const header: [string, string, string, string, string] = ["figure", "value", "baseline (same run)", "ratio", "goal"];
  const widths = header.map((_, column) => Math.max(...[header, ...table].map((row) => row[column]!.length)));
  const line = (row: string[]) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd();
  console.log(`\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const row of table) console.log(line(row));
}
