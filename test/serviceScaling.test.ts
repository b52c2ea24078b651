import { expect, it } from "vitest";
import { connect, createTestDatabase } from "./helpers/database.js";
import { HttpReceiver } from "./helpers/httpReceiver.js";
import { addWebhook, rowsOf, runJob, ServiceProcess, waitUntilSettled } from "./helpers/service.js";

const databaseUrl = await createTestDatabase();
const db = await connect(databaseUrl);
const receiver = await HttpReceiver.start();

const keysOf = (path: string) =>
  receiver.requests.filter((request) => request.url === path).map((request) => String(request.headers["idempotency-key"]));

it("two processes share the work and never send a row twice", async () => {
  await addWebhook(db, "pair", { url: `${receiver.url}/pair` }, { jobTemplateId: 1 });
  const first = await ServiceProcess.start({ databaseUrl });
  for (let i = 0; i < 40; i++) await runJob(db, `job ${i}`, "successful", 1);
  const second = await ServiceProcess.start({ databaseUrl });
  for (let i = 40; i < 150; i++) await runJob(db, `job ${i}`, i % 3 === 0 ? "error" : "successful", 1);

  const rows = await waitUntilSettled(db);
  expect(rows).toHaveLength(300);
  expect(rows.every((row) => row.status === "successful" && row.attempts === 1)).toBe(true);
  const keys = keysOf("/pair");
  expect(keys).toHaveLength(300);
  expect(new Set(keys).size).toBe(300);

  first.kill("SIGTERM");
  second.kill("SIGTERM");
  expect(await first.waitForExit()).toEqual({ code: 0, signal: null });
  expect(await second.waitForExit()).toEqual({ code: 0, signal: null });
});

it("a process killed mid-send keeps its row until the lease lapses, then another sends it with the same key", async () => {
  const lease = { NOTIFIER_LEASE: "1.5" };
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  receiver.responder = async (request) => {
    if (request.url === "/held" && ++calls === 1) await held; // the first attempt hangs
    return { status: 200 };
  };
  await addWebhook(db, "held", { url: `${receiver.url}/held` }, { triggers: ["success"], jobTemplateId: 2 });

  const doomed = await ServiceProcess.start({ databaseUrl, env: lease });
  const job = await runJob(db, "held job", "successful", 2);
  await receiver.waitForRequests(1, (request) => request.url === "/held");

  // While the first process lives it keeps extending its lease: the other leaves the row alone.
  const survivor = await ServiceProcess.start({ databaseUrl, env: lease });
  await new Promise((resolve) => setTimeout(resolve, 4000));
  expect(keysOf("/held")).toHaveLength(1);

  doomed.kill("SIGKILL");
  expect((await doomed.waitForExit()).signal).toBe("SIGKILL");
  await receiver.waitForRequests(2, (request) => request.url === "/held");
  release();

  await expect.poll(async () => (await rowsOf(db, "job_id = $1", [job]))[0]?.status, { timeout: 30_000 }).toBe("successful");
  const [row] = await rowsOf(db, "job_id = $1", [job]);
  expect(keysOf("/held")).toEqual([String(row!.id), String(row!.id)]);
  await survivor.waitForLog((log) => log.msg === "notification sent" && log.job === job);
});
