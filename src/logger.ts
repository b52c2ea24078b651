import { pino, type Logger } from "pino";
import pretty from "pino-pretty";
import type { LogLevel } from "./config.js";
import { notificationTypes } from "./types/index.js";

export type { Logger } from "pino";

/** The secret configuration keys of every notification type (their one declaration). */
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
}

/** JSON lines on stdout (one per event), or colourful lines on a terminal. */
export function createLogger(options: LoggerOptions): Logger {
  const settings = { level: options.level, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } };
  if (options.pretty ?? process.stdout.isTTY) {
    return pino(settings, pretty({ colorize: true, sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" }));
  }
  return pino(settings);
}
