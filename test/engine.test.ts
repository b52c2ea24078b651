import { afterEach, describe, expect, it } from "vitest";
import { connect, createTestDatabase } from "./helpers/database.js";
import { eventually } from "./helpers/eventually.js";
import { fakeSlack } from "./helpers/fakeApis.js";
import { HttpReceiver, type ReceivedRequest } from "./helpers/httpReceiver.js";
import { addWebhook, rowsOf, runCli, runJob, ServiceProcess, type DeliveredRow } from "./helpers/service.js";

// The delivery engine against real service processes, a real PostgreSQL and real receivers:
// poison rows, hostile answers, fenced leases, shutdown, isolation per template, the kill switch.
const databaseUrl = await createTestDatabase();
const db = await connect(databaseUrl);
const receiver = await HttpReceiver.start();

/** The services a test started: killed after it, and its rows left pending settled, so no test sees another's. */
const services: ServiceProcess[] = [];
const startService = async (env: Record<string, string> = {}): Promise<ServiceProcess> => {
  const service = await ServiceProcess.start({ databaseUrl, env });
  services.push(service);
  return service;
};
afterEach(async () => {
  for (const service of services.splice(0)) {
    if (!service.running) continue;
    service.kill("SIGKILL");
    await service.waitForExit();
  }
  await db.query("update notifier.notifications set status = 'failed', locked_by = null, locked_until = null where status = 'pending'");
});

let lastScope = 5000;
const newScope = () => ++lastScope;
const to = (path: string) => (request: ReceivedRequest) => request.url === path || request.url.startsWith(`${path}/`);
const never = () => new Promise<never>(() => {});

async function addTemplate(name: string, type: string, configuration: Record<string, unknown>, scope: number, triggers = ["success"]): Promise<number> {
  const { rows } = await db.query(
    "insert into notifier.notification_templates (name, notification_type, notification_configuration) values ($1, $2, $3) returning id",
    [name, type, JSON.stringify(configuration)]);
  for (const trigger of triggers) {
    await db.query("insert into notifier.subscriptions (notification_template_id, trigger, job_template_id) values ($1, $2, $3)", [rows[0].id, trigger, scope]);
  }
  return Number(rows[0].id);
}

const rowsOfTemplate = (name: string) =>
  rowsOf(db, "notification_template_id = (select id from notifier.notification_templates where name = $1)", [name]);
const settledRows = (name: string, count = 1) =>
  eventually(async () => {
    const rows = await rowsOfTemplate(name);
    return rows.length >= count && rows.every((row) => row.status !== "pending") && rows;
  }, { what: `the rows of ${name} to settle` });

async function stopped(service: ServiceProcess): Promise<void> {
  service.kill("SIGTERM");
  expect(await service.waitForExit()).toEqual({ code: 0, signal: null });
}

describe("the claim counts the attempt", () => {
  it("a row whose send kills its process every time ends failed after NOTIFIER_MAX_ATTEMPTS", async () => {
    const scope = newScope();
    receiver.responder = (request) => (to("/killer")(request) ? never() : { status: 200 });
    await addWebhook(db, "killer", { url: `${receiver.url}/killer` }, { triggers: ["success"], jobTemplateId: scope });
    const job = await runJob(db, "poison", "successful", scope);
    const env = { NOTIFIER_MAX_ATTEMPTS: "3", NOTIFIER_LEASE: "1" };
    for (let attempt = 1; attempt <= 3; attempt++) {
      const service = await startService(env);
      await receiver.waitForRequests(attempt, to("/killer"));
      // Killed mid-send, as a send that crashes its process would.
      service.kill("SIGKILL");
      await service.waitForExit();
    }
    const survivor = await startService(env);
    const [row] = await settledRows("killer");
    expect(row).toMatchObject({ job_id: job, status: "failed", attempts: 3 });
    expect(row!.error).toBe("attempt 3 of 3 never reported an outcome: its process died or hung past its lease");
    expect(receiver.requests.filter(to("/killer"))).toHaveLength(3);
    await stopped(survivor);
  });
});

