import { once } from "node:events";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { closeHttpPools, httpRequest, MAX_REDIRECTS, MAX_RESPONSE_BYTES } from "../src/types/http.js";
import { DeliveryError, type Delivery } from "../src/types/type.js";
import { webhook, type WebhookConfiguration } from "../src/types/webhook.js";
import { makeDelivery } from "./helpers/delivery.js";
import { HttpReceiver } from "./helpers/httpReceiver.js";
import { selfSignedCertificate } from "./helpers/selfSignedCert.js";

const BODY = JSON.stringify({ id: 42, name: "deploy web", status: "successful" });
const PASSWORD = "s3cret-Pa55word!";
const BASIC_CREDENTIALS = Buffer.from(`hooker:${PASSWORD}`).toString("base64");

let receiver: HttpReceiver;

beforeAll(async () => {
  receiver = await HttpReceiver.start();
});
afterAll(() => closeHttpPools());
beforeEach(() => {
  receiver.requests.length = 0;
  receiver.responder = () => ({ status: 200, body: "ok" });
});

function send(configuration: WebhookConfiguration, overrides: Partial<Delivery<WebhookConfiguration>> = {}) {
  return webhook.send(makeDelivery(webhook.configurationSchema.parse(configuration), { body: BODY, ...overrides }));
}

