import { once } from "node:events";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeHttpPools, httpRequest } from "../../src/types/http.js";
import { pagerduty } from "../../src/types/pagerduty.js";
import { DeliveryError } from "../../src/types/type.js";
import { makeDelivery } from "../helpers/delivery.js";
import { HttpReceiver } from "../helpers/httpReceiver.js";
import { selfSignedCertificate } from "../helpers/selfSignedCert.js";
import { afterFile } from "../helpers/afterFile.js";

// A receiver that answers with a redirect elsewhere must not get the request (and its body,
// which for PagerDuty holds the routing key) sent on to another origin, or over plain HTTP.

const ROUTING_KEY = "R0UT1NGKEY0123456789abcdefabcdef";

let elsewhere: HttpReceiver;
let start: HttpReceiver;
beforeAll(async () => {
  elsewhere = await HttpReceiver.start();
  start = await HttpReceiver.start();
});
afterAll(() => closeHttpPools());

async function rejection(sending: Promise<unknown>): Promise<DeliveryError> {
  const error = await sending.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

/** An HTTPS server on loopback (self-signed) answering every request with `answer`. */
async function httpsServer(answer: (response: import("node:http").ServerResponse) => void): Promise<string> {
  const certificate = await selfSignedCertificate();
  const server = https.createServer({ key: certificate.key, cert: certificate.cert }, (request, response) => {
    request.resume();
    request.on("end", () => answer(response));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  afterFile(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("redirects", () => {
  it.each([307, 308, 302, 301])("PagerDuty's routing key is not re-POSTed to another origin on %i", async (status) => {
    elsewhere.requests.length = 0;
    start.responder = () => ({ status, headers: { location: `${elsewhere.url}/v2/enqueue` } });
    const error = await rejection(pagerduty.send(makeDelivery({
      subdomain: "acme", token: "pd-rest-token-0042", service_key: ROUTING_KEY, client_name: "awx", api_url: start.url,
    }, { body: "{}" })));
    expect(error.message).toMatch(new RegExp(`^POST http://127\\.0\\.0\\.1:\\d+/v2/enqueue: redirected to another origin \\(http://127\\.0\\.0\\.1:${new URL(elsewhere.url).port}/v2/enqueue\\), not followed`));
    expect(error.permanent).toBe(true);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it("never follows https to http, even on the same host", async () => {
    elsewhere.requests.length = 0;
    const secure = await httpsServer((response) => {
      response.writeHead(308, { location: `${elsewhere.url}/plain` });
      response.end();
    });
    const error = await rejection(httpRequest({
      notificationId: "1", method: "POST", url: `${secure}/hook`, json: { routing_key: ROUTING_KEY }, verifyTls: false, signal: AbortSignal.timeout(10_000),
    }));
    expect(error.message).toMatch(/: redirected from https to http \(http:\/\/127\.0\.0\.1:\d+\/plain\), not followed/);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it("still follows redirects within the origin", async () => {
    start.requests.length = 0;
    start.responder = (request) => (request.url === "/a" ? { status: 307, headers: { location: "/b" } } : { status: 200, body: "ok" });
    const response = await httpRequest({ notificationId: "1", method: "POST", url: `${start.url}/a`, json: {}, signal: AbortSignal.timeout(10_000) });
    expect(response.status).toBe(200);
    expect(start.requests.map((r) => r.url)).toEqual(["/a", "/b"]);
  });
});
