import { Agent, request, type Dispatcher } from "undici";
import { sliceCodePoints, storableText } from "../text.js";
import { displayUrl, isSecretEntry, redact, urlSecrets } from "../redact.js";
import { DeliveryError } from "./type.js";

export { displayUrl, redact } from "../redact.js";

/** Redirects followed before an attempt fails (python-requests follows 30; a webhook needs few). */
export const MAX_REDIRECTS = 5;
/** Bytes of a response kept: enough for any API answer, bounded against a hostile receiver. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Characters of a response quoted in an error. */
export const ERROR_EXCERPT_CHARS = 200;
/** Idle keep-alive connections are kept this long for the next request to the same origin. */
const KEEP_ALIVE_MS = 30_000;
const USER_AGENT = "pg-job-notifier";

export interface HttpRequest {
  /** notifications.id: sent as `Idempotency-Key` on every request, redirects and retries included. */
  notificationId: string;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  url: string;
  /** Serialized as the JSON body (Content-Type application/json). */
  json?: unknown;
  /** An already serialized JSON document sent as is (Content-Type application/json). */
  jsonText?: string;
  /** Sent form-encoded; an array value repeats the key (Twilio's `To=…&To=…`). */
  form?: Record<string, string | readonly string[]>;
  /** Extra headers; `Idempotency-Key` cannot be overridden. */
  headers?: Record<string, string>;
  basicAuth?: { username: string; password: string };
  bearerToken?: string;
  /** false: accept any server certificate (disable_ssl_verification, *_no_verify_ssl). */
  verifyTls?: boolean;
  /** The attempt's deadline (and the service's stop): aborts the request wherever it is. */
  signal: AbortSignal;
  /** Further strings to keep out of errors (API keys sent in a body, for example). */
  secrets?: readonly string[];
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as text, cut at MAX_RESPONSE_BYTES. */
  body: string;
  /** The URL that answered, after redirects, for display (no credentials, no query). */
  displayUrl: string;
}

/** One shared keep-alive pool per verification mode: connections are reused across rows. */
const dispatchers = new Map<boolean, Dispatcher>();

function dispatcherFor(verifyTls: boolean): Dispatcher {
  let dispatcher = dispatchers.get(verifyTls);
  if (!dispatcher) {
    dispatcher = new Agent({
      keepAliveTimeout: KEEP_ALIVE_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_MS,
      connect: { rejectUnauthorized: verifyTls },
    });
    dispatchers.set(verifyTls, dispatcher);
  }
  return dispatcher;
}