/** The DeliveryError a send fails with. */
async function failure(sending: Promise<unknown>): Promise<DeliveryError> {
  const error = await sending.then(
    () => null,
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

describe("webhook requests", () => {
  test("POST the body as JSON with an Idempotency-Key, the same on every retry", async () => {
    const outcome = await send({ url: `${receiver.url}/hooks/a` }, { notificationId: "77" });
    await send({ url: `${receiver.url}/hooks/a` }, { notificationId: "77" });
    expect(outcome).toEqual({ recipients: `${receiver.url}/hooks/a`, notificationsSent: 1, deliveredTargets: [] });
    expect(receiver.requests).toHaveLength(2);
    for (const request of receiver.requests) {
      expect(request).toMatchObject({ method: "POST", url: "/hooks/a", body: BODY });
      expect(request.headers["content-type"]).toBe("application/json");
      expect(request.headers["idempotency-key"]).toBe("77");
      expect(request.headers.authorization).toBeUndefined();
    }
  });

  test("PUT with custom headers and basic auth; the Idempotency-Key cannot be overridden", async () => {
    await send(
      {
        url: `${receiver.url}/put`,
        http_method: "PUT",
        headers: { "X-Team": "ops", "X-Retries": 3, "Idempotency-Key": "mine" },
        username: "hooker",
        password: PASSWORD,
      },
      { notificationId: "78" },
    );
    const [request] = receiver.requests;
    expect(request).toMatchObject({ method: "PUT", url: "/put", body: BODY });
    expect(request!.headers).toMatchObject({ "x-team": "ops", "x-retries": "3", "idempotency-key": "78", authorization: `Basic ${BASIC_CREDENTIALS}` });
  });

  test("user info in the URL is basic auth and never shown", async () => {
    const outcome = await send({ url: `http://hooker:${encodeURIComponent(PASSWORD)}@${receiver.url.slice("http://".length)}/ui?token=abcdef123` });
    expect(receiver.requests[0]!.headers.authorization).toBe(`Basic ${BASIC_CREDENTIALS}`);
    expect(receiver.requests[0]!.url).toBe("/ui?token=abcdef123");
    expect(outcome.recipients).toBe(`${receiver.url}/ui?…`);
  });
});

describe("redirects", () => {
  test("307 and 308 are followed with method, body and Idempotency-Key", async () => {
    receiver.responder = (request) => {
      if (request.url === "/first") return { status: 307, headers: { location: "/second" } };
      if (request.url === "/second") return { status: 308, headers: { location: `${receiver.url}/final` } };
      return { status: 200 };
    };
    await send({ url: `${receiver.url}/first`, http_method: "PUT", username: "hooker", password: PASSWORD });
    expect(receiver.requests.map((r) => `${r.method} ${r.url}`)).toEqual(["PUT /first", "PUT /second", "PUT /final"]);
    for (const request of receiver.requests) {
      expect(request.body).toBe(BODY);
      expect(request.headers["idempotency-key"]).toBe("1001");
      expect(request.headers.authorization).toBe(`Basic ${BASIC_CREDENTIALS}`);
    }
  });

  test("a 303 becomes a GET without body", async () => {
    receiver.responder = (request) => (request.url === "/post" ? { status: 303, headers: { location: "/status" } } : { status: 200 });
    await send({ url: `${receiver.url}/post` });
    expect(receiver.requests.map((r) => `${r.method} ${r.url} ${r.body.length}`)).toEqual([`POST /post ${BODY.length}`, "GET /status 0"]);
  });

  test(`at most ${MAX_REDIRECTS} are followed`, async () => {
    receiver.responder = (request) => ({ status: 302, headers: { location: `/loop${receiver.requests.indexOf(request) + 1}` } });
    const error = await failure(send({ url: `${receiver.url}/loop0`, http_method: "PUT" }));
    expect(error.message).toMatch(new RegExp(`^PUT http://127\\.0\\.0\\.1:\\d+/loop${MAX_REDIRECTS}: too many redirects \\(more than ${MAX_REDIRECTS}\\)$`));
    expect(receiver.requests).toHaveLength(MAX_REDIRECTS + 1);
  });

  test("nothing is sent on to another origin: not the body, not the credentials", async () => {
    const other = await HttpReceiver.start();
    receiver.responder = () => ({ status: 307, headers: { location: `${other.url}/elsewhere` } });
    const error = await failure(send({ url: `${receiver.url}/moved`, username: "hooker", password: PASSWORD, headers: { Authorization: "Bearer abc", "X-Api-Key": "k1" } }));
    expect(error.message).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/moved: redirected to another origin \(http:\/\/127\.0\.0\.1:\d+\/elsewhere\), not followed/);
    expect(error.permanent).toBe(true);
    expect(receiver.requests[0]!.headers).toMatchObject({ authorization: "Bearer abc", "x-api-key": "k1" });
    expect(other.requests).toHaveLength(0);
  });
});

describe("failures", () => {
  test(">= 400 keeps the status and an excerpt, never a credential", async () => {
    // A receiver that echoes what it got: the error must still not show the secrets.
    receiver.responder = (request) => ({
      status: 503,
      body: `unavailable; you sent ${request.headers.authorization} ${request.headers["x-api-key"]} to ${request.url}\n${"padding ".repeat(100)}`,
    });
    const error = await failure(
      send({
        url: `http://hooker:${encodeURIComponent(PASSWORD)}@${receiver.url.slice("http://".length)}/hook?token=querysecret`,
        headers: { "X-Api-Key": "header-secret-value" },
      }),
    );
    expect(error.message).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/hook\?…: HTTP 503: unavailable; you sent Basic \*\*\* \*\*\* to \/hook\?token=\*\*\* padding/);
    expect(error.message.length).toBeLessThan(400);
    expect(error.message).not.toContain("\n");
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), BASIC_CREDENTIALS, "header-secret-value", "querysecret", "hooker:"]) {
      expect(error.message).not.toContain(secret);
    }
    expect(error.permanent).toBe(false);
  });

  test("a 404 with an empty body says so", async () => {
    receiver.responder = () => ({ status: 404 });
    const error = await failure(send({ url: `${receiver.url}/gone` }));
    expect(error.message).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/gone: HTTP 404: \(empty response\)$/);
  });

  test.each([
    [400, true], [401, true], [403, true], [404, true], [410, true], [422, true],
    [408, false], [425, false], [429, false], [500, false], [502, false], [503, false],
  ])("HTTP %i: permanent %s (a 4xx other than 408/425/429 refuses the request itself)", async (status, permanent) => {
    receiver.responder = () => ({ status });
    const error = await failure(send({ url: `${receiver.url}/status` }));
    expect(error).toMatchObject({ permanent, httpStatus: status });
  });

  test("Retry-After is carried in seconds, as delta-seconds or an HTTP date, bounded to a day", async () => {
    receiver.responder = () => ({ status: 429, headers: { "retry-after": "120" } });
    expect((await failure(send({ url: `${receiver.url}/later` }))).retryAfterSeconds).toBe(120);
    receiver.responder = () => ({ status: 503, headers: { "retry-after": new Date(Date.now() + 60_000).toUTCString() } });
    const dated = (await failure(send({ url: `${receiver.url}/later` }))).retryAfterSeconds!;
    expect(dated).toBeGreaterThan(55);
    expect(dated).toBeLessThanOrEqual(60);
    receiver.responder = () => ({ status: 503, headers: { "retry-after": "1e308" } });
    expect((await failure(send({ url: `${receiver.url}/later` }))).retryAfterSeconds).toBeNull();
    receiver.responder = () => ({ status: 503, headers: { "retry-after": "99999999" } });
    expect((await failure(send({ url: `${receiver.url}/later` }))).retryAfterSeconds).toBe(86_400);
  });

  test("the quoted response never splits a character and carries no NUL", async () => {
    // 199 ASCII characters then an emoji (a surrogate pair in UTF-16) straddling the cut.
    receiver.responder = () => ({ status: 500, body: `${"a".repeat(199)}\u{1F525}${"b".repeat(50)}\u0000end` });
    const error = await failure(send({ url: `${receiver.url}/cut` }));
    const quoted = error.message.slice(error.message.indexOf("HTTP 500: ") + "HTTP 500: ".length);
    expect(quoted).toBe(`${"a".repeat(199)}\u{1F525}…`);
    expect(error.message.isWellFormed()).toBe(true);
    receiver.responder = () => ({ status: 500, body: "nul\u0000here" });
    expect((await failure(send({ url: `${receiver.url}/nul` }))).message).toMatch(/HTTP 500: nul\\0here$/);
  });

  test("a token-like path segment is not shown", async () => {
    receiver.responder = () => ({ status: 500, body: "boom" });
    const error = await failure(send({ url: `${receiver.url}/services/T0001/B0002/Xk3jd93kdlsLk39dkQ` }));
    expect(error.message).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/services\/T0001\/B0002\/…: HTTP 500: boom$/);
  });

  test("the attempt's signal times out a receiver that never answers", async () => {
    receiver.responder = () => new Promise(() => {});
    const error = await failure(send({ url: `${receiver.url}/silent` }, { signal: AbortSignal.timeout(300) }));
    expect(error.message).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/silent: timed out$/);
    expect(receiver.requests).toHaveLength(1);
  });

  test("the service's own abort reason is kept", async () => {
    receiver.responder = () => new Promise(() => {});
    const controller = new AbortController();
    const sending = send({ url: `${receiver.url}/silent` }, { signal: controller.signal });
    await receiver.waitForRequests(1);
    controller.abort(new Error("timed out after 30 s"));
    expect((await failure(sending)).message).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/silent: timed out after 30 s$/);
  });

  test("a refused connection is a retryable failure", async () => {
    const error = await failure(send({ url: "http://127.0.0.1:9/closed" }));
    expect(error.message).toMatch(/^POST http:\/\/127\.0\.0\.1:9\/closed: .*ECONNREFUSED/);
    expect(error.permanent).toBe(false);
  });

  test("a header value that cannot be sent is a permanent failure", async () => {
    const error = await failure(send({ url: `${receiver.url}/h`, headers: { "X-Bad": "line\r\nInjected: yes" } }));
    expect(error.permanent).toBe(true);
    expect(receiver.requests).toHaveLength(0);
  });

  test("an unusable URL is a permanent failure", async () => {
    expect((await failure(send({ url: "not a url" }))).permanent).toBe(true);
    const ftp = await failure(send({ url: "ftp://127.0.0.1/x" }));
    expect(ftp).toMatchObject({ permanent: true, message: 'unsupported URL scheme "ftp:" (expected http or https)' });
  });
});

