/**
 * Secrets carried in URLs, in one place: what of a URL is secret (user info, query values, a
 * hook's path token), and the masked forms shown wherever a URL or configuration is printed
 * (errors, logs, the CLI, the web view).
 */

/** Shown in place of a secret value. */
export const MASK = "********";
/**
 * Names of headers (and nested configuration entries) whose values are secrets: Authorization,
 * cookies, API keys, signing secrets, credentials, JWTs, passphrases…
 */
export const SENSITIVE_NAME = /auth|token|key|secret|pass|cookie|session|signature|credential|jwt|hmac|bearer|private/i;
/** A value that is a credential whatever its name: an HTTP authorization scheme and its secret. */
const CREDENTIAL_VALUE = /^\s*(bearer|basic|token|bot|digest|negotiate|apikey)\s+\S/i;

/** True when a named value (a header, a nested configuration entry) must be kept secret. */
export function isSecretEntry(name: string, value: unknown): boolean {
  return SENSITIVE_NAME.test(name) || (typeof value === "string" && CREDENTIAL_VALUE.test(value));
}

/** Shown in place of a token-like path segment. */
const MASKED_SEGMENT = "…";

/**
 * Hook URLs carry their secret in a path segment (Slack `/services/T…/B…/<token>`, Mattermost
 * `/hooks/<26 chars>`, Rocket.Chat `/hooks/<id>/<token>`, Discord `/webhooks/<id>/<token>`, Teams
 * GUIDs): a long run of token characters with a digit, or any run of 24 or more.
 */
export function looksLikeToken(segment: string): boolean {
  if (segment.length < 16 || !/^[A-Za-z0-9_\-.~%@]+$/.test(segment)) return false;
  return /[0-9]/.test(segment) || segment.length >= 24;
}

function parse(raw: string): URL | null {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url : null;
  } catch {
    return null;
  }
}

function maskedPath(url: URL): string {
  return url.pathname.split("/").map((segment) => (looksLikeToken(segment) ? MASKED_SEGMENT : segment)).join("/");
}

/** The last URL displayUrl showed: every sent row of a template shows the same one (its recipients). */
let lastDisplayed = { raw: "", shown: "(invalid URL)" };

/** A URL for an error line: no user info, the query as `?…`, token-like path segments masked. */
export function displayUrl(raw: string): string {
  if (raw === lastDisplayed.raw) return lastDisplayed.shown;
  const url = parse(raw);
  const shown = url ? `${url.protocol}//${url.host}${maskedPath(url)}${url.search ? "?…" : ""}` : "(invalid URL)";
  lastDisplayed = { raw, shown };
  return shown;
}

/**
 * A URL for a configuration view: user info and every query value as MASK (names kept), token-like
 * path segments masked. Text that is not an http(s) URL is returned as it is.
 */
export function maskUrl(raw: string): string {
  const url = parse(raw);
  if (!url) return raw;
  const userInfo = url.username || url.password ? `${MASK}@` : "";
  const query = [...url.searchParams.keys()].map((name) => `${encodeURIComponent(name)}=${MASK}`).join("&");
  return `${url.protocol}//${userInfo}${url.host}${maskedPath(url)}${query ? `?${query}` : ""}`;
}

/** Every http(s) URL inside `text`, masked (maskUrl): for log lines and other free text. */
export function maskUrlsIn(text: string): string {
  return text.replace(/https?:\/\/[^\s"'<>`]+/gi, (found) => maskUrl(found));
}

/**
 * The parts of a URL that are secrets, in every form they may be echoed back in: the password
 * of its user info, query values and token-like path segments (which a receiver's
 * `Cannot POST /hooks/…` page echoes). For redact().
 */
export function urlSecrets(raw: string): string[] {
  const url = parse(raw);
  if (!url) return [];
  const secrets: string[] = [];
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  };
  if (url.password) secrets.push(url.password, decode(url.password));
  for (const value of url.searchParams.values()) if (value.length >= 4) secrets.push(value);
  for (const token of url.pathname.split("/").filter(looksLikeToken)) secrets.push(token, decode(token));
  return [...new Set(secrets)].filter(Boolean);
}

/** Replaces every occurrence of each secret (raw and URL-encoded) with `***`, longest first. */
export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (!secret) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) result = result.split(form).join("***");
  }
  return result;
}
