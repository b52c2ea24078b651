import { Option, type Command } from "commander";
import { z } from "zod";
import { DURATION_FORMAT, durationSeconds, MAX_DURATION_SECONDS } from "./duration.js";
import { UsageError } from "./errors.js";

/** Defaults of the delivery service's settings (CONTRACT §5 names the first four). */
export const DEFAULT_LEASE_SECONDS = 60;
export const DEFAULT_RETRY_DELAY_SECONDS = 10;
export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_CONCURRENCY = 16;
/** How often the service claims without a NOTIFY, so a lost wake-up delays a row at most this long. */
export const DEFAULT_POLL_INTERVAL_SECONDS = 2;
/**
 * CONTRACT §5.4's NOTIFIER_WRAPUP_GRACE default: migration 30's default of
 * notifier.settings.wrapup_grace, which stands while no service is started with the setting.
 */
export const DEFAULT_WRAPUP_GRACE_SECONDS = 300;
/** How often notifier.expire_wrapups() runs. */
export const DEFAULT_SWEEP_INTERVAL_SECONDS = 5;
/** How often the service checks the attachments' health (notifier.attachments()). */
export const DEFAULT_ATTACHMENT_CHECK_SECONDS = 30;
/** How long SIGTERM waits for in-flight sends before releasing them and exiting. */
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 10;
/** Base of the job URLs in messages (AWX's TOWER_URL_BASE). */
export const DEFAULT_URL_BASE = "http://localhost";
export const DEFAULT_LOG_LEVEL = "info";
/** Pending rows older than this fail as expired instead of paging someone a day late (0: never). */
export const DEFAULT_MAX_AGE_SECONDS = 86_400;
/** Per-attempt timeout when a template's configuration sets no `timeout`. */
export const DEFAULT_SEND_TIMEOUT_SECONDS = 30;
/** NOTIFIER_RETENTION: successful notification rows (and old job events) are kept this long (CONTRACT §9). */
export const DEFAULT_RETENTION_SECONDS = 30 * 86_400;
/** NOTIFIER_FAILED_RETENTION: failed rows are kept longer, for the post-mortem. */
export const DEFAULT_FAILED_RETENTION_SECONDS = 90 * 86_400;
/** How often the service purges what is past its retention. */
export const DEFAULT_PURGE_INTERVAL_SECONDS = 3600;

/**
 * The longest delay a Node.js timer holds: 2^31 - 1 ms (about 24.8 days). setTimeout and
 * setInterval run a longer one after 1 ms, so a longer duration setting would mean instant
 * timeouts and 1 ms loops.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * The longest duration a timer of the service runs, in seconds (2147483, about 24.8 days): every
 * NOTIFIER_* interval and timeout and a template's `timeout` (src/types/keys.ts; SQL checks the
 * same number, in the key rows generated from it).
 */
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);
/** The shortest poll and sweep interval: a faster loop only hammers the database. */
export const MIN_INTERVAL_SECONDS = 0.01;
/** Most sends in flight per process (each claim asks for up to twice as many rows). */
export const MAX_CONCURRENCY = 10_000;
/** Most attempts: notifications.attempts is an SQL integer. */
export const MAX_ATTEMPTS = 2 ** 31 - 1;

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface HttpAddress {
  host: string;
  /** 0 asks the kernel for a free port. */
  port: number;
}

