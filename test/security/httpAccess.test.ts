import http from "node:http";
import { beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/database.js";
import { ServiceProcess } from "../helpers/service.js";
import { afterFile } from "../helpers/afterFile.js";

// DNS rebinding: a page on evil.example re-resolves its name to 127.0.0.1 and reads the open
// loopback web view with its own Host header. Raw requests, Host set by hand.

const TOKEN = "rebinding-test-token-0042";

let databaseUrl: string;
beforeAll(async () => {
  databaseUrl = await createTestDatabase();
});

async function startService(env: Record<string, string> = {}): Promise<ServiceProcess> {
  const service = await ServiceProcess.start({ databaseUrl, env: { NOTIFIER_LOG_LEVEL: "warn", ...env } });
  afterFile(async () => {
    if (!service.running) return;
    service.kill();
    await service.waitForExit();
  });
  return service;
}

interface RawAnswer { status: number; headers: http.IncomingHttpHeaders; body: string }

function raw(service: ServiceProcess, options: { path?: string; method?: string; headers?: Record<string, string> }): Promise<RawAnswer> {
  const { hostname, port } = new URL(service.httpUrl);
  return new Promise((resolve, reject) => {
    const request = http.request({ host: hostname, port, path: options.path ?? "/", method: options.method ?? "GET", headers: options.headers, setHost: false }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    });
    request.on("error", reject);
    request.end();
  });
}

describe("without a token", () => {
  it("answers only loopback Host names with its own port; others get 421", async () => {
    const service = await startService();
    const port = new URL(service.httpUrl).port;
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
      expect((await raw(service, { headers: { host } })).status, host).toBe(200);
    }
    for (const host of [`evil.example:${port}`, "evil.example", `localhost:${Number(port) + 1}`, "localhost", `127.0.0.1.evil.example:${port}`,
      `localhost.:${port}`, `user@localhost:${port}`, ""]) {
      for (const path of ["/", "/metrics", "/?status=failed"]) {
        const answer = await raw(service, { path, headers: { host } });
        expect(answer.status, `${host} ${path}`).toBe(421);
        expect(answer.body).not.toContain("pg-job-notifier</h1>");
      }
    }
    const retry = await raw(service, { path: "/notifications/1/retry", method: "POST", headers: { host: `evil.example:${port}`, origin: `http://evil.example:${port}` } });
    expect(retry.status).toBe(421);
    // Health probes are not refused (they read nothing).
    expect((await raw(service, { path: "/healthz", headers: { host: `evil.example:${port}` } })).status).toBe(200);
  });
});

describe("with a token", () => {
  it("sets a random session id (never the token) as an HttpOnly, SameSite=Strict cookie with Max-Age", async () => {
    const service = await startService({ NOTIFIER_HTTP_TOKEN: TOKEN });
    const port = new URL(service.httpUrl).port;
    const visit = await raw(service, { path: `/?token=${TOKEN}`, headers: { host: `127.0.0.1:${port}` } });
    expect(visit.status).toBe(303);
    const cookie = visit.headers["set-cookie"]![0]!;
    expect(cookie).not.toContain(TOKEN);
    expect(cookie).not.toContain(encodeURIComponent(TOKEN));
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Max-Age=\d+/);
    expect(cookie).not.toMatch(/; Secure/);
    const session = cookie.split(";")[0]!;
    expect((await raw(service, { headers: { host: `127.0.0.1:${port}`, cookie: session } })).status).toBe(200);
    // A second visit gets another session.
    const again = await raw(service, { path: `/?token=${TOKEN}`, headers: { host: `127.0.0.1:${port}` } });
    expect(again.headers["set-cookie"]![0]!.split(";")[0]).not.toBe(session);
    // A made-up session, or the token itself as a cookie, is refused.
    const name = session.split("=")[0]!;
    expect((await raw(service, { headers: { host: "127.0.0.1", cookie: `${name}=made-up` } })).status).toBe(401);
    expect((await raw(service, { headers: { host: "127.0.0.1", cookie: `${name}=${TOKEN}` } })).status).toBe(401);
    expect((await raw(service, { headers: { host: "127.0.0.1", cookie: `notifier_token=${TOKEN}` } })).status).toBe(401);
  });

  it("marks the cookie Secure behind a TLS proxy (X-Forwarded-Proto: https)", async () => {
    const service = await startService({ NOTIFIER_HTTP_TOKEN: TOKEN });
    const visit = await raw(service, { path: `/?token=${TOKEN}`, headers: { host: "notifier.example.com", "x-forwarded-proto": "https" } });
    expect(visit.status).toBe(303);
    expect(visit.headers["set-cookie"]![0]).toMatch(/; Secure/);
  });
});
