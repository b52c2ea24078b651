import type { ReceivedRequest, Responder } from "./httpReceiver.js";

/**
 * Responders for HttpReceiver that check each request the way the real service's API does
 * (path, method, auth, content type, required fields) and answer the way it answers — so a type
 * that sends a wrong request fails here as it would in production.
 */

type Answer = Awaited<ReturnType<Responder>>;

const json = (status: number, body: unknown): Answer => ({
  status,
  body: JSON.stringify(body),
  headers: { "content-type": "application/json; charset=utf-8" },
});

function parseJsonBody(request: ReceivedRequest): Record<string, unknown> | null {
  if (!String(request.headers["content-type"] ?? "").startsWith("application/json")) return null;
  try {
    const parsed: unknown = JSON.parse(request.body);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;

/**
 * Slack's Web API chat.postMessage under /api: failures are HTTP 200 with {"ok": false, "error"}.
 * Channels in `missingChannels` answer channel_not_found.
 */
export function fakeSlack(options: { token: string; missingChannels?: Iterable<string> }): Responder {
  const missing = new Set(options.missingChannels ?? []);
  return (request) => {
    if (request.url !== "/api/chat.postMessage") return json(404, { ok: false, error: "unknown_method" });
    if (request.method !== "POST") return json(200, { ok: false, error: "invalid_request_data" });
    const auth = request.headers.authorization;
    if (!auth) return json(200, { ok: false, error: "not_authed" });
    if (auth !== `Bearer ${options.token}`) return json(200, { ok: false, error: "invalid_auth" });
    const body = parseJsonBody(request);
    if (!body) return json(200, { ok: false, error: "invalid_json" });
    if (typeof body.channel !== "string" || body.channel === "") return json(200, { ok: false, error: "channel_not_found" });
    const attachments = body.attachments as { text?: unknown }[] | undefined;
    if (typeof body.text !== "string" && !(Array.isArray(attachments) && typeof attachments[0]?.text === "string")) {
      return json(200, { ok: false, error: "no_text" });
    }
    if (missing.has(body.channel)) return json(200, { ok: false, error: "channel_not_found" });
    return json(200, { ok: true, channel: "C0123456789", ts: "1767225600.000100", message: { text: body.text ?? "" } });
  };
}

/** PagerDuty's Events API v2: POST /v2/enqueue, 202 on success, 400 "invalid event" otherwise. */
export function fakePagerduty(options: { routingKey: string }): Responder {
  return (request) => {
    if (request.url !== "/v2/enqueue" || request.method !== "POST") return json(404, { status: "not found" });
    const event = parseJsonBody(request);
    const invalid = (error: string) => json(400, { status: "invalid event", message: "Event object is invalid", errors: [error] });
    if (!event) return invalid("Invalid JSON");
    if (event.routing_key !== options.routingKey) return invalid("'routing_key' is invalid");
    if (!["trigger", "acknowledge", "resolve"].includes(String(event.event_action))) return invalid("'event_action' is invalid");
    const payload = event.payload as Record<string, unknown> | undefined;
    if (typeof payload?.summary !== "string" || payload.summary === "") return invalid("'payload.summary' is missing");
    if (typeof payload.source !== "string" || payload.source === "") return invalid("'payload.source' is missing");
    if (!["critical", "error", "warning", "info"].includes(String(payload.severity))) return invalid("'payload.severity' is invalid");
    return json(202, { status: "success", message: "Event processed", dedup_key: event.dedup_key ?? "generated" });
  };
}

/**
 * Twilio's Messages API: POST /2010-04-01/Accounts/{sid}/Messages.json, basic auth sid:token,
 * form-encoded To/From/Body; 201 on success. Numbers in `invalidNumbers` answer 400 (21211).
 */
export function fakeTwilio(options: { accountSid: string; authToken: string; invalidNumbers?: Iterable<string> }): Responder {
  const invalid = new Set(options.invalidNumbers ?? []);
  return (request) => {
    if (request.url !== `/2010-04-01/Accounts/${options.accountSid}/Messages.json` || request.method !== "POST") {
      return json(404, { code: 20404, message: "The requested resource was not found", status: 404 });
    }
    if (request.headers.authorization !== basic(options.accountSid, options.authToken)) {
      return json(401, { code: 20003, message: "Authenticate", status: 401 });
    }
    if (request.headers["content-type"] !== "application/x-www-form-urlencoded") {
      return json(400, { code: 21608, message: "Expected a form-encoded body", status: 400 });
    }
    const form = new URLSearchParams(request.body);
    if (!form.get("From")) return json(400, { code: 21603, message: "A 'From' phone number is required.", status: 400 });
    if (!form.get("Body")) return json(400, { code: 21602, message: "Message body is required.", status: 400 });
    const to = form.get("To");
    if (!to) return json(400, { code: 21604, message: "A 'To' phone number is required.", status: 400 });
    if (invalid.has(to)) return json(400, { code: 21211, message: `The 'To' number ${to} is not a valid phone number.`, status: 400 });
    return json(201, { sid: "SM0123456789abcdef0123456789abcdef", status: "queued", to, from: form.get("From"), body: form.get("Body") });
  };
}

/** Grafana's HTTP API: POST /api/annotations with a Bearer token; 200 {"message", "id"}. */
export function fakeGrafana(options: { key: string }): Responder {
  let nextId = 1;
  return (request) => {
    if (request.url !== "/api/annotations" || request.method !== "POST") return json(404, { message: "Not found" });
    if (request.headers.authorization !== `Bearer ${options.key}`) return json(401, { message: "Invalid API key" });
    const body = parseJsonBody(request);
    if (!body || typeof body.text !== "string" || body.text === "") return json(400, { message: "bad request data" });
    if (typeof body.time !== "number") return json(400, { message: "bad request data" });
    return json(200, { message: "Annotation added", id: nextId++ });
  };
}

/** A Mattermost or Rocket.Chat incoming webhook at `path`: JSON with a text. */
export function fakeChatWebhook(options: { path: string; success: Answer }): Responder {
  return (request) => {
    if (request.url !== options.path || request.method !== "POST") return { status: 404, body: "Not found" };
    const body = parseJsonBody(request);
    if (!body || typeof body.text !== "string" || body.text === "") return json(400, { message: "No text specified" });
    return options.success;
  };
}