/** Closes the shared connection pools (tests, shutdown); the next request opens new ones. */
export async function closeHttpPools(): Promise<void> {
  const closing = [...dispatchers.values()].map((dispatcher) => dispatcher.close());
  dispatchers.clear();
  await Promise.all(closing);
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** A redirect stays with the configured server: the same origin, or the same host moved to https. */
function sameOriginOrUpgrade(from: URL, to: URL): boolean {
  if (to.origin === from.origin) return true;
  return from.protocol === "http:" && to.protocol === "https:" && to.hostname === from.hostname;
}

/**
 * Sends one HTTP request, following at most MAX_REDIRECTS redirects within its origin (or to
 * https on the same host); a redirect to another origin or from https to http fails, permanent. Resolves with a status
 * below 400; throws DeliveryError otherwise (status code plus a short excerpt of the response),
 * and on network errors, timeouts and aborts. No error message contains a credential: URLs are
 * shown without user info and query, and every secret of the request is blotted out.
 */
export async function httpRequest(options: HttpRequest): Promise<HttpResponse> {
  let url = parseUrl(options.url);
  let basicAuth = options.basicAuth;
  if (url.username || url.password) {
    // A URL with user info (https://user:pass@host/) means basic auth, as python-requests does.
    basicAuth ??= { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
    url.username = "";
    url.password = "";
  }
  // Computed only for an error: the hot path pays nothing for it.
  const secrets = () => collectSecrets(options, basicAuth, options.url);
  const fail = (message: string, permanent = false): never => {
    throw new DeliveryError(redact(message, secrets()), { permanent });
  };
  let method: string = options.method;
  let { body, contentType } = encodeBody(options);
  let headers = buildHeaders(options, basicAuth, contentType);

  for (let redirects = 0; ; redirects++) {
    const shown = () => `${method} ${displayUrl(url.href)}`;
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, {
        method: method as Dispatcher.HttpMethod,
        headers,
        body,
        signal: options.signal,
        dispatcher: dispatcherFor(options.verifyTls ?? true),
      });
    } catch (error) {
      // A header value undici refuses (a newline in it…) fails the same way on every retry.
      return fail(`${shown()}: ${describeFailure(error, options.signal)}`, (error as { code?: string }).code === "UND_ERR_INVALID_ARG");
    }
    const location = response.headers.location;
    if (REDIRECT_STATUSES.has(response.statusCode) && typeof location === "string") {
      await response.body.dump().catch(() => {});
      if (redirects >= MAX_REDIRECTS) {
        fail(`${shown()}: too many redirects (more than ${MAX_REDIRECTS})`);
      }
      const next = parseUrl(location, url);
      next.username = "";
      next.password = "";
      // The request (a routing key in its body, credentials in its headers) is for the origin it
      // was configured for: never re-sent elsewhere, nor over plain HTTP.
      if (url.protocol === "https:" && next.protocol === "http:") {
        fail(`${shown()}: redirected from https to http (${displayUrl(next.href)}), not followed`, true);
      }
      if (!sameOriginOrUpgrade(url, next)) {
        fail(`${shown()}: redirected to another origin (${displayUrl(next.href)}), not followed: configure the URL it points to`, true);
      }
      // As browsers and fetch: 303 becomes a GET, and so do 301/302 answering a POST.
      if (response.statusCode === 303 || ((response.statusCode === 301 || response.statusCode === 302) && method === "POST")) {
        method = "GET";
        body = undefined;
        const { "content-type": _dropped, ...rest } = headers;
        headers = rest;
      }
      url = next;
      continue;
    }

    let text: string;
    try {
      text = await readLimited(response.body, response.headers["content-length"]);
    } catch (error) {
      return fail(`${shown()}: HTTP ${response.statusCode}, reading the response failed: ${describeFailure(error, options.signal)}`);
    }
    if (response.statusCode >= 400) {
      // Blotted out before the excerpt is cut, so no cut secret leaves its first characters.
      const known = secrets();
      throw new DeliveryError(redact(`${shown()}: HTTP ${response.statusCode}: ${excerpt(redact(text, known))}`, known), {
        permanent: isPermanentStatus(response.statusCode),
        httpStatus: response.statusCode,
        retryAfterSeconds: retryAfterSeconds(response.headers["retry-after"]),
      });
    }
    const answeredBy = url.href;
    return {
      status: response.statusCode,
      headers: response.headers,
      body: text,
      get displayUrl() {
        return displayUrl(answeredBy);
      },
    };
  }
}

