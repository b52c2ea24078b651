import { pino, type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";
import type { LogLevel } from "./config.js";
import { notificationTypes } from "./types/index.js";
import { maskUrlsIn } from "./redact.js";
import { terminalSafe } from "./terminal.js";

export type { Logger } from "pino";

/**
 * The secret configuration keys of every notification type (their one declaration), hook URLs
 * that carry their token in the path (mattermost_url, rocketchat_url, teams_url) among them.
 */
const SECRET_CONFIGURATION_KEYS = [...new Set(Object.values(notificationTypes).flatMap((type) => type.secretKeys))].sort();

/**
 * Fields that could carry a secret if anyone ever logged them. Nothing logs configurations or
 * connection strings on purpose; this is the safety net (errors are scrubbed before logging).
 */
export const REDACTED_PATHS = [
  ...SECRET_CONFIGURATION_KEYS.flatMap((key) => [key, `*.${key}`]),
  "configuration", "*.configuration", "databaseUrl", "*.databaseUrl",
  "headers.authorization", "*.headers.authorization",
  "httpToken", "*.httpToken",
];

export interface LoggerOptions {
  level: LogLevel;
  /** Human-readable lines instead of JSON (default: when stdout is a terminal). */
  pretty?: boolean;
  /** Where lines go (default stdout). */
  destination?: DestinationStream;
}

/** How deep logged objects are searched for URLs to mask. */
const URL_MASK_DEPTH = 4;

/** Every string of a logged value (message or field, `depth` levels down) through `clean`. */
function cleanStrings(value: unknown, clean: (text: string) => string, depth = 0): unknown {
  if (typeof value === "string") return clean(value);
  if (depth >= URL_MASK_DEPTH || typeof value !== "object" || value === null || value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((item) => cleanStrings(item, clean, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, cleanStrings(item, clean, depth + 1)]));
}

/** JSON lines on stdout (one per event), or colourful lines on a terminal. */
export function createLogger(options: LoggerOptions): Logger {
  const forTerminal = options.pretty ?? process.stdout.isTTY;
  // URLs without user info, query values or path tokens; on a terminal, control and bidi
  // characters (from job names, receivers' errors) escaped too, as JSON lines escape them.
  const clean = forTerminal ? (text: string) => terminalSafe(maskUrlsIn(text)) : maskUrlsIn;
  const settings = {
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    hooks: {
      logMethod(this: Logger, args: Parameters<Logger["info"]>, method: (...args: unknown[]) => void) {
        method.apply(this, args.map((arg) => cleanStrings(arg, clean)));
      },
    },
  };
  if (forTerminal) {
    const destination = options.destination ? { destination: options.destination } : {};
    return pino(settings, pretty({ colorize: true, sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname", ...destination }));
  }
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