/** Everything the delivery service needs besides the database. */
export interface ServiceSettings {
  /** Sends in flight at once, per process. */
  concurrency: number;
  /** Serve /healthz and /metrics here; null: no HTTP server. */
  http: HttpAddress | null;
  /** Seconds a claimed row stays reserved to this process; extended while its send runs. */
  leaseSeconds: number;
  /** Seconds before the first retry; each later retry waits twice as long (with jitter). */
  retryDelaySeconds: number;
  /** Attempts before a row is marked failed. */
  maxAttempts: number;
  /** Seconds after its creation a pending row fails as expired; 0: never. */
  maxAgeSeconds: number;
  /** Sends in flight at once for one template; null: all but an eighth of `concurrency` (at least one slot left to others). */
  templateConcurrency: number | null;
  /**
   * NOTIFIER_WRAPUP_GRACE: seconds after a job's final status before its missing wrapup is given
   * up on. One value for the database (notifier.settings.wrapup_grace): when set, the service
   * writes it there at start; null (unset) leaves the database's value.
   */
  wrapupGraceSeconds: number | null;
  pollIntervalSeconds: number;
  sweepIntervalSeconds: number;
  /** Seconds between checks of the attachments' health; /healthz is 503 while one is broken. */
  attachmentCheckSeconds: number;
  /** Seconds successful notification rows, old job events, removed templates and fired jobs' bookkeeping are kept. */
  retentionSeconds: number;
  /** Seconds failed notification rows are kept. */
  failedRetentionSeconds: number;
  /** Seconds between periodic purges. */
  purgeIntervalSeconds: number;
  shutdownGraceSeconds: number;
  /** Base URL of job links in messages, without a trailing slash. */
  urlBase: string;
  logLevel: LogLevel;
  /**
   * NOTIFIER_HTTP_TOKEN: when set, every HTTP route but /healthz requires it (bearer header, or
   * `?token=` once, which sets a cookie); required when `http` is not a loopback address.
   */
  httpToken: string | null;
}

export interface ServiceConfig extends ServiceSettings {
  /** libpq connection URI (DATABASE_URL). */
  databaseUrl: string;
}

export const DEFAULT_SERVICE_SETTINGS: ServiceSettings = {
  concurrency: DEFAULT_CONCURRENCY,
  http: null,
  leaseSeconds: DEFAULT_LEASE_SECONDS,
  retryDelaySeconds: DEFAULT_RETRY_DELAY_SECONDS,
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
  maxAgeSeconds: DEFAULT_MAX_AGE_SECONDS,
  templateConcurrency: null,
  wrapupGraceSeconds: null,
  pollIntervalSeconds: DEFAULT_POLL_INTERVAL_SECONDS,
  sweepIntervalSeconds: DEFAULT_SWEEP_INTERVAL_SECONDS,
  attachmentCheckSeconds: DEFAULT_ATTACHMENT_CHECK_SECONDS,
  retentionSeconds: DEFAULT_RETENTION_SECONDS,
  failedRetentionSeconds: DEFAULT_FAILED_RETENTION_SECONDS,
  purgeIntervalSeconds: DEFAULT_PURGE_INTERVAL_SECONDS,
  shutdownGraceSeconds: DEFAULT_SHUTDOWN_GRACE_SECONDS,
  urlBase: DEFAULT_URL_BASE,
  logLevel: DEFAULT_LOG_LEVEL,
  httpToken: null,
};

const text = z.string().trim().min(1, "must not be empty");
const decimal = text.regex(/^\d+(\.\d+)?$/, "must be a number of seconds, e.g. 10 or 0.5").transform(Number)
  .refine((value) => value <= MAX_TIMER_SECONDS,
    `must be at most ${MAX_TIMER_SECONDS} seconds (about 24.8 days, the longest a timer holds)`);
const positiveSeconds = decimal.refine((value) => value > 0, "must be greater than 0");
const intervalSeconds = decimal.refine((value) => value >= MIN_INTERVAL_SECONDS, `must be at least ${MIN_INTERVAL_SECONDS}`);
const wholeNumberUpTo = (maximum: number) => text.regex(/^\d+$/, "must be a whole number").transform(Number)
  .refine((value) => value >= 1, "must be at least 1")
  .refine((value) => value <= maximum, `must be at most ${maximum}`);
