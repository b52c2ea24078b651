import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, expect, test } from "vitest";
import { freePort } from "../src/embedded.js";
import { PACKAGE_ROOT } from "../src/migrate.js";
import { HttpReceiver } from "./helpers/httpReceiver.js";
import { addWebhook, runJob } from "./helpers/service.js";
import { afterFile } from "./helpers/afterFile.js";

// `npm start` on a bare machine: no DATABASE_URL, so an embedded PostgreSQL is initialised in the
// data folder, migrated, and the service runs; a second start reuses the same data.

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

interface Started {
  child: ChildProcess;
  databaseUrl: string;
  httpUrl: string;
  output: () => string;
}

async function start(dataDir: string): Promise<Started> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, NOTIFIER_DATA_DIR: dataDir, NOTIFIER_HTTP: `127.0.0.1:${port}`, NOTIFIER_POLL_INTERVAL: "0.5" };
  delete env.DATABASE_URL;
  delete env.TEST_DATABASE_URL;
  const child = spawn(path.join(PACKAGE_ROOT, "bin", "pg-job-notifier"), ["start"], { cwd: PACKAGE_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const deadline = Date.now() + 90_000;
  let match: RegExpExecArray | null;
  while (!(match = /database\s+(postgres:\/\/\S+)/.exec(output))) {
    if (child.exitCode !== null) throw new Error(`start exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`no banner:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, databaseUrl: match[1]!, httpUrl: `http://127.0.0.1:${port}`, output: () => output };
}

async function stop(started: Started, signal: NodeJS.Signals): Promise<number | null> {
  started.child.kill(signal);
  const [code] = await once(started.child, "exit");
  return code as number | null;
}

test("start with no DATABASE_URL runs an embedded PostgreSQL, delivers, stops cleanly and keeps its data", async () => {
  const folder = await mkdtemp(path.join(os.tmpdir(), "pg-job-notifier-start-"));
  afterFile(() => rm(folder, { recursive: true, force: true }));
  const dataDir = path.join(folder, "postgres");
  const receiver = await HttpReceiver.start();

  const first = await start(dataDir);
  expect(first.output()).toContain(`data in ${path.relative(PACKAGE_ROOT, dataDir)}`);
  expect((await fetch(`${first.httpUrl}/healthz`)).status).toBe(200);
  const db = new pg.Client({ connectionString: first.databaseUrl });
  await db.connect();
  await addWebhook(db, "first run", { url: `${receiver.url}/hook` });
  const jobId = await runJob(db, "hello");
  await db.end();
  const requests = await receiver.waitForRequests(2);
  expect(requests.map((r) => JSON.parse(r.body).status)).toEqual(["running", "successful"]);
  expect(requests.every((r) => JSON.parse(r.body).id === jobId)).toBe(true);
  expect(await stop(first, "SIGINT"), first.output()).toBe(0);

  const second = await start(dataDir);
  const again = new pg.Client({ connectionString: second.databaseUrl });
  await again.connect();
  const { rows } = await again.query("select count(*)::int as jobs from notifier.jobs");
  await again.end();
  expect(rows[0].jobs).toBe(1);
  expect(await stop(second, "SIGTERM"), second.output()).toBe(0);
}, 180_000);