describe("httpRequest for the other types", () => {
  test("form bodies repeat list keys; bearer tokens; a huge answer is cut, not buffered whole", async () => {
    receiver.responder = () => ({ status: 201, body: "y".repeat(3 * MAX_RESPONSE_BYTES) });
    const response = await httpRequest({
      notificationId: "9",
      method: "POST",
      url: `${receiver.url}/form`,
      form: { To: ["+15550001", "+15550002"], Body: "a & b" },
      bearerToken: "tok-123",
      signal: AbortSignal.timeout(30_000),
    });
    expect(response.status).toBe(201);
    expect(response.body.length).toBe(MAX_RESPONSE_BYTES);
    expect(response.displayUrl).toBe(`${receiver.url}/form`);
    const [request] = receiver.requests;
    expect(request!.body).toBe("To=%2B15550001&To=%2B15550002&Body=a+%26+b");
    expect(request!.headers).toMatchObject({
      "content-type": "application/x-www-form-urlencoded",
      authorization: "Bearer tok-123",
      "idempotency-key": "9",
    });
  });
});

describe("https", () => {
  let url: string;
  const received: string[] = [];
  const clientPorts: number[] = [];

  beforeAll(async () => {
    const { key, cert } = await selfSignedCertificate();
    const server = https.createServer({ key, cert }, (request, response) => {
      received.push(`${request.method} ${request.url} ${request.headers["idempotency-key"]}`);
      clientPorts.push(request.socket.remotePort ?? 0);
      request.resume();
      request.on("end", () => response.end("ok"));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/secure`;
    return async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    };
  });

  test("a self-signed certificate is rejected by default", async () => {
    const error = await failure(send({ url }));
    expect(error.message).toMatch(/^POST https:\/\/127\.0\.0\.1:\d+\/secure: .*self-signed certificate/);
    const explicit = await failure(send({ url, disable_ssl_verification: false }));
    expect(explicit.message).toMatch(/self-signed certificate/);
    expect(received).toEqual([]);
  });

  test("and accepted with disable_ssl_verification", async () => {
    await send({ url, disable_ssl_verification: true }, { notificationId: "5" });
    expect(received).toEqual(["POST /secure 5"]);
  });

  test("connections are kept alive and reused between sends", async () => {
    clientPorts.length = 0;
    for (let i = 0; i < 10; i++) await send({ url, disable_ssl_verification: true });
    expect(clientPorts).toHaveLength(10);
    // undici's pool may open a second socket while the first is being released: still reuse.
    expect(new Set(clientPorts).size).toBeLessThanOrEqual(3);
  });
});

describe("throughput", () => {
  test("many concurrent sends all arrive, each with its own Idempotency-Key", async () => {
    const count = 500;
    await Promise.all(
      Array.from({ length: count }, (_, i) => send({ url: `${receiver.url}/bulk` }, { notificationId: String(i) })),
    );
    const keys = new Set(receiver.requests.map((r) => r.headers["idempotency-key"]));
    expect(keys.size).toBe(count);
  });
});