const duration = text.transform((value, context): number => {
  const seconds = durationSeconds(value);
  if (seconds === null || seconds <= 0 || seconds > MAX_DURATION_SECONDS) {
    context.addIssue({ code: z.ZodIssueCode.custom, message: `must be ${DURATION_FORMAT}, greater than 0 and at most ${MAX_DURATION_SECONDS / 86_400}d` });
    return z.NEVER;
  }
  return seconds;
});
const httpAddress = text.transform((value, context): HttpAddress => {
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port > 65535) {
    context.addIssue({ code: z.ZodIssueCode.custom, message: "must be HOST:PORT, e.g. 127.0.0.1:9187" });
    return z.NEVER;
  }
  return { host: match[1]!.replace(/^\[(.*)\]$/, "$1"), port };
});
const urlBase = text.url("must be an absolute URL, e.g. https://awx.example.com")
  .refine((value) => /^https?:\/\//.test(value), "must be an http:// or https:// URL")
  .transform((value) => value.replace(/\/+$/, ""));

interface Setting {
  key: keyof ServiceSettings;
  env: string;
  flag: string;
  description: string;
  schema: z.ZodType<ServiceSettings[keyof ServiceSettings], z.ZodTypeDef, string>;
}

/** Every NOTIFIER_* setting, its flag and how it is checked (also the README's table). */
export const SERVICE_SETTINGS: readonly Setting[] = [
  { key: "concurrency", env: "NOTIFIER_CONCURRENCY", flag: "--concurrency", schema: wholeNumberUpTo(MAX_CONCURRENCY),
    description: `sends in flight at once per process (default ${DEFAULT_CONCURRENCY})` },
  { key: "http", env: "NOTIFIER_HTTP", flag: "--http", schema: httpAddress,
    description: "HOST:PORT to serve GET /healthz and GET /metrics (default: off)" },
  { key: "leaseSeconds", env: "NOTIFIER_LEASE", flag: "--lease", schema: positiveSeconds,
    description: `seconds a claimed row is reserved, extended while sending (default ${DEFAULT_LEASE_SECONDS})` },
  { key: "retryDelaySeconds", env: "NOTIFIER_RETRY_DELAY", flag: "--retry-delay", schema: decimal,
    description: `seconds before the first retry, doubling each time (default ${DEFAULT_RETRY_DELAY_SECONDS})` },
  { key: "maxAttempts", env: "NOTIFIER_MAX_ATTEMPTS", flag: "--max-attempts", schema: wholeNumberUpTo(MAX_ATTEMPTS),
    description: `attempts before a row is marked failed (default ${DEFAULT_MAX_ATTEMPTS})` },
  { key: "maxAgeSeconds", env: "NOTIFIER_MAX_AGE", flag: "--max-age", schema: decimal,
    description: `seconds after which a row still pending fails as expired, 0 never (default ${DEFAULT_MAX_AGE_SECONDS})` },
  { key: "templateConcurrency", env: "NOTIFIER_TEMPLATE_CONCURRENCY", flag: "--template-concurrency", schema: wholeNumberUpTo(MAX_CONCURRENCY),
    description: "sends in flight at once for one template, so a slow receiver holds only its share (default: all but an eighth of --concurrency)" },
  { key: "wrapupGraceSeconds", env: "NOTIFIER_WRAPUP_GRACE", flag: "--wrapup-grace", schema: decimal,
    description: "seconds to wait for a lost wrapup event before notifying without host counts; sets notifier.settings.wrapup_grace, "
      + `the one value of the database, at start (default: the database's, initially ${DEFAULT_WRAPUP_GRACE_SECONDS})` },
  { key: "pollIntervalSeconds", env: "NOTIFIER_POLL_INTERVAL", flag: "--poll-interval", schema: intervalSeconds,
    description: `seconds between claims when no NOTIFY arrives (default ${DEFAULT_POLL_INTERVAL_SECONDS})` },
  { key: "sweepIntervalSeconds", env: "NOTIFIER_SWEEP_INTERVAL", flag: "--sweep-interval", schema: intervalSeconds,
    description: `seconds between lost-wrapup sweeps (default ${DEFAULT_SWEEP_INTERVAL_SECONDS})` },
  { key: "retentionSeconds", env: "NOTIFIER_RETENTION", flag: "--retention", schema: duration,
    description: `how long successful notification rows and old job events are kept, e.g. 30d (default ${DEFAULT_RETENTION_SECONDS / 86_400}d)` },
  { key: "failedRetentionSeconds", env: "NOTIFIER_FAILED_RETENTION", flag: "--failed-retention", schema: duration,
    description: `how long failed notification rows are kept (default ${DEFAULT_FAILED_RETENTION_SECONDS / 86_400}d)` },
  { key: "purgeIntervalSeconds", env: "NOTIFIER_PURGE_INTERVAL", flag: "--purge-interval", schema: duration,
    description: `time between purges of what is past its retention (default ${DEFAULT_PURGE_INTERVAL_SECONDS / 3600}h)` },
  { key: "attachmentCheckSeconds", env: "NOTIFIER_ATTACHMENT_CHECK_INTERVAL", flag: "--attachment-check-interval", schema: intervalSeconds,
    description: `seconds between health checks of the attached tables; /healthz is 503 while one is broken (default ${DEFAULT_ATTACHMENT_CHECK_SECONDS})` },
  { key: "shutdownGraceSeconds", env: "NOTIFIER_SHUTDOWN_GRACE", flag: "--shutdown-grace", schema: decimal,
    description: `seconds SIGTERM waits for in-flight sends (default ${DEFAULT_SHUTDOWN_GRACE_SECONDS})` },
  { key: "urlBase", env: "NOTIFIER_URL_BASE", flag: "--url-base", schema: urlBase,
    description: `base of job URLs in messages (default ${DEFAULT_URL_BASE})` },
  { key: "logLevel", env: "NOTIFIER_LOG_LEVEL", flag: "--log-level", schema: z.enum(LOG_LEVELS),
    description: `${LOG_LEVELS.join(" | ")} (default ${DEFAULT_LOG_LEVEL})` },
  { key: "httpToken", env: "NOTIFIER_HTTP_TOKEN", flag: "--http-token", schema: text,
    description: "token the web view and /metrics require (required off loopback; prefer the variable to the flag)" },
];

/** Commander's attribute name of a flag: --retry-delay -> retryDelay. */
const attributeOf = (flag: string) => flag.slice(2).replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());

