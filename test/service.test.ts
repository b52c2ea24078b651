import { describe, expect, it } from "vitest";
import { freePort } from "../src/embedded.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { eventually } from "./helpers/eventually.js";
import { HttpReceiver, type ReceivedRequest } from "./helpers/httpReceiver.js";
import { addWebhook, rowsOf, runCli, runJob, ServiceProcess, waitUntilSettled } from "./helpers/service.js";

const databaseUrl = await createTestDatabase();
const db = await connect(databaseUrl);
const receiver = await HttpReceiver.start();

/** Each test subscribes its templates to jobs of a job template of its own. */
let lastScope = 1000;
const newScope = () => ++lastScope;

/** Requests for one template, told apart by the path of its URL. */
const to = (template: string) => (request: ReceivedRequest) => request.url === `/${template}`;
const bodyOf = (request: ReceivedRequest) => JSON.parse(request.body) as Record<string, unknown>;

// The tests share one database and receiver and run in order; each uses templates of its own.
describe("one service process", () => {
  let service: ServiceProcess;

  it("drains the backlog left while no service ran: started before final, snapshots, Idempotency-Key = id", async () => {
    const scope = newScope();
    await addWebhook(db, "backlog", { url: `${receiver.url}/backlog` }, { jobTemplateId: scope });
    const jobs: number[] = [];
    for (let i = 0; i < 20; i++) jobs.push(await runJob(db, `backlog job ${i}`, i % 4 === 0 ? "failed" : "successful", scope));
    expect((await rowsOf(db)).every((row) => row.status === "pending")).toBe(true);

    await db.query("update notifier.settings set wrapup_grace = '1 second'"); // the database's one grace
    service = await ServiceProcess.start({ databaseUrl, env: { NOTIFIER_MAX_ATTEMPTS: "3" } });
    const requests = await receiver.waitForRequests(40, to("backlog"));
    const rows = await waitUntilSettled(db);
    expect(rows.map((row) => row.status)).toEqual(rows.map(() => "successful"));
    expect(rows.every((row) => row.attempts === 1 && row.sent_at !== null && row.subject)).toBe(true);

    // Exactly one request per row, keyed by the row's id.
    const keys = requests.map((request) => request.headers["idempotency-key"]);
    expect(new Set(keys).size).toBe(40);
    expect([...keys].sort()).toEqual(rows.map((row) => String(row.id)).sort());

    for (const job of jobs) {
      const started = requests.findIndex((request) => bodyOf(request).id === job && bodyOf(request).status === "running");
      const final = requests.findIndex((request) => bodyOf(request).id === job && bodyOf(request).status !== "running");
      // The started message was sent after the job had finished, yet says running (a snapshot).
      expect(started).toBeGreaterThanOrEqual(0);
      // Both rows were pending together; the started one still went first.
      expect(final).toBeGreaterThan(started);
      expect(requests[final]!.headers["content-type"]).toMatch(/application\/json/);
    }
  });

  it("logs one line per send with job, template, trigger, attempt and duration", async () => {
    const line = await service.waitForLog((log) => log.msg === "notification sent" && log.template === "backlog");
    expect(line).toMatchObject({ level: 30, template: "backlog", type: "webhook", attempt: 1 });
    expect(typeof line.job).toBe("number");
    expect(["started", "success", "error"]).toContain(line.trigger);
    expect(typeof line.durationMs).toBe("number");
  });

  it("delivers a row created while it runs, woken by NOTIFY", async () => {
    const scope = newScope();
    await addWebhook(db, "live", { url: `${receiver.url}/live` }, { triggers: ["started"], jobTemplateId: scope });
    const job = await runJob(db, "live job", "running", scope);
    const [request] = await receiver.waitForRequests(1, to("live"));
    expect(bodyOf(request!)).toMatchObject({ id: job, name: "live job", status: "running" });
  });

  it("retries a flaky receiver to success with the same Idempotency-Key on every attempt", async () => {
    const scope = newScope();
    const failuresLeft = new Map<string, number>();
    receiver.responder = (request) => {
      if (!to("flaky")(request)) return { status: 200 };
      const key = String(request.headers["idempotency-key"]);
      const left = failuresLeft.get(key) ?? 2;
      failuresLeft.set(key, left - 1);
      return left > 0 ? { status: 503, body: "try again later" } : { status: 200 };
    };
    await addWebhook(db, "flaky", { url: `${receiver.url}/flaky` }, { triggers: ["success"], jobTemplateId: scope });
    const job = await runJob(db, "flaky job", "successful", scope);
    const requests = await receiver.waitForRequests(3, to("flaky"));
    const [row] = await waitForRow(job, "success", (row) => row.status !== "pending");
    expect(row).toMatchObject({ status: "successful", attempts: 3, error: null });
    expect(requests.map((request) => request.headers["idempotency-key"])).toEqual([String(row!.id), String(row!.id), String(row!.id)]);
    expect(requests.map((request) => request.body)).toEqual([requests[0]!.body, requests[0]!.body, requests[0]!.body]);
    await service.waitForLog((log) => log.msg === "send failed, will retry" && log.template === "flaky" && log.level === 40);
  });

  it("marks a dead receiver's row failed with the last error after the maximum attempts, and a hung one times out", async () => {
    const scope = newScope();
    receiver.responder = (request) => {
      if (to("dead")(request)) return { status: 500, body: "database is on fire" };
      if (to("hung")(request)) return { status: 200, delayMs: 60_000 };
      return { status: 200 };
    };
    await addWebhook(db, "dead", { url: `${receiver.url}/dead` }, { triggers: ["success"], jobTemplateId: scope });
    await addWebhook(db, "hung", { url: `${receiver.url}/hung`, timeout: 0.5 }, { triggers: ["success"], jobTemplateId: scope });
    const job = await runJob(db, "doomed job", "successful", scope);
    const rows = await waitForRow(job, "success", (row) => row.status !== "pending", 2);
    for (const row of rows) expect(row).toMatchObject({ status: "failed", attempts: 3 });
    const [dead, hung] = rows;
    expect(dead!.error).toMatch(/500/);
    expect(dead!.error).toMatch(/database is on fire/);
    expect(hung!.error).toMatch(/time|abort/i);
    expect(receiver.requests.filter(to("dead"))).toHaveLength(3);
  });

  it("keeps delivering to healthy receivers while another holds its requests", async () => {
    const scope = newScope();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    receiver.responder = async (request) => {
      if (to("slow")(request)) await held;
      return { status: 200 };
    };
    await addWebhook(db, "slow", { url: `${receiver.url}/slow` }, { triggers: ["success"], jobTemplateId: scope });
    await addWebhook(db, "fast", { url: `${receiver.url}/fast` }, { triggers: ["success"], jobTemplateId: scope });
    const jobs = [];
    for (const name of ["job a", "job b", "job c"]) jobs.push(await runJob(db, name, "successful", scope));
    await receiver.waitForRequests(3, to("slow"));
    await receiver.waitForRequests(3, to("fast"));
    const fastRows = "notification_template_id = (select id from notifier.notification_templates where name = 'fast')";
    await expect.poll(async () => (await rowsOf(db, fastRows)).map((row) => row.status), { timeout: 30_000 })
      .toEqual(["successful", "successful", "successful"]);
    // …while the slow receiver still holds every one of its requests.
    expect(receiver.requests.filter(to("slow"))).toHaveLength(3);
    release();
    for (const job of jobs) await waitForRow(job, "success", (row) => row.status === "successful", 2);
  });

  it("fails a row whose template does not render to valid JSON, names the template, and sends the others", async () => {
    const scope = newScope();
    await addWebhook(db, "broken body", { url: `${receiver.url}/broken` }, {
      triggers: ["success"],
      jobTemplateId: scope,
      messages: { success: { body: "{\"name\": {{ job.name }}}" } },
    });
    await addWebhook(db, "fine body", { url: `${receiver.url}/fine` }, {
      triggers: ["success"],
      jobTemplateId: scope,
      messages: { success: { body: "{\"name\": {{ job.name | json }}}" } },
    });
    const job = await runJob(db, 'a "quoted" name', "successful", scope);
    const [fine] = await receiver.waitForRequests(1, to("fine"));
    expect(bodyOf(fine!)).toEqual({ name: 'a "quoted" name' });
    const [broken] = await rowsOf(db, "job_id = $1 and notification_template_id = (select id from notifier.notification_templates where name = 'broken body')", [job]);
    const settled = broken!.status === "pending" ? (await waitForRow(job, "success", (row) => row.status !== "pending", 2))[0]! : broken!;
    expect(settled).toMatchObject({ status: "failed", attempts: 1 });
    expect(settled.error).toMatch(/broken body/);
    expect(settled.error).toMatch(/JSON/);
    expect(receiver.requests.filter(to("broken"))).toHaveLength(0);
  });

  it("never writes a password or token to its logs or to the recorded error", async () => {
    const scope = newScope();
    const password = "pw-Zq81-never-log-me";
    const token = "tok-Xy77-never-log-me";
    receiver.responder = (request) =>
      to("secret")(request) ? { status: 401, body: `denied for ${request.headers.authorization}` } : { status: 200 };
    await addWebhook(db, "secret", {
      url: `${receiver.url}/secret`, username: "robot", password, headers: { "X-Api-Token": token },
    }, { triggers: ["success"], jobTemplateId: scope });
    const job = await runJob(db, "secret job", "successful", scope);
    const [row] = await waitForRow(job, "success", (row) => row.status === "failed");
    expect(receiver.requests.filter(to("secret"))[0]!.headers["x-api-token"]).toBe(token);
    expect(row!.error).toMatch(/401/);
    for (const secret of [password, token, Buffer.from(`robot:${password}`).toString("base64")]) {
      expect(row!.error).not.toContain(secret);
      expect(service.output).not.toContain(secret);
    }
  });

  it("sends the final notification of a job whose wrapup event never came, once the grace has passed", async () => {
    const scope = newScope();
    await addWebhook(db, "grace", { url: `${receiver.url}/grace` }, { triggers: ["success"], jobTemplateId: scope });
    const { rows } = await db.query(
      "insert into notifier.jobs (name, status, job_template_id, wrapup_dispatched) values ('lost wrapup', 'running', $1, true) returning id",
      [scope],
    );
    const job = Number(rows[0].id);
    await db.query("update notifier.jobs set status = 'successful' where id = $1", [job]);
    const [request] = await receiver.waitForRequests(1, to("grace"));
    expect(bodyOf(request!)).toMatchObject({ id: job, status: "successful", host_status_counts: null });
    const { rows: snapshot } = await db.query(
      "select job_snapshot->>'wrapup_expired_at' as expired from notifier.notifications where job_id = $1", [job]);
    expect(snapshot[0].expired).not.toBeNull();
    await service.waitForLog((log) => log.msg.startsWith("wrapup grace expired"));
  });

  it("serves /healthz and /metrics", async () => {
    expect(await service.health()).toBe(200);
    const metrics = await service.metrics();
    expect(metrics).toMatch(/^notifier_notifications_sent_total\{type="webhook"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^notifier_notifications_failed_total\{type="webhook"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^notifier_notifications_retried_total\{type="webhook"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^notifier_claim_batch_size_count [1-9]\d*$/m);
    expect(metrics).toMatch(/^notifier_send_duration_seconds_count\{type="webhook",outcome="sent"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^notifier_backlog \d+$/m);
    // The health gauges come from notifier.health() with the backlog, in the same scrape.
    expect(metrics).toMatch(/^notifier_oldest_due_seconds [\d.e+-]+$/m);
    expect(metrics).toMatch(/^notifier_oldest_awaiting_wrapup_seconds [\d.e+-]+$/m);
    expect(metrics).toMatch(/^notifier_notification_queue_usage [\d.e+-]+$/m);
    expect(metrics).toMatch(/^process_cpu_seconds_total /m);
    expect((await fetch(`${service.httpUrl}/nothing-here`)).status).toBe(404);
  });

  it("on SIGTERM finishes the send in flight, releases what it holds and exits 0", async () => {
    const scope = newScope();
    let answered = false;
    receiver.responder = async (request) => {
      if (!to("last")(request)) return { status: 200 };
      await new Promise((resolve) => setTimeout(resolve, 1500));
      answered = true;
      return { status: 200 };
    };
    await addWebhook(db, "last", { url: `${receiver.url}/last` }, { triggers: ["success"], jobTemplateId: scope });
    const job = await runJob(db, "last job", "successful", scope);
    await receiver.waitForRequests(1, to("last"));
    service.kill("SIGTERM");
    expect(await service.waitForExit()).toEqual({ code: 0, signal: null });
    expect(answered).toBe(true);
    const [row] = await rowsOf(db, "job_id = $1", [job]);
    expect(row).toMatchObject({ status: "successful" });
    const { rows: held } = await db.query("select count(*)::int as n from notifier.notifications where locked_by is not null");
    expect(held[0].n).toBe(0);
  });
});

describe("signals and configuration", () => {
  it("a second signal exits at once, even with a send in flight", async () => {
    const scope = newScope();
    receiver.responder = (request) => (to("stuck")(request) ? { status: 200, delayMs: 60_000 } : { status: 200 });
    await addWebhook(db, "stuck", { url: `${receiver.url}/stuck` }, { triggers: ["success"], jobTemplateId: scope });
    const service = await ServiceProcess.start({ databaseUrl, env: { NOTIFIER_SHUTDOWN_GRACE: "60" } });
    await runJob(db, "stuck job", "successful", scope);
    await receiver.waitForRequests(1, to("stuck"));
    service.kill("SIGTERM");
    await service.waitForLog((log) => log.msg.startsWith("signal received"));
    // Signals within a second of the first are taken as the same request (Ctrl-C under npm).
    await new Promise((resolve) => setTimeout(resolve, 1200));
    service.kill("SIGTERM");
    expect(await service.waitForExit(10_000)).toEqual({ code: 143, signal: null });
  });

  it.each([
    [{ NOTIFIER_MAX_ATTEMPTS: "0" }, [], "NOTIFIER_MAX_ATTEMPTS"],
    [{ NOTIFIER_LEASE: "soon" }, [], "NOTIFIER_LEASE"],
    [{ NOTIFIER_RETRY_DELAY: "-1" }, [], "NOTIFIER_RETRY_DELAY"],
    [{ NOTIFIER_URL_BASE: "not a url" }, [], "NOTIFIER_URL_BASE"],
    [{ NOTIFIER_LOG_LEVEL: "loud" }, [], "NOTIFIER_LOG_LEVEL"],
    [{}, ["--concurrency", "-4"], "--concurrency"],
    [{}, ["--http", "localhost"], "--http"],
    [{}, ["--bogus-flag"], "--bogus-flag"],
    [{ DATABASE_URL: "mysql://somewhere/db" }, [], "DATABASE_URL"],
  ])("bad configuration %j %j exits 2 naming %s", async (env, args, name) => {
    const result = await runCli(["listen", ...args], { DATABASE_URL: databaseUrl, ...env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(name);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("bad configuration never echoes the value", async () => {
    const result = await runCli(["listen"], { DATABASE_URL: "postgres://user:Sup3rSecret@[bad/db" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("DATABASE_URL");
    expect(result.stderr).not.toContain("Sup3rSecret");
  });
  it("an unreachable database exits 1 with one line naming DATABASE_URL, without the password", async () => {
    const result = await runCli(["listen"], { DATABASE_URL: `postgres://robot:Unreach4ble@127.0.0.1:${await freePort()}/nowhere` });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("DATABASE_URL");
    expect(result.stderr).not.toContain("Unreach4ble");
  });
});

/** Waits until `count` rows of (job, trigger) satisfy `done`; returns them in id order. */
function waitForRow(job: number, trigger: string, done: (row: Awaited<ReturnType<typeof rowsOf>>[number]) => boolean, count = 1) {
  return eventually(async () => {
    const rows = await rowsOf(db, "job_id = $1 and trigger = $2", [job, trigger]);
    return rows.length >= count && rows.every(done) && rows;
  }, { timeoutMs: 60_000, intervalMs: 100, what: `the rows of job ${job} (${trigger})` });
}