describe("no remote input keeps an outcome from being recorded", () => {
  it("hostile answers (NUL, lone surrogates, 10 MB, deep JSON, 1e308) each fail their own row with one clear error; neighbours record", async () => {
    const scope = newScope();
    const slackToken = "xoxb-fuzz";
    const okSlack = fakeSlack({ token: slackToken });
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    const answers: Record<string, () => { status: number; body: string; headers?: Record<string, string> }> = {
      "/fuzz/nul-text": () => ({ status: 500, body: "broken\u0000here\u0000" }),
      "/fuzz/huge": () => ({ status: 502, body: "x".repeat(10 * 1024 * 1024) }),
      "/fuzz/slack-nul/api/chat.postMessage": () => ({ status: 200, body: '{"ok": false, "error": "bad\\u0000thing"}' }),
      "/fuzz/slack-surrogate/api/chat.postMessage": () => ({ status: 200, body: '{"ok": false, "error": "lone \\ud800 half"}' }),
      "/fuzz/slack-deep/api/chat.postMessage": () => ({ status: 200, body: deep }),
      "/fuzz/slack-number/api/chat.postMessage": () => ({ status: 200, body: '{"ok": 1e308, "error": 1e308}' }),
      "/fuzz/retry-after/x": () => ({ status: 503, body: "later", headers: { "retry-after": "1e308" } }),
    };
    receiver.responder = (request) => {
      const answer = answers[request.url];
      if (answer) return answer();
      if (request.url === "/fuzz/slack-ok/api/chat.postMessage") return okSlack({ ...request, url: "/api/chat.postMessage" });
      return { status: 200 };
    };
    await addTemplate("fuzz nul-text", "webhook", { url: `${receiver.url}/fuzz/nul-text` }, scope);
    await addTemplate("fuzz huge", "webhook", { url: `${receiver.url}/fuzz/huge` }, scope);
    await addTemplate("fuzz retry-after", "webhook", { url: `${receiver.url}/fuzz/retry-after/x` }, scope);
    for (const name of ["slack-nul", "slack-surrogate", "slack-deep", "slack-number"]) {
      await addTemplate(`fuzz ${name}`, "slack", { token: slackToken, channels: ["#ops"], api_url: `${receiver.url}/fuzz/${name}/api` }, scope);
    }
    await addTemplate("fuzz slack-ok", "slack", { token: slackToken, channels: ["#ops"], api_url: `${receiver.url}/fuzz/slack-ok/api` }, scope);
    await addTemplate("fuzz webhook-ok", "webhook", { url: `${receiver.url}/fuzz/ok` }, scope);
    // Job data of its own kind of hostility: deep JSON and a number no double holds twice over.
    let extra: unknown = { leaf: 1e308 };
    for (let depth = 0; depth < 100; depth++) extra = { nested: extra };
    const { rows } = await db.query(
      "insert into notifier.jobs (name, status, job_template_id, extra) values ($1, 'running', $2, $3) returning id",
      ["fuzz \u{1F525} job", scope, JSON.stringify(extra)]);
    await db.query("update notifier.jobs set status = 'successful' where id = $1", [rows[0].id]);

    const service = await startService({ NOTIFIER_MAX_ATTEMPTS: "2", NOTIFIER_RETRY_DELAY: "0" });
    const settled = async (name: string) => (await settledRows(`fuzz ${name}`))[0]!;
    for (const name of ["slack-ok", "webhook-ok"]) expect(await settled(name)).toMatchObject({ status: "successful", error: null });
    const expected: Record<string, RegExp> = {
      "nul-text": /HTTP 500: broken\\0here\\0$/,
      huge: /HTTP 502: x{200}…$/,
      "retry-after": /HTTP 503: later$/,
      "slack-nul": /chat\.postMessage: bad\\0thing$/,
      "slack-surrogate": /chat\.postMessage: lone \ufffd half$/,
      "slack-deep": /chat\.postMessage: unknown_error$/,
      "slack-number": /chat\.postMessage: unknown_error$/,
    };
    for (const [name, pattern] of Object.entries(expected)) {
      const row = await settled(name);
      expect(row.status, name).toBe("failed");
      expect(row.error, name).toMatch(pattern);
      expect(row.error!.isWellFormed(), name).toBe(true);
      expect(row.error, name).not.toMatch(/[\0\n]/);
      expect(row.error!.length, name).toBeLessThanOrEqual(2000);
    }
    expect(service.logs.filter((line) => line.msg === "database operation failed; retrying")).toEqual([]);
    await stopped(service);
  });

  it("a batch PostgreSQL refuses for one row's data: the others record, that row fails saying why", async () => {
    const scope = newScope();
    receiver.responder = () => ({ status: 200 });
    await addWebhook(db, "refused", { url: `${receiver.url}/refused` }, { triggers: ["success"], jobTemplateId: scope });
    // A rule of this database that one rendered subject breaks: the outcome statement fails for that row.
    await db.query("alter table notifier.notifications add constraint engine_test_refuse check (subject is null or subject not like '%refuse me%')");
    const jobs: number[] = [];
    for (let i = 0; i < 12; i++) jobs.push(await runJob(db, i === 5 ? "refuse me" : `accepted ${i}`, "successful", scope));
    const service = await startService();
    const rows = await settledRows("refused", 12);
    await db.query("alter table notifier.notifications drop constraint engine_test_refuse");
    const refused = rows.find((row) => row.job_id === jobs[5])!;
    expect(refused).toMatchObject({ status: "failed", subject: null });
    expect(refused.error).toMatch(/^could not record the outcome of this attempt: .*engine_test_refuse/);
    expect(rows.filter((row) => row !== refused).map((row) => row.status)).toEqual(Array(11).fill("successful"));
    await stopped(service);
  });
});

