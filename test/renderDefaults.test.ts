import { describe, expect, test } from "vitest";
import { JOB_KINDS, JOB_STATUSES, TRIGGERS, type JobSnapshot } from "../src/job.js";
import { LEAN_DEFAULTS } from "../src/render/defaults.js";
import { APPROVAL_STATES, type ApprovalState } from "../src/render/messages.js";
import {
  defaultsContext, messageFormat, renderContext, renderLean, renderNotification, renderTemplate, type OutputContext,
} from "../src/render/render.js";
import { notificationTypes } from "../src/types/index.js";
import { NOTIFICATION_TYPE_NAMES } from "../src/types/type.js";
import { sampleJob } from "./helpers/delivery.js";

/**
 * The lean renderers of the defaults (defaults.ts) against liquidjs: generated snapshots rendered
 * both ways must give the same bytes, and the snapshots must be varied enough that a lean
 * renderer missing any one character of its template's text, or any one output, would differ.
 */

const OUTPUT_CONTEXTS: OutputContext[] = ["text", "json", "slack"];

/** A seeded generator (mulberry32): a failure names a snapshot that the next run makes again. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TEXTS = [
  "deploy web", "", "it's \"quoted\"", "back\\slash \\n \\\"", "two\nlines\r\nand\rmore", "  padded\t ",
  "unicode é 日本 🚀", "lone \ud800 high", "lone \udc00 low", "@channel @here @all @everyone @Channel @hereby x@here",
  "<>& &amp; <!here> <https://x|y>", "{{ job.id }} {% raw %}", "null", "0",
];
/** Plain values (strings, numbers, nil) and, rarer, values the lean path leaves to liquid. */
const PLAIN = [...TEXTS, 0, 42, -1, 1.5, 2 ** 53, 1e21, null, undefined];
const NOT_PLAIN = [true, false, {}, { a: 1 }, ["a", "b"], [], [["x"]]];
const HOST_NAMES = ["web1", "db-2.example.com", "<evil>&", "@here", "", "h\nx", "ünï", "\ud83d"];

function pick<T>(next: () => number, values: readonly T[]): T {
  return values[Math.floor(next() * values.length)]!;
}

function hostList(next: () => number): unknown {
  const roll = next();
  if (roll < 0.15) return undefined;
  if (roll < 0.25) return [];
  if (roll < 0.3) return Array.from({ length: 100 }, (_, index) => `host${index}`);
  if (roll < 0.33) return Array.from({ length: 101 }, (_, index) => `host${index}`);
  if (roll < 0.36) return ["web1", 7, null];
  return Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(next, HOST_NAMES));
}

/** A snapshot of random shape: any field may be missing, null, odd or (rarely) not plain. */
function generatedJob(next: () => number): JobSnapshot {
  const value = () => (next() < 0.9 ? pick(next, PLAIN) : pick(next, NOT_PLAIN));
  const counts = () => pick(next, [null, undefined, { ok: 2, changed: 1 }, { failures: 1 }, { failures: 3, dark: 150, ok: 9 }, { dark: 2 }]);
  const job: Record<string, unknown> = {
    id: next() < 0.7 ? Math.floor(next() * 100_000) : value(),
    kind: next() < 0.85 ? pick(next, JOB_KINDS) : pick(next, ["custom_kind", "", "toString", undefined]),
    name: next() < 0.3 ? "deploy web" : value(),
    status: next() < 0.85 ? pick(next, JOB_STATUSES) : value(),
    job_template_id: pick(next, [7, null]),
    organization_id: pick(next, [1, null]),
    wrapup_dispatched: next() < 0.5,
    host_status_counts: counts(),
    host_names: next() < 0.2 ? pick(next, [null, undefined, "not an object"]) : { failures: hostList(next), dark: hostList(next), ok: hostList(next) },
    extra: pick(next, [{}, null, { workflow_job_id: 7 }, { workflow_job_id: "8" }, { id: "shadow", name: "shadow", status: "x", playbook: "site.yml" }]),
    created_at: "2026-01-02T03:04:00.000Z",
    started_at: pick(next, ["2026-01-02T03:04:05.000Z", null]),
    finished_at: pick(next, ["2026-01-02T03:05:06.500Z", null, "not a date"]),
    wrapup_expired_at: pick(next, [null, null, "2026-01-02T03:10:06.500Z"]),
    timed_out: pick(next, [true, false, undefined]),
  };
  for (const key of Object.keys(job)) if (next() < 0.04) delete job[key];
  return job as unknown as JobSnapshot;
}

const URL_BASES = ["https://awx.example.com", "https://host/base/", "https://ci.example.com/#/runs/{kind}/{id}/output", "https://h/?a=1&b=<2>"];

interface Case {
  job: JobSnapshot;
  urlBase: string;
  state: ApprovalState | null;
}