/** Adds every service flag (each defaulting to its NOTIFIER_* variable) to a command. */
export function addServiceOptions(command: Command): Command {
  for (const setting of SERVICE_SETTINGS) command.addOption(serviceOption(setting));
  return command;
}

/**
 * Adds one of the service's settings to an operator command that needs it, e.g. explain's
 * NOTIFIER_URL_BASE. Read it back with readServiceSettings(command), which validates it the
 * same way as the service does.
 */
export function addServiceSetting(command: Command, key: keyof ServiceSettings): Command {
  const setting = SERVICE_SETTINGS.find((candidate) => candidate.key === key);
  if (!setting) throw new Error(`no service setting ${key}`);
  return command.addOption(serviceOption(setting));
}

/** A setting's flag, defaulting to its NOTIFIER_* variable. */
function serviceOption(setting: (typeof SERVICE_SETTINGS)[number]): Option {
  return new Option(`${setting.flag} <value>`, setting.description).env(setting.env);
}

/**
 * Validates the service flags/variables of a parsed command. A bad value throws a UsageError
 * naming the flag or variable it came from (exit 2); values are not echoed, in case of a secret.
 */
export function readServiceSettings(command: Command): ServiceSettings {
  const options = command.opts<Record<string, string | undefined>>();
  const settings: Record<string, unknown> = { ...DEFAULT_SERVICE_SETTINGS };
  for (const setting of SERVICE_SETTINGS) {
    const attribute = attributeOf(setting.flag);
    const raw = options[attribute];
    if (raw === undefined) continue;
    const parsed = setting.schema.safeParse(raw);
    if (!parsed.success) {
      const name = command.getOptionValueSource(attribute) === "cli" ? setting.flag : setting.env;
      throw new UsageError(`${name} ${parsed.error.issues[0]?.message ?? "is invalid"}`);
    }
    settings[setting.key] = parsed.data;
  }
  return settings as unknown as ServiceSettings;
}