describe("fenced leases", () => {
  it("a process that cannot extend its lease in time aborts the send and never records over the new holder", async () => {
    const scope = newScope();
    receiver.responder = (request) => (to("/fenced")(request) ? never() : { status: 200 });
    await addWebhook(db, "fenced", { url: `${receiver.url}/fenced`, timeout: 120 }, { triggers: ["success"], jobTemplateId: scope });
    const job = await runJob(db, "fenced job", "successful", scope);
    const service = await startService({ NOTIFIER_LEASE: "1.5" });
    await receiver.waitForRequests(1, to("/fenced"));
    const [row] = await rowsOf(db, "job_id = $1", [job]);

    // A session holding the row's lock: the service's lease extension waits on it, as it would
    // on a link that is down, while the lease it last confirmed runs out.
    const blocker = await connect(databaseUrl);
    await blocker.query("begin");
    await blocker.query("select 1 from notifier.notifications where id = $1 for update", [row!.id]);
    const aborted = await service.waitForLog((line) => line.msg.startsWith("aborting send: the lease could not be extended in time"));
    expect(aborted).toMatchObject({ notification: String(row!.id), template: "fenced" });
    // Meanwhile another process claims the row (its lease lapsed): a new token.
    await blocker.query(
      "update notifier.notifications set lease_token = gen_random_uuid(), locked_by = 'the new holder', locked_until = now() + interval '1 hour', attempts = attempts + 1 where id = $1",
      [row!.id]);
    await blocker.query("commit");

    const ignored = await service.waitForLog((line) => line.msg.startsWith("outcomes not recorded"));
    expect(ignored.notifications).toEqual([String(row!.id)]);
    const { rows: after } = await db.query("select status, attempts, error, locked_by, attempt_history from notifier.notifications where id = $1", [row!.id]);
    expect(after[0]).toEqual({ status: "pending", attempts: 2, error: null, locked_by: "the new holder", attempt_history: [] });
    await stopped(service);
  });
});