const next = random(20261201);
const CASES: Case[] = Array.from({ length: 1500 }, () => ({
  job: generatedJob(next),
  urlBase: pick(next, URL_BASES),
  state: next() < 0.5 ? null : pick(next, APPROVAL_STATES),
}));
/** The cases whose values the lean renderers take, with both contexts built once. */
const LEAN_CASES = CASES.flatMap(({ job, urlBase, state }) => {
  const values = defaultsContext(job, urlBase, state);
  return values ? [{ values, context: renderContext(job, urlBase, state) }] : [];
});

describe("the lean renderers of the defaults", () => {
  test("take most generated snapshots, and leave to liquid those with a value they do not reproduce", () => {
    expect(LEAN_CASES.length).toBeGreaterThan(CASES.length * 0.6);
    expect(LEAN_CASES.length).toBeLessThan(CASES.length);
    const job = sampleJob({ status: "failed", host_names: { failures: ["web1"] } });
    expect(defaultsContext(job, URL_BASES[0]!)).not.toBeNull();
    expect(defaultsContext({ ...job, name: { a: 1 } as unknown as string }, URL_BASES[0]!)).toBeNull();
    expect(defaultsContext({ ...job, status: true as unknown as JobSnapshot["status"] }, URL_BASES[0]!)).toBeNull();
    expect(defaultsContext({ ...job, kind: "toString" as JobSnapshot["kind"] }, URL_BASES[0]!)).toBeNull();
    expect(defaultsContext({ ...job, host_names: { failures: ["web1", 1 as unknown as string] } }, URL_BASES[0]!)).toBeNull();
  });

  test("write every default, in every output context, byte for byte as liquid does", () => {
    let compared = 0;
    for (const source of LEAN_DEFAULTS.keys()) {
      for (const outputContext of OUTPUT_CONTEXTS) {
        for (const { values, context } of LEAN_CASES) {
          const lean = renderLean(source, values, outputContext);
          const liquid = renderTemplate(source, context, outputContext);
          if (lean !== liquid) expect({ source, outputContext, lean }).toEqual({ source, outputContext, lean: liquid });
          compared++;
        }
      }
    }
    expect(compared).toBe(LEAN_DEFAULTS.size * OUTPUT_CONTEXTS.length * LEAN_CASES.length);
  });

  /**
   * Each variant of a default without one character of its literal text (a missing space…), or
   * without one output, must render differently from the lean renderer for at least one case:
   * the cases reach every branch and every output, so the comparison above would see a lean
   * renderer that lost any of them.
   */
  test("are compared on cases that tell any one missing character or output", () => {
    const pieces = (source: string) => source.split(/(\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\})/);
    let variants = 0;
    for (const source of LEAN_DEFAULTS.keys()) {
      const parts = pieces(source);
      const mutants: string[] = [];
      parts.forEach((part, index) => {
        const without = (replacement: string) => [...parts.slice(0, index), replacement, ...parts.slice(index + 1)].join("");
        if (part.startsWith("{{")) mutants.push(without(""));
        else if (!part.startsWith("{%")) for (let char = 0; char < part.length; char++) mutants.push(without(part.slice(0, char) + part.slice(char + 1)));
      });
      for (const mutant of mutants) {
        const told = LEAN_CASES.some(({ values, context }) => renderTemplate(mutant, context, "text") !== renderLean(source, values, "text"));
        if (!told) expect({ source, untold: mutant }).toBeNull();
        variants++;
      }
    }
    // The defaults have about 700 characters of text and outputs in all.
    expect(variants).toBeGreaterThan(600);
  });

  test("give renderNotification the same subject, body or error as liquid alone, for every type and trigger", async () => {
    const messagesVariants: unknown[] = [
      null,
      {},
      // A custom part for another trigger only: the defaults apply.
      { started: { message: "{{ job.name }} began", body: "{{ job.id }}" } },
      // Empty custom parts mean the defaults.
      { success: { message: "", body: null }, error: { message: null, body: "" }, workflow_approval: { approved: { message: "" } } },
      // A custom message with the default body, and the reverse.
      { success: { message: "custom {{ job.name }}" }, error: { body: '{"n": "{{ job.name }}"}' } },
    ];
    let compared = 0;
    for (const notification_type of NOTIFICATION_TYPE_NAMES) {
      for (const trigger of TRIGGERS) {
        for (const [index, { job, urlBase }] of CASES.slice(0, 120).entries()) {
          const messages = messagesVariants[index % messagesVariants.length];
          const input = { template: { name: "t", messages }, format: messageFormat(notificationTypes[notification_type]), trigger, job, urlBase };
          const outcome = (rendered: Promise<unknown>) => rendered.then((value) => ({ value }), (error: Error) => ({ error: `${error.name}: ${error.message}` }));
          const lean = await outcome(renderNotification(input));
          const liquid = await outcome(renderNotification(input, { liquidOnly: true }));
          if (JSON.stringify(lean) !== JSON.stringify(liquid)) expect({ input, lean }).toEqual({ input, lean: liquid });
          compared++;
        }
      }
    }
    expect(compared).toBe(NOTIFICATION_TYPE_NAMES.length * TRIGGERS.length * 120);
  });
});
