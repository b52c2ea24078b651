import { createHash, timingSafeEqual } from "node:crypto";
import type http from "node:http";
import net from "node:net";
import { UsageError } from "../errors.js";

/** The cookie a `?token=` visit sets, so the browser's later requests carry the token. */
export const TOKEN_COOKIE = "notifier_token";

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

export type AccessDecision =
  | { allowed: true }
  /** The token came in the query: set the cookie and redirect to the same URL without it. */
  | { allowed: true; setCookieAndRedirect: string }
  | { allowed: false };

/** Checks one request against the required token (bearer header, cookie, or `?token=`). */
export function checkAccess(request: http.IncomingMessage, token: string | null): AccessDecision {
  if (token === null) return { allowed: true };
  const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? "")?.[1];
  if (bearer !== undefined && sameSecret(bearer.trim(), token)) return { allowed: true };
  const cookie = readCookie(request.headers.cookie, TOKEN_COOKIE);
  if (cookie !== undefined && sameSecret(cookie, token)) return { allowed: true };
  const url = new URL(request.url ?? "/", "http://localhost");
  const query = url.searchParams.get("token");
  if (query !== null && sameSecret(query, token)) {
    url.searchParams.delete("token");
    // One leading slash: a path such as "/.//evil.example" normalises to "//evil.example", which
    // a browser would follow to another host.
    return { allowed: true, setCookieAndRedirect: url.pathname.replace(/^\/+/, "/") + url.search };
  }
  return { allowed: false };
}

/**
 * Applies a decision: answers 401 or the cookie-setting redirect and returns true when the
 * request has been answered, false when the caller should go on serving it.
 */
export function answerAccess(decision: AccessDecision, token: string | null, response: http.ServerResponse): boolean {
  if (!decision.allowed) {
    response.writeHead(401, { "content-type": "text/plain; charset=utf-8", "www-authenticate": 'Bearer realm="pg-job-notifier"' });
    response.end("token required: send 'Authorization: Bearer <NOTIFIER_HTTP_TOKEN>' or open /?token=<NOTIFIER_HTTP_TOKEN>\n");
    return true;
  }
  if ("setCookieAndRedirect" in decision) {
    response.writeHead(303, {
      location: decision.setCookieAndRedirect,
      "set-cookie": `${TOKEN_COOKIE}=${encodeURIComponent(token ?? "")}; Path=/; HttpOnly; SameSite=Strict`,
    });
    response.end();
    return true;
  }
  return false;
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