describe("a process frozen past its lease", () => {
  it("another process sends the row; the frozen one, resumed, aborts its send and records nothing over it", async () => {
    const scope = newScope();
    let first = true;
    receiver.responder = (request) => {
      if (!to("/frozen")(request)) return { status: 200 };
      if (first) {
        first = false;
        return never();
      }
      return { status: 200 };
    };
    await addWebhook(db, "frozen", { url: `${receiver.url}/frozen`, timeout: 120 }, { triggers: ["success"], jobTemplateId: scope });
    const job = await runJob(db, "frozen job", "successful", scope);
    const env = { NOTIFIER_LEASE: "1" };
    const frozen = await startService(env);
    await receiver.waitForRequests(1, to("/frozen"));
    // Stopped mid-send (as a process whose event loop hangs, or whose host is suspended).
    frozen.kill("SIGSTOP");
    const other = await startService(env);
    await receiver.waitForRequests(2, to("/frozen"));
    const [sent] = await eventually(async () => {
      const rows = await rowsOf(db, "job_id = $1", [job]);
      return rows[0]?.status === "successful" && rows;
    });
    expect(sent).toMatchObject({ status: "successful", attempts: 2, error: null });

    frozen.kill("SIGCONT");
    await frozen.waitForLog((line) => line.msg.startsWith("aborting send: the lease could not be extended in time"));
    const ignored = await frozen.waitForLog((line) => line.msg.startsWith("outcomes not recorded"));
    expect(ignored.notifications).toEqual([String(sent!.id)]);
    const { rows } = await db.query("select status, attempts, error, attempt_history from notifier.notifications where job_id = $1", [job]);
    expect(rows[0]).toEqual({ status: "successful", attempts: 2, error: null, attempt_history: [] });
    expect(receiver.requests.filter(to("/frozen"))).toHaveLength(2);
    await stopped(frozen);
    await stopped(other);
  });
});

describe("shutdown", () => {
  it("a send aborted by the shutdown records the targets it reached, attempt uncounted; the next process sends only to the others", async () => {
    const scope = newScope();
    const slack = fakeSlack({ token: "xoxb-down" });
    let holdHeld = true;
    receiver.responder = (request) => {
      if (!to("/slackdown")(request)) return { status: 200 };
      if (holdHeld && JSON.parse(request.body).channel === "held") return never();
      return slack({ ...request, url: "/api/chat.postMessage" });
    };
    await addTemplate("slackdown", "slack", { token: "xoxb-down", channels: ["#reached", "#held"], api_url: `${receiver.url}/slackdown/api` }, scope);
    const job = await runJob(db, "shutdown job", "successful", scope);
    const channelOf = (request: ReceivedRequest) => JSON.parse(request.body).channel as string;
    const first = await startService({ NOTIFIER_SHUTDOWN_GRACE: "0.3" });
    await eventually(() => receiver.requests.filter(to("/slackdown")).some((request) => channelOf(request) === "held"));
    await stopped(first);
    const { rows } = await db.query("select status, attempts, delivered_targets, locked_by from notifier.notifications where job_id = $1", [job]);
    expect(rows[0]).toEqual({ status: "pending", attempts: 0, delivered_targets: ["#reached"], locked_by: null });

    holdHeld = false;
    const second = await startService();
    const [row] = await settledRows("slackdown");
    expect(row).toMatchObject({ status: "successful", attempts: 1 });
    expect(receiver.requests.filter(to("/slackdown")).map(channelOf)).toEqual(["reached", "held", "held"]);
    await stopped(second);
  });
});

