import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../src/embedded.js";
import { UsageError } from "../src/errors.js";
import { requiredToken } from "../src/web/access.js";
import { launchChromium, type HeadlessChromium } from "./helpers/browser.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { HttpReceiver } from "./helpers/httpReceiver.js";

// A job name a careless page would turn into markup that runs.
const HOSTILE_NAME = `<img src=x onerror="window.__injected = 1">Deploy "web" & db`;
const TOKEN = "s3cret-web-token";

let databaseUrl: string;
let db: pg.Client;
let receiver: HttpReceiver;
let browser: HeadlessChromium;

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  db = await connect(databaseUrl);
  receiver = await HttpReceiver.start();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

interface RunningService {
  base: string;
  output: () => string;
  stop(): Promise<void>;
}

/** `listen --http` as users run it, on a free loopback port; resolves once /healthz answers. */
async function startService(env: Record<string, string>): Promise<RunningService> {
  const port = await freePort();
  const child: ChildProcess = spawn("bin/pg-job-notifier", ["listen", "--http", `127.0.0.1:${port}`], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      NOTIFIER_MAX_ATTEMPTS: "2",
      NOTIFIER_RETRY_DELAY: "0.2",
      NOTIFIER_POLL_INTERVAL: "0.5",
      NOTIFIER_LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await once(child, "exit");
  };
  afterAll(stop);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`listen exited with ${child.exitCode}: ${output}`);
    const healthy = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
    if (healthy) break;
    if (Date.now() > deadline) throw new Error(`listen did not become healthy: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { base, output: () => output, stop };
}

/** Polls `check` until it returns a value other than undefined. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function notificationStatus(id: string): Promise<string> {
  const { rows } = await db.query<{ status: string }>("select status from notifier.notifications where id = $1", [id]);
  return rows[0]!.status;
}

describe("web view", () => {
  it("shows a failed notification, retries it from the page, and shows it delivered", async () => {
    await db.query(
      `with t as (
         insert into notifier.notification_templates (name, notification_type, notification_configuration)
         values ('ops hook', 'webhook', jsonb_build_object('url', $1::text, 'password', 'hunter2', 'timeout', 60))
         returning id)
       insert into notifier.subscriptions (notification_template_id, trigger) select id, 'success' from t`,
      [`${receiver.url}/hooks/ops`],
    );
    receiver.responder = () => ({ status: 500, body: "receiver down" });
    const service = await startService({});

    const { rows } = await db.query<{ id: string }>(
      "insert into notifier.jobs (name, status) values ($1, 'running') returning id",
      [HOSTILE_NAME],
    );
    const jobId = rows[0]!.id;
    await db.query("update notifier.jobs set status = 'successful' where id = $1", [jobId]);
    const notificationId = await eventually("the notification to fail", async () => {
      const { rows: failed } = await db.query<{ id: string }>(
        "select id from notifier.notifications where job_id = $1 and status = 'failed'",
        [jobId],
      );
      return failed[0]?.id;
    });

    const page = await browser.context.newPage();
    await page.goto(`${service.base}/?status=failed`);
    const job = page.locator(`tr.job[data-job-id="${jobId}"]`);
    // The name is shown as text, and nothing in it ran.
    await expect(job.textContent()).resolves.toContain(HOSTILE_NAME);
    expect(await page.evaluate(() => (window as { __injected?: number }).__injected)).toBeUndefined();
    const row = page.locator(`li.notification[data-notification-id="${notificationId}"]`);
    expect(await row.getAttribute("data-status")).toBe("failed");
    await row.locator("details.error summary").click();
    expect(await row.locator("details.error pre").textContent()).toContain("500");
    // The page's own stylesheet is applied (it is inserted unescaped, unlike everything else).
    expect(await page.evaluate(() => getComputedStyle(document.body).fontFamily)).toContain("Arial");
    // Secrets of templates are masked.
    expect(await page.content()).not.toContain("hunter2");

    // A form posted from another site is refused.
    const crossSite = await fetch(`${service.base}/notifications/${notificationId}/retry`, {
      method: "POST", redirect: "manual", headers: { "sec-fetch-site": "cross-site" },
    });
    expect(crossSite.status).toBe(403);
    expect(await notificationStatus(notificationId)).toBe("failed");

    // The retried send is held at the receiver until the test lets it through, so the page can
    // be seen while the row is pending again.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const attemptsBefore = receiver.requests.length;
    receiver.responder = async () => {
      await released;
      return { status: 200, body: "ok" };
    };
    await page.goto(`${service.base}/`);
    await Promise.all([
      page.waitForResponse((response) => response.url() === `${service.base}/` && response.request().method() === "GET"),
      row.locator("button.retry").click(),
    ]);
    await page.waitForLoadState();
    expect(await row.getAttribute("data-status")).toBe("pending");
    expect(await row.locator("button.retry").count()).toBe(0);
    expect(await notificationStatus(notificationId)).toBe("pending");

    await receiver.waitForRequests(attemptsBefore + 1);
    expect(receiver.requests.at(-1)!.headers["idempotency-key"]).toBe(String(notificationId));
    release();

    await eventually("the page to show the notification successful", async () => {
      await page.reload();
      return (await row.getAttribute("data-status")) === "successful" ? true : undefined;
    });
    expect(await notificationStatus(notificationId)).toBe("successful");
    await page.goto(`${service.base}/?status=failed`);
    expect(await page.locator(`li.notification[data-notification-id="${notificationId}"]`).count()).toBe(0);

    // Auto-refresh is kept across the filter links.
    await page.goto(`${service.base}/?status=failed&refresh=2`);
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute("content")).toBe("2");
    expect(await page.locator("a.filter.all").getAttribute("href")).toBe("/?refresh=2");
    await page.close();
  });

  it("requires NOTIFIER_HTTP_TOKEN when it is set: bearer header or ?token= (a cookie); /healthz stays open", async () => {
    const service = await startService({ NOTIFIER_HTTP_TOKEN: TOKEN });

    expect((await fetch(`${service.base}/healthz`)).status).toBe(200);
    const refused = await fetch(`${service.base}/`);
    expect(refused.status).toBe(401);
    expect(await refused.text()).not.toContain(TOKEN);
    expect((await fetch(`${service.base}/metrics`)).status).toBe(401);
    expect((await fetch(`${service.base}/`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(`${service.base}/`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${service.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    const retry = await fetch(`${service.base}/notifications/1/retry`, { method: "POST", redirect: "manual" });
    expect(retry.status).toBe(401);

    // A browser opens the link once; the cookie carries the token from then on, and the address
    // bar no longer shows it.
    const page = await browser.context.newPage();
    await page.goto(`${service.base}/?status=failed&token=${TOKEN}`);
    expect(page.url()).toBe(`${service.base}/?status=failed`);
    expect(await page.locator("h1").textContent()).toBe("pg-job-notifier");
    await page.goto(`${service.base}/`);
    expect(await page.locator("h1").textContent()).toBe("pg-job-notifier");
    expect(await page.content()).not.toContain(TOKEN);
    expect(service.output()).not.toContain(TOKEN);
    await page.close();
  });

  it("refuses to serve off loopback without a token", async () => {
    expect(requiredToken("127.0.0.1", undefined)).toBeNull();
    expect(requiredToken("::1", undefined)).toBeNull();
    expect(requiredToken("0.0.0.0", TOKEN)).toBe(TOKEN);
    expect(() => requiredToken("0.0.0.0", undefined)).toThrow(UsageError);
    expect(() => requiredToken("192.0.2.10", undefined)).toThrow(/NOTIFIER_HTTP_TOKEN is required/);

    // The command refuses before binding anything (only loopback can be bound on this machine).
    const child = spawn("bin/pg-job-notifier", ["listen", "--http", "0.0.0.0:9"], {
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const [code] = await once(child, "exit");
    expect(code).toBe(2);
    expect(stderr.trim()).toBe("pg-job-notifier: NOTIFIER_HTTP_TOKEN is required when --http binds a non-loopback address (0.0.0.0)");
  });
});
