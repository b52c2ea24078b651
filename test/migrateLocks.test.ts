import { spawn } from "node:child_process";
import { once } from "node:events";
import { copyFile, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect, test } from "vitest";
import { PACKAGE_ROOT, runMigrations } from "../src/migrate.js";
import { afterFile } from "./helpers/afterFile.js";
import { connect, createEmptyDatabase } from "./helpers/database.js";
import { addTemplate, backendPid, insertJob, setStatus, triggersOf, waitUntilBlocked } from "./helpers/jobs.js";

// An upgrade while a long reader holds a table the next migration must lock (CONTRACT §9): the
// migration gives up at the lock timeout with one line naming the table and who holds it, and a
// host write that queued behind the migration's lock request goes through then, while the reader
// is still open; `migrate` with --retries finishes once the reader is gone.

const CLI = path.join(PACKAGE_ROOT, "bin", "pg-job-notifier");

/** A copy of the committed migrations up to `last` (an older release). */
async function olderRelease(last: string): Promise<string> {
  const folder = await mkdtemp(path.join(os.tmpdir(), "notifier-release-"));
  afterFile(() => rm(folder, { recursive: true, force: true }));
  await mkdir(path.join(folder, "committed"));
  const source = path.join(PACKAGE_ROOT, "migrations", "committed");
  for (const file of await readdir(source)) {
    if (file.slice(0, 6) <= last) await copyFile(path.join(source, file), path.join(folder, "committed", file));
  }
  return folder;
}

test("a long reader on notifier.notification_templates: migrate fails fast in one line, a queued host write then goes through; --retries finishes", async () => {
  const url = await createEmptyDatabase();
  await runMigrations(url, { migrationsFolder: await olderRelease("000012") });
  const [setup, reader, host, observer] = await Promise.all([connect(url), connect(url), connect(url), connect(url)]);
  await addTemplate(setup, "ops");
  const job = await insertJob(setup, { status: "pending" });
  const [readerPid, hostPid] = await Promise.all([backendPid(reader), backendPid(host)]);

  // The long reader: a report reading the templates in an open transaction.
  await reader.query("begin");
  await reader.query("select count(*) from notifier.notification_templates");

  const child = spawn(CLI, ["migrate", "--lock-timeout", "3s"], {
    cwd: PACKAGE_ROOT, env: { ...process.env, DATABASE_URL: url, NOTIFIER_MIGRATE_DATABASE_URL: "" }, stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = once(child, "exit");

  // The migration asks for ACCESS EXCLUSIVE and waits behind the reader…
  const migratePid = await waitForLockRequest(observer, "notifier.notification_templates", "AccessExclusiveLock");
  // …and the host's write, which reads the templates to create its notification rows, queues behind it.
  const hostWrite = setStatus(host, job, "running");
  await waitUntilBlocked(observer, hostPid);
  const { rows: [blocking] } = await observer.query("select pg_blocking_pids($1) as pids", [hostPid]);
  expect(blocking.pids).toEqual([migratePid]);

  // The migration gives up at the lock timeout, saying which table and who holds it.
  const [code] = await exited;
  expect(code).toBe(1);
  expect(stderr).toMatch(new RegExp(
    "^pg-job-notifier: lock timeout \\(3s NOTIFIER_LOCK_TIMEOUT\\): \\d{6}-[\\w-]+\\.sql could not lock notifier\\.notification_templates " +
      `\\(locked by pid ${readerPid}, idle in transaction for \\d+s\\); nothing of it was applied\\n$`,
  ));
  // The host's write goes through while the reader is still open.
  await hostWrite;
  expect(await triggersOf(observer, job)).toEqual(["started"]);
  const { rows: [state] } = await observer.query("select state from pg_stat_activity where pid = $1", [readerPid]);
  expect(state.state).toBe("idle in transaction");

  // With retries: the reader finishes after the first timeout, the next try applies everything.
  const notes: string[] = [];
  const outcome = await runMigrations(url, {
    lockTimeoutSeconds: 1,
    retries: 3,
    retryWaitSeconds: 0.1,
    say: (line) => {
      notes.push(line);
      if (notes.length === 1) void reader.query("commit");
    },
  });
  expect(outcome).toBe("applied");
  expect(notes[0]).toMatch(/^lock timeout \(1s NOTIFIER_LOCK_TIMEOUT\): .* could not lock notifier\.notification_templates .*; trying again in 0\.1s \(1 of 3 retries\)$/);
  expect(await runMigrations(url)).toBe("up to date");
});

/** The pid of the backend waiting for `mode` on `relation`. */
async function waitForLockRequest(observer: import("pg").Client, relation: string, mode: string): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { rows } = await observer.query(
      "select pid from pg_locks where not granted and relation = to_regclass($1) and mode = $2", [relation, mode]);
    if (rows[0]) return rows[0].pid;
    if (Date.now() > deadline) throw new Error(`nobody asked for ${mode} on ${relation}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test("a concurrent index build that times out waiting for an older transaction: the next migrate drops its invalid index and builds it again", async () => {
  const url = await createEmptyDatabase();
  await runMigrations(url, { migrationsFolder: await olderRelease("000024") });
  const [blocker, observer] = await Promise.all([connect(url), connect(url)]);
  const blockerPid = await backendPid(blocker);
  // A snapshot older than the build, on any table: a pg_dump, a long report in REPEATABLE READ.
  await blocker.query("begin isolation level repeatable read");
  await blocker.query("select count(*) from pg_class");

  const failed = await runMigrations(url, { lockTimeoutSeconds: 1 }).then(() => null, (error: Error) => error);
  expect(failed?.message).toMatch(new RegExp(
    "^lock timeout \\(1s NOTIFIER_LOCK_TIMEOUT\\): 000025-notifications-finished-index\\.sql waited for older transactions to end, " +
      `as a concurrent index build does \\(oldest: pid ${blockerPid}, idle in transaction for \\d+s\\); ` +
      "the next migrate drops the invalid index it left and builds it again$",
  ));
  const validity = async () =>
    (await observer.query("select indisvalid from pg_index where indexrelid = to_regclass('notifier.notifications_finished_idx')")).rows;
  expect(await validity()).toEqual([{ indisvalid: false }]);

  await blocker.query("commit");
  const notes: string[] = [];
  expect(await runMigrations(url, { say: (line) => notes.push(line) })).toBe("applied");
  expect(notes).toEqual(["dropped notifier.notifications_finished_idx, an invalid index left by an interrupted concurrent build; building it again"]);
  expect(await validity()).toEqual([{ indisvalid: true }]);
});
