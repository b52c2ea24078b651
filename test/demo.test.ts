import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { expect, it } from "vitest";
import { freePort } from "../src/embedded.js";
import { PACKAGE_ROOT } from "../src/migrate.js";
import { createTestDatabase } from "./helpers/database.js";
import { afterFile } from "./helpers/afterFile.js";

/** A line the demo's receiver prints: `receiver: job #12 started 'Deploy web tier' (…)`. */
const RECEIVED = /^receiver: job #(\d+) (started|success|error) /;
const JOBS_TO_WATCH = 4;

it("start --demo shows started then final notifications for several jobs, and Ctrl-C stops it cleanly", async () => {
  const databaseUrl = await createTestDatabase();
  const port = await freePort();
  const child = spawn(path.join(PACKAGE_ROOT, "bin", "pg-job-notifier"), ["start", "--demo"], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, NOTIFIER_HTTP: `127.0.0.1:${port}`, NOTIFIER_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  afterFile(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));

  /** Per job, the triggers the receiver printed, in the order it printed them. */
  const received = () => {
    const byJob = new Map<string, string[]>();
    for (const line of stdout.split("\n")) {
      const match = RECEIVED.exec(line);
      if (match) byJob.set(match[1]!, [...(byJob.get(match[1]!) ?? []), match[2]!]);
    }
    return byJob;
  };
  const completeJobs = () => [...received().values()].filter((triggers) => triggers.length === 2);

  const deadline = Date.now() + 120_000;
  while (completeJobs().length < JOBS_TO_WATCH) {
    if (child.exitCode !== null) throw new Error(`start --demo exited with ${child.exitCode}:\n${stdout}\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`the receiver did not print ${JOBS_TO_WATCH} jobs:\n${stdout}\n${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }

  // Each job: exactly one started, then exactly one final notification.
  for (const triggers of received().values()) {
    expect(triggers[0]).toBe("started");
    expect(triggers.slice(1).every((trigger) => trigger === "success" || trigger === "error")).toBe(true);
    expect(triggers.length).toBeLessThanOrEqual(2);
  }
  expect(stdout).toMatch(/web view/i);

  child.kill("SIGINT");
  const [code] = await once(child, "exit");
  expect(code, `${stdout}\n${stderr}`).toBe(0);
}, 180_000);
