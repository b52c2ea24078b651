import http from "node:http";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageError } from "../src/errors.js";
import { requiredToken } from "../src/web/access.js";
import { launchChromium, type HeadlessChromium } from "./helpers/browser.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { HttpReceiver } from "./helpers/httpReceiver.js";
import { addWebhook, runCli, runJob, ServiceProcess } from "./helpers/service.js";
import { afterFile } from "./helpers/afterFile.js";

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

/** `listen --http` as users run it, on a free loopback port, at most two attempts per row. */
async function startService(env: Record<string, string> = {}): Promise<ServiceProcess> {
  const service = await ServiceProcess.start({ databaseUrl, env: { NOTIFIER_MAX_ATTEMPTS: "2", NOTIFIER_LOG_LEVEL: "warn", ...env } });
  afterFile(async () => {
    if (!service.running) return;
    service.kill("SIGTERM");
    await service.waitForExit();
  });
  return service;
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
    await addWebhook(db, "ops hook", { url: `${receiver.url}/hooks/ops`, password: "hunter2", timeout: 60 }, { triggers: ["success"] });
    receiver.responder = () => ({ status: 500, body: "receiver down" });
    const service = await startService();
    const jobId = await runJob(db, HOSTILE_NAME);
    const notificationId = await eventually("the notification to fail", async () => {
      const { rows: failed } = await db.query<{ id: string }>(
        "select id from notifier.notifications where job_id = $1 and status = 'failed'",
        [jobId],
      );
      return failed[0]?.id;
    });

    const page = await browser.context.newPage();
    await page.goto(`${service.httpUrl}/?status=failed`);
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
    const crossSite = await fetch(`${service.httpUrl}/notifications/${notificationId}/retry`, {
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
    await page.goto(`${service.httpUrl}/`);
    await Promise.all([
      page.waitForResponse((response) => response.url() === `${service.httpUrl}/` && response.request().method() === "GET"),
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
    await page.goto(`${service.httpUrl}/?status=failed`);
    expect(await page.locator(`li.notification[data-notification-id="${notificationId}"]`).count()).toBe(0);

    // Auto-refresh is kept across the filter links.
    await page.goto(`${service.httpUrl}/?status=failed&refresh=2`);
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute("content")).toBe("2");
    expect(await page.locator("a.filter.all").getAttribute("href")).toBe("/?refresh=2");
    await page.close();
  });

  it("requires NOTIFIER_HTTP_TOKEN when it is set: bearer header or ?token= (a cookie); /healthz stays open", async () => {
    const service = await startService({ NOTIFIER_HTTP_TOKEN: TOKEN });

    expect((await fetch(`${service.httpUrl}/healthz`)).status).toBe(200);
    const refused = await fetch(`${service.httpUrl}/`);
    expect(refused.status).toBe(401);
    expect(await refused.text()).not.toContain(TOKEN);
    expect((await fetch(`${service.httpUrl}/metrics`)).status).toBe(401);
    expect((await fetch(`${service.httpUrl}/`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(`${service.httpUrl}/`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${service.httpUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    const retry = await fetch(`${service.httpUrl}/notifications/1/retry`, { method: "POST", redirect: "manual" });
    expect(retry.status).toBe(401);

    // The cookie-setting redirect stays on this host, even for a path that normalises to "//host".
    const oddPath = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.get({ host: new URL(service.httpUrl).hostname, port: new URL(service.httpUrl).port, path: `/.//evil.example/?token=${TOKEN}` }, resolve)
        .on("error", reject));
    oddPath.resume();
    expect(oddPath.statusCode).toBe(303);
    expect(oddPath.headers.location).toBe("/evil.example/");

    // A browser opens the link once; the cookie carries the token from then on, and the address
    // bar no longer shows it.
    const page = await browser.context.newPage();
    await page.goto(`${service.httpUrl}/?status=failed&token=${TOKEN}`);
    expect(page.url()).toBe(`${service.httpUrl}/?status=failed`);
    expect(await page.locator("h1").textContent()).toBe("pg-job-notifier");
    await page.goto(`${service.httpUrl}/`);
    expect(await page.locator("h1").textContent()).toBe("pg-job-notifier");
    expect(await page.content()).not.toContain(TOKEN);
    expect(service.output).not.toContain(TOKEN);
    await page.close();
  });

  it("refuses to serve off loopback without a token", async () => {
    expect(requiredToken("127.0.0.1", undefined)).toBeNull();
    expect(requiredToken("::1", undefined)).toBeNull();
    expect(requiredToken("0.0.0.0", TOKEN)).toBe(TOKEN);
    expect(() => requiredToken("0.0.0.0", undefined)).toThrow(UsageError);
    expect(() => requiredToken("192.0.2.10", undefined)).toThrow(/NOTIFIER_HTTP_TOKEN is required/);

    // The command refuses before binding anything (only loopback can be bound on this machine).
    const { code, stderr } = await runCli(["listen", "--http", "0.0.0.0:9"], { DATABASE_URL: databaseUrl });
    expect(code).toBe(2);
    expect(stderr.trim()).toBe("pg-job-notifier: NOTIFIER_HTTP_TOKEN is required when --http binds a non-loopback address (0.0.0.0)");
  });
});
