import { once } from "node:events";
import { afterAll, describe, expect, it } from "vitest";
import { createHotPathPool } from "../src/db.js";
import { createLogger } from "../src/logger.js";
import { createMetrics } from "../src/metrics.js";
import { Deliverer, type DelivererMode } from "../src/services/deliverer.js";
import { closeHttpPools } from "../src/types/http.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { HttpReceiver } from "./helpers/httpReceiver.js";
import { addWebhook, rowsOf, runJob } from "./helpers/service.js";

// The engine in this process, beside the spawned-process tests: driven by wake() (no listener,
// no poll) and observed through its test signals, never through time.
const databaseUrl = await createTestDatabase();
const client = await connect(databaseUrl);
const db = await createHotPathPool(databaseUrl);
const receiver = await HttpReceiver.start();
afterAll(async () => {
  await closeHttpPools();
  await db.end();
});

function newDeliverer(overrides: Partial<ConstructorParameters<typeof Deliverer>[1]> = {}): Deliverer {
  return new Deliverer(db, {
    worker: `in-process-${Math.random().toString(16).slice(2)}`, concurrency: 4, templateConcurrency: null, leaseSeconds: 30,
    retryDelaySeconds: 0, maxAttempts: 2, maxAgeSeconds: 0, urlBase: "http://localhost", ...overrides,
  }, createLogger({ level: "silent", pretty: false }), createMetrics(async () => ({ pending: 0, pendingCapped: false, oldestDueSeconds: 0, oldestAwaitingWrapupSeconds: 0, notificationQueueUsage: 0 }), async () => false));
}

/**
 * Resolves once `count` rows have been recorded with a final status. After each batch it wakes the
 * deliverer, as the listener's poll would: a retry that is due again is found by the next claim.
 */
async function recordedFinal(deliverer: Deliverer, count: number): Promise<Map<string, string>> {
  const final = new Map<string, string>();
  while (final.size < count) {
    const [recorded] = await once(deliverer.events, "recorded") as [ReadonlyMap<string, string>];
    for (const [id, status] of recorded) if (status !== "pending") final.set(id, status);
    deliverer.wake();
  }
  return final;
}

describe("the deliverer in-process", () => {
  it("names its modes: stopped, polling, waiting, stopping, stopped; started before final; retries to failure", async () => {
    receiver.responder = (request) => (request.url === "/down" ? { status: 503, body: "down" } : { status: 200 });
    await addWebhook(client, "in-process up", { url: `${receiver.url}/up` }, { jobTemplateId: 1 });
    await addWebhook(client, "in-process down", { url: `${receiver.url}/down` }, { triggers: ["success"], jobTemplateId: 1 });
    const deliverer = newDeliverer();
    const modes: DelivererMode[] = [deliverer.mode];
    deliverer.events.on("mode", (mode) => modes.push(mode));
    const job = await runJob(client, "in-process job", "successful", 1);

    const recording = recordedFinal(deliverer, 3);
    deliverer.start();
    const recorded = await recording;
    expect([...recorded.values()].sort()).toEqual(["failed", "successful", "successful"]);
    const rows = await rowsOf(client, "job_id = $1", [job]);
    expect(rows.map((row) => [row.trigger, row.status, row.attempts])).toEqual([
      ["started", "successful", 1], ["success", "successful", 1], ["success", "failed", 2],
    ]);
    // Started went first: the final row of the same template was claimed only after it was recorded.
    const up = receiver.requests.filter((request) => request.url === "/up").map((request) => JSON.parse(request.body).status);
    expect(up).toEqual(["running", "successful"]);

    while (deliverer.mode !== "waiting") await once(deliverer.events, "mode");
    expect(deliverer.mode).toBe("waiting");
    await deliverer.stop(1000);
    expect(modes[0]).toBe("stopped");
    expect(modes).toContain("polling");
    expect(modes).toContain("waiting");
    expect(modes.slice(-2)).toEqual(["stopping", "stopped"]);
  });

  it("sends each row with its template's configuration and messages as they are when it is claimed", async () => {
    // Parsed and checked once per template version: an edit between two rows must still show.
    const template = await addWebhook(client, "in-process edited", { url: `${receiver.url}/before` },
      { triggers: ["started"], jobTemplateId: 3, messages: { started: { body: '{"version": 1}' } } });
    const deliverer = newDeliverer();
    deliverer.start();
    const first = recordedFinal(deliverer, 1);
    await runJob(client, "edited job 1", "running", 3);
    deliverer.wake();
    await first;
    await client.query(
      `update notifier.notification_templates set notification_configuration = $2, messages = $3 where id = $1`,
      [template, JSON.stringify({ url: `${receiver.url}/after` }), JSON.stringify({ started: { body: '{"version": 2}' } })]);
    const second = recordedFinal(deliverer, 1);
    await runJob(client, "edited job 2", "running", 3);
    deliverer.wake();
    await second;
    const sent = receiver.requests.filter((request) => request.url === "/before" || request.url === "/after");
    expect(sent.map((request) => [request.url, JSON.parse(request.body).version])).toEqual([["/before", 1], ["/after", 2]]);
    await deliverer.stop(1000);
  });

  it("claims a one-template backlog without claiming rows only to give them back", async () => {
    // concurrency 4: one template may hold 2 × 3 rows; a batch of up to 8 could bring more than
    // that, and each row given back would be claimed (and recorded) once more for nothing.
    await addWebhook(client, "in-process backlog", { url: `${receiver.url}/backlog` }, { triggers: ["started"], jobTemplateId: 4 });
    for (let i = 0; i < 60; i++) await runJob(client, `backlog job ${i}`, "running", 4);
    const deliverer = newDeliverer();
    let claimed = 0;
    deliverer.events.on("claimed", (rows) => (claimed += rows.length));
    const recording = recordedFinal(deliverer, 60);
    deliverer.start();
    expect([...(await recording).values()].every((status) => status === "successful")).toBe(true);
    await deliverer.stop(1000);
    expect(claimed).toBe(60);
  });

  it("claims nothing before start() and again on each wake()", async () => {
    await addWebhook(client, "in-process woken", { url: `${receiver.url}/woken` }, { triggers: ["started"], jobTemplateId: 2 });
    const deliverer = newDeliverer();
    deliverer.wake();
    expect(deliverer.mode).toBe("stopped");
    const claimed = once(deliverer.events, "claimed");
    deliverer.start();
    await claimed;
    await runJob(client, "woken job", "running", 2);
    const recording = recordedFinal(deliverer, 1);
    deliverer.wake();
    expect([...(await recording).values()]).toEqual(["successful"]);
    await deliverer.stop(1000);
  });
});
