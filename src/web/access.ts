import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type http from "node:http";
import net from "node:net";
import type { TLSSocket } from "node:tls";
import { UsageError } from "../errors.js";

/** The cookie a `?token=` visit sets: a random session id, never the token itself. */
export const SESSION_COOKIE = "notifier_session";
/** How long a browser session lasts (the cookie's Max-Age, and its life on the server). */
export const SESSION_MAX_AGE_SECONDS = 12 * 60 * 60;
/** Sessions kept at most; the oldest go first (each `?token=` visit makes one). */
export const MAX_SESSIONS = 1_000;
/** Random bytes of a session id. */
const SESSION_ID_BYTES = 32;

/**
 * Who may use the HTTP server: everyone on a loopback address without a token; otherwise only
 * requests carrying NOTIFIER_HTTP_TOKEN. A token that is set is always required, even on
 * loopback. Returns the token to require, or null when none is.
 */
export function requiredToken(host: string, token: string | undefined): string | null {
  if (token) return token;
  if (isLoopback(host)) return null;
  throw new UsageError(`NOTIFIER_HTTP_TOKEN is required when --http binds a non-loopback address (${host})`);
}

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  if (bare === "localhost") return true;
  if (net.isIPv4(bare)) return bare.startsWith("127.");
  return bare === "::1";
}

/**
 * True when `hostHeader` names this loopback server: localhost, 127.x.x.x or [::1] with its port
 * (80 may be left out). Without a token the server answers nothing else, so a page whose name was
 * rebound to 127.0.0.1 (DNS rebinding) cannot read it or post to it: its requests carry its own name.
 */
export function isLoopbackHostHeader(hostHeader: string | undefined, port: number): boolean {
  const match = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::(\d{1,5}))?$/i.exec(hostHeader ?? "");
  if (!match) return false;
  if (match[1]!.startsWith("127.") && !net.isIPv4(match[1]!)) return false;
  return (match[2] === undefined ? 80 : Number(match[2])) === port;
}

export type AccessDecision =
  | { allowed: true }
  /** The token came in the query: start a session, set its cookie, redirect to the URL without it. */
  | { allowed: true; startSessionAndRedirect: string }
  /** No token and a Host that is not this loopback server's: 421 Misdirected Request. */
  | { allowed: false; misdirected: true }
  | { allowed: false };

/**
 * Who may use the HTTP server. Without a token (loopback only, see requiredToken): requests whose
 * Host names this loopback server. With one: requests carrying it (bearer header, or `?token=`
 * once, which starts a browser session kept in memory, its id in an HttpOnly cookie).
 */
export class HttpAccess {
  /** Session id → when it expires (ms); in insertion order, so the first is the oldest. */
  private readonly sessions = new Map<string, number>();

  constructor(readonly token: string | null, private readonly now: () => number = Date.now) {}

  check(request: http.IncomingMessage, port: number): AccessDecision {
    if (this.token === null) return isLoopbackHostHeader(request.headers.host, port) ? { allowed: true } : { allowed: false, misdirected: true };
    const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? "")?.[1];
    if (bearer !== undefined && sameSecret(bearer.trim(), this.token)) return { allowed: true };
    const session = readCookie(request.headers.cookie, SESSION_COOKIE);
    if (session !== undefined && this.validSession(session)) return { allowed: true };
    const url = new URL(request.url ?? "/", "http://localhost");
    const query = url.searchParams.get("token");
    if (query !== null && sameSecret(query, this.token)) {
      url.searchParams.delete("token");
      // One leading slash: a path such as "/.//evil.example" normalises to "//evil.example", which
      // a browser would follow to another host.
      return { allowed: true, startSessionAndRedirect: url.pathname.replace(/^\/+/, "/") + url.search };
    }
    return { allowed: false };
  }

  /**
   * Applies a decision: answers 421, 401 or the session-starting redirect and returns true when
   * the request has been answered, false when the caller should go on serving it.
   */
  answer(decision: AccessDecision, request: http.IncomingMessage, response: http.ServerResponse): boolean {
    if (!decision.allowed) {
      if ("misdirected" in decision) {
        response.writeHead(421, { "content-type": "text/plain; charset=utf-8" });
        response.end("misdirected request: without NOTIFIER_HTTP_TOKEN only http://localhost:<port> (or 127.0.0.1, [::1]) is served\n");
        return true;
      }
      response.writeHead(401, { "content-type": "text/plain; charset=utf-8", "www-authenticate": 'Bearer realm="pg-job-notifier"' });
      response.end("token required: send 'Authorization: Bearer <NOTIFIER_HTTP_TOKEN>' or open /?token=<NOTIFIER_HTTP_TOKEN>\n");
      return true;
    }
    if ("startSessionAndRedirect" in decision) {
      const secure = behindTls(request) ? "; Secure" : "";
      response.writeHead(303, {
        location: decision.startSessionAndRedirect,
        "set-cookie": `${SESSION_COOKIE}=${this.startSession()}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MAX_AGE_SECONDS}${secure}`,
      });
      response.end();
      return true;
    }
    return false;
  }

  private startSession(): string {
    const now = this.now();
    for (const [id, expiresAt] of this.sessions) if (expiresAt <= now) this.sessions.delete(id);
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(SESSION_ID_BYTES).toString("base64url");
    this.sessions.set(id, now + SESSION_MAX_AGE_SECONDS * 1000);
    return id;
  }

  private validSession(id: string): boolean {
    const expiresAt = this.sessions.get(id);
    if (expiresAt === undefined) return false;
    if (expiresAt > this.now()) return true;
    this.sessions.delete(id);
    return false;
  }
}

/** The browser reached us over TLS: directly, or through a proxy that says so (X-Forwarded-Proto). */
function behindTls(request: http.IncomingMessage): boolean {
  if ((request.socket as TLSSocket).encrypted) return true;
  const forwarded = request.headers["x-forwarded-proto"];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(",")[0]?.trim().toLowerCase();
  return first === "https";
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) {
      try {
        return decodeURIComponent(value.join("="));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Compares without leaking the token's length or prefix through timing. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