describe("isolation per template", () => {
  it("a hung receiver holding hundreds of rows takes only its share; another template's rows keep flowing", async () => {
    const deadScope = newScope();
    const aliveScope = newScope();
    receiver.responder = (request) => (to("/hung")(request) ? never() : { status: 200 });
    await addWebhook(db, "hung", { url: `${receiver.url}/hung`, timeout: 600 }, { triggers: ["success"], jobTemplateId: deadScope });
    await addWebhook(db, "alive", { url: `${receiver.url}/alive` }, { triggers: ["success"], jobTemplateId: aliveScope });
    await db.query("insert into notifier.jobs (name, status, job_template_id) select 'hung ' || i, 'running', $1 from generate_series(1, 300) i", [deadScope]);
    await db.query("update notifier.jobs set status = 'successful' where job_template_id = $1", [deadScope]);
    // No fallback poll: only a NOTIFY or its own claims can bring the alive rows.
    await startService({ NOTIFIER_CONCURRENCY: "8", NOTIFIER_POLL_INTERVAL: "3600" });
    // Its share: all but an eighth of the concurrency (7 of 8) in flight, never more.
    await receiver.waitForRequests(7, to("/hung"));
    for (let i = 0; i < 20; i++) {
      const job = await runJob(db, `alive ${i}`, "successful", aliveScope);
      await receiver.waitForRequests(i + 1, to("/alive"));
      await eventually(async () => (await rowsOf(db, "job_id = $1", [job]))[0]?.status === "successful");
    }
    expect(receiver.requests.filter(to("/hung"))).toHaveLength(7);
  });

  it("a receiver failing every request opens its template's circuit breaker; others keep flowing", async () => {
    const scope = newScope();
    receiver.responder = (request) => (to("/broken")(request) ? { status: 503, body: "down" } : { status: 200 });
    await addWebhook(db, "broken", { url: `${receiver.url}/broken` }, { triggers: ["success"], jobTemplateId: scope });
    await addWebhook(db, "healthy", { url: `${receiver.url}/healthy` }, { triggers: ["success"], jobTemplateId: scope });
    for (let i = 0; i < 40; i++) await runJob(db, `breaker ${i}`, "successful", scope);
    const service = await startService({ NOTIFIER_MAX_ATTEMPTS: "50", NOTIFIER_RETRY_DELAY: "0" });
    const opened = await service.waitForLog((line) => line.msg === "circuit breaker open: pausing this template's sends");
    expect(opened).toMatchObject({ template: "broken", failures: 5, pauseMs: 5000 });
    const healthy: DeliveredRow[] = await settledRows("healthy", 40);
    expect(healthy.every((row) => row.status === "successful")).toBe(true);
    // While open, nothing more goes to the broken receiver than what was already in flight.
    const sentWhileOpen = receiver.requests.filter(to("/broken")).length;
    expect(sentWhileOpen).toBeLessThan(5 + 8);
  });
});

describe("the delivery kill switch", () => {
  it("pause stops every service from sending, resume lets them go; /metrics shows it", async () => {
    const scope = newScope();
    receiver.responder = () => ({ status: 200 });
    await addWebhook(db, "paused", { url: `${receiver.url}/paused` }, { triggers: ["success"], jobTemplateId: scope });
    expect(await runCli(["pause"], { DATABASE_URL: databaseUrl })).toMatchObject({ code: 0 });
    const service = await startService();
    const job = await runJob(db, "paused job", "successful", scope);
    // Claims keep coming (the poll), and find nothing to send.
    const claims = async () => Number(/^notifier_claim_batch_size_count (\d+)$/m.exec(await service.metrics())![1]);
    const before = await claims();
    await eventually(async () => (await claims()) > before + 2);
    expect(await service.metrics()).toMatch(/^notifier_delivery_paused 1$/m);
    expect((await rowsOf(db, "job_id = $1", [job]))[0]).toMatchObject({ status: "pending", attempts: 0 });
    expect(receiver.requests.filter(to("/paused"))).toHaveLength(0);
    expect(await runCli(["resume"], { DATABASE_URL: databaseUrl })).toMatchObject({ code: 0 });
    await receiver.waitForRequests(1, to("/paused"));
    expect(await service.metrics()).toMatch(/^notifier_delivery_paused 0$/m);
    await stopped(service);
  });
});
