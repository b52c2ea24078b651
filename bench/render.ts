/**
 * The default messages rendered through liquidjs (renderNotification's `liquidOnly`, the path
 * before the lean renderers) and through the lean renderers of defaults.ts, the same rows in the
 * same run, phases ordered A B B A so that a drift of the machine weighs on both alike.
 * Standalone, no database: `npx tsx bench/render.ts [rows]`. Prints µs per row and the ratio.
 */
import type { JobSnapshot } from "../src/job.js";
import { messageFormat, renderNotification } from "../src/render/render.js";
import { notificationTypes } from "../src/types/index.js";
import type { NotificationTypeName } from "../src/types/type.js";

const ROWS = Number(process.argv[2] ?? 20_000);
const URL_BASE = "https://awx.example.com";

/** A finished job as the AWX attachment snapshots it: counts, a few host names when it failed. */
function snapshot(index: number): JobSnapshot {
  const failed = index % 4 === 0;
  return {
    id: 100_000 + index,
    kind: "job",
    name: `deploy web ${index % 50}`,
    job_template_id: 7,
    organization_id: 1,
    status: failed ? "failed" : "successful",
    wrapup_dispatched: true,
    host_status_counts: failed ? { ok: 8, changed: 3, failures: 2 } : { ok: 10, changed: 3 },
    host_names: failed ? { failures: ["web3.example.com", "web7.example.com"], ok: [] } : null,
    extra: { playbook: "site.yml", launch_type: "manual" },
    created_at: "2026-01-02T03:04:00.000Z",
    started_at: "2026-01-02T03:04:05.000Z",
    finished_at: "2026-01-02T03:05:06.500Z",
    wrapup_expired_at: null,
  };
}

function rows(type: NotificationTypeName) {
  return Array.from({ length: ROWS }, (_, index) => ({
    template: { name: `${type}-default`, messages: null },
    format: messageFormat(notificationTypes[type]),
    trigger: index % 4 === 0 ? "error" as const : "success" as const,
    job: snapshot(index),
    urlBase: URL_BASE,
  }));
}

type Input = ReturnType<typeof rows>[number];

/** µs per row of rendering every row once, as the service does (awaiting each). */
async function phase(inputs: Input[], liquidOnly: boolean): Promise<number> {
  const started = performance.now();
  for (const input of inputs) await renderNotification(input, { liquidOnly });
  return ((performance.now() - started) * 1000) / inputs.length;
}

async function compare(type: NotificationTypeName): Promise<void> {
  const inputs = rows(type);
  for (const input of inputs.slice(0, 1000)) {
    const [liquid, lean] = [await renderNotification(input, { liquidOnly: true }), await renderNotification(input)];
    if (JSON.stringify(liquid) !== JSON.stringify(lean)) throw new Error(`${type}: the two paths differ for job ${input.job.id}`);
  }
  // Warm-up: both paths compiled and the parsed-template cache filled before timing.
  await phase(inputs.slice(0, 2000), true);
  await phase(inputs.slice(0, 2000), false);
  const a1 = await phase(inputs, true);
  const b1 = await phase(inputs, false);
  const b2 = await phase(inputs, false);
  const a2 = await phase(inputs, true);
  const liquid = (a1 + a2) / 2;
  const lean = (b1 + b2) / 2;
  console.log(
    `${type.padEnd(8)} ${ROWS} rows  liquid ${a1.toFixed(2)} / ${a2.toFixed(2)} µs/row  ` +
    `lean ${b1.toFixed(2)} / ${b2.toFixed(2)} µs/row  lean ÷ liquid ${(lean / liquid).toFixed(3)}×`,
  );
}

console.log(`node ${process.version}; phases A B B A (A = liquid, B = lean), same rows`);
await compare("webhook");
await compare("email");
