import { UsageError } from "./errors.js";

/** Seconds per unit of a duration (CONTRACT §2): `30d`, `12h`, `15m`, `90s` or plain seconds. */
const SECONDS_PER_UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** The longest duration accepted: ten years, far beyond any retention or timeout that makes sense. */
export const MAX_DURATION_SECONDS = 10 * 365 * 86_400;

/** What a duration looks like, for error messages. */
export const DURATION_FORMAT = "a duration: seconds, or a number with s, m, h or d (e.g. 30d)";

/** Seconds in a duration (`5`, `0.5`, `90s`, `15m`, `12h`, `30d`), or null when it is not one. */
export function durationSeconds(value: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/.exec(value);
  return match ? Number(match[1]) * SECONDS_PER_UNIT[match[2] || "s"]! : null;
}

/**
 * Seconds in a duration, greater than 0 and at most MAX_DURATION_SECONDS; anything else is a
 * UsageError naming `setting`.
 */
export function parseDuration(value: string, setting: string): number {
  const seconds = durationSeconds(value);
  if (seconds === null) throw new UsageError(`${setting} must be ${DURATION_FORMAT}`);
  if (seconds <= 0) throw new UsageError(`${setting} must be greater than 0`);
  if (seconds > MAX_DURATION_SECONDS) throw new UsageError(`${setting} must be at most ${MAX_DURATION_SECONDS / 86_400}d`);
  return seconds;
}
