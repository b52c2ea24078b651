import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../src/embedded.js";
import { runMigrations } from "../src/migrate.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { HttpReceiver } from "./helpers/httpReceiver.js";
import { addWebhook, rowsOf, runJob, ServiceProcess, waitUntilSettled } from "./helpers/service.js";
import { afterFile } from "./helpers/afterFile.js";

const receiver = await HttpReceiver.start();
const keysOf = (path: string) =>
  receiver.requests.filter((request) => request.url === path).map((request) => String(request.headers["idempotency-key"]));

describe("connections terminated by the server", () => {
  it("recovers by itself from pg_terminate_backend of all its connections and loses nothing", async () => {
    const databaseUrl = await createTestDatabase();
    const db = await connect(databaseUrl);
    await addWebhook(db, "terminated", { url: `${receiver.url}/terminated` });
    const service = await ServiceProcess.start({ databaseUrl });
    const terminateService = () =>
      db.query("select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()");

    for (let round = 0; round < 5; round++) {
      const { rows } = await terminateService();
      expect(rows[0].n).toBeGreaterThan(0);
      // Rows created right after, while the service reconnects (their NOTIFY may be lost).
      for (let i = 0; i < 10; i++) await runJob(db, `round ${round} job ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }

    const rows = await waitUntilSettled(db);
    expect(rows).toHaveLength(100);
    expect(rows.every((row) => row.status === "successful")).toBe(true);
    expect(new Set(keysOf("/terminated"))).toEqual(new Set(rows.map((row) => String(row.id))));
    await service.waitUntilHealthy();
    await service.waitForLog((log) => log.msg === "listening again after reconnecting");
  });
});

describe("a PostgreSQL restart", () => {
  it("marks itself unhealthy while the server is down, then carries on with nothing lost", async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), "pg-job-notifier-restart-"));
    const server = await startEmbeddedPostgres({ dataDir: path.join(folder, "data"), persistent: true, settings: { fsync: "off" } });
    afterFile(async () => {
      await server.stop().catch(() => {});
      await rm(folder, { recursive: true, force: true });
    });
    await runMigrations(server.url);
    const db = await connect(server.url);
    await addWebhook(db, "restart", { url: `${receiver.url}/restart` }, { triggers: ["success"] });
    const service = await ServiceProcess.start({ databaseUrl: server.url });

    // A send in flight across the restart: its outcome is recorded once the server is back.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    receiver.responder = async (request) => {
      if (request.url === "/restart" && keysOf("/restart").length === 1) await held;
      return { status: 200 };
    };
    const before = await runJob(db, "before the restart");
    await receiver.waitForRequests(1, (request) => request.url === "/restart");
    await db.end();

    await server.server.stop();
    await expect.poll(() => service.health(), { timeout: 30_000 }).toBe(503);
    release();
    await server.server.start();
    await expect.poll(() => service.health(), { timeout: 60_000, interval: 200 }).toBe(200);

    const again = await connect(server.url);
    const after: number[] = [];
    for (let i = 0; i < 10; i++) after.push(await runJob(again, `after the restart ${i}`));
    const rows = await waitUntilSettled(again);
    expect(rows.map((row) => row.job_id).sort((a, b) => a - b)).toEqual([before, ...after]);
    expect(rows.every((row) => row.status === "successful")).toBe(true);
    // Each row went out exactly once, the one in flight during the restart included.
    expect(keysOf("/restart").sort()).toEqual(rows.map((row) => String(row.id)).sort());
    expect((await rowsOf(again, "job_id = $1", [before]))[0]).toMatchObject({ status: "successful", attempts: 1 });
    service.kill("SIGTERM");
    expect(await service.waitForExit()).toEqual({ code: 0, signal: null });
  });
});