/** `path` (starting with "/") under a configured base URL, whether or not the base ends in "/". */
export function urlUnder(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}${path}`;
}

/**
 * A client error other than these means the request itself is refused: sending it again cannot
 * help (408 Request Timeout, 425 Too Early and 429 Too Many Requests ask for a later retry).
 */
const RETRYABLE_CLIENT_ERRORS = new Set([408, 425, 429]);

export function isPermanentStatus(status: number): boolean {
  return status >= 400 && status < 500 && !RETRYABLE_CLIENT_ERRORS.has(status);
}

/** Longest Retry-After honoured (a receiver cannot park a row for longer than a day). */
export const MAX_RETRY_AFTER_SECONDS = 86_400;

/** Retry-After as seconds from now (delta-seconds or an HTTP date), bounded; null when absent or unreadable. */
export function retryAfterSeconds(header: string | string[] | undefined, now = Date.now()): number | null {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return null;
  const seconds = /^\d+$/.test(value) ? Number(value) : (Date.parse(value) - now) / 1000;
  if (!Number.isFinite(seconds)) return null;
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(0, seconds));
}

/**
 * A short one-line quote of a response for an error message: whitespace runs folded, cut at
 * ERROR_EXCERPT_CHARS code points (never half a surrogate pair), storable in PostgreSQL.
 */
export function excerpt(text: string): string {
  // Only the head can be quoted: fold whitespace there, not across a 1 MB answer.
  const flat = storableText(text.slice(0, ERROR_EXCERPT_CHARS * 4).replace(/\s+/g, " ").trim());
  if (!flat) return "(empty response)";
  const quoted = sliceCodePoints(flat, ERROR_EXCERPT_CHARS);
  return quoted === flat && text.length > ERROR_EXCERPT_CHARS * 4 ? `${flat}…` : quoted;
}

function parseUrl(raw: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new DeliveryError(`invalid URL ${displayUrl(raw)}`, { permanent: true });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new DeliveryError(`unsupported URL scheme "${url.protocol}" (expected http or https)`, { permanent: true });
  }
  return url;
}

function encodeBody(options: HttpRequest): { body: string | undefined; contentType: string | undefined } {
  if (options.jsonText !== undefined) return { body: options.jsonText, contentType: "application/json" };
  if (options.json !== undefined) return { body: JSON.stringify(options.json), contentType: "application/json" };
  if (options.form !== undefined) {
    const form = new URLSearchParams();
    for (const [key, value] of Object.entries(options.form)) {
      for (const item of typeof value === "string" ? [value] : value) form.append(key, item);
    }
    return { body: form.toString(), contentType: "application/x-www-form-urlencoded" };
  }
  return { body: undefined, contentType: undefined };
}

function buildHeaders(options: HttpRequest, basicAuth: HttpRequest["basicAuth"], contentType: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { "user-agent": USER_AGENT };
  if (contentType) headers["content-type"] = contentType;
  if (basicAuth) {
    headers.authorization = `Basic ${Buffer.from(`${basicAuth.username}:${basicAuth.password}`).toString("base64")}`;
  }
  if (options.bearerToken) headers.authorization = `Bearer ${options.bearerToken}`;
  for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
  headers["idempotency-key"] = options.notificationId;
  return headers;
}

function collectSecrets(options: HttpRequest, basicAuth: HttpRequest["basicAuth"], rawUrl: string): string[] {
  const secrets = [...(options.secrets ?? [])];
  if (options.bearerToken) secrets.push(options.bearerToken);
  if (basicAuth?.password) {
    secrets.push(basicAuth.password, Buffer.from(`${basicAuth.username}:${basicAuth.password}`).toString("base64"));
  }
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value && isSecretEntry(name, value)) secrets.push(value);
  }
  // User info, query values and hook path tokens, which a receiver's error page may echo.
  secrets.push(...urlSecrets(rawUrl));
  // redact() skips empty ones and takes the longest first.
  return secrets;
}

async function readLimited(body: Dispatcher.ResponseData["body"], contentLength: unknown): Promise<string> {
  // The usual case, a small answer of declared length, takes undici's fast path.
  if (typeof contentLength === "string" && Number(contentLength) <= MAX_RESPONSE_BYTES) return body.text();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    chunks.push(buffer);
    size += buffer.length;
    if (size >= MAX_RESPONSE_BYTES) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString("utf8");
}

/** Why an attempt's signal aborted, for an error: "timed out", or the reason the service gave. */
export function abortReason(signal: AbortSignal): string {
  const reason = signal.reason as { name?: string; message?: string } | undefined;
  if (reason?.name === "TimeoutError") return "timed out";
  return reason?.message || "aborted";
}

function describeFailure(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) return abortReason(signal);
  const err = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.cause?.code ?? err.code;
  const message = err.cause?.message ?? err.message ?? String(error);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}
