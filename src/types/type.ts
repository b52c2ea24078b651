import type { z } from "zod";
import type { JobSnapshot, Trigger } from "../job.js";
import type { KeyDeclarations } from "./keys.js";

/** The notification types (notifier.notification_templates.notification_type). */
export const NOTIFICATION_TYPE_NAMES = [
  "email", "webhook", "slack", "mattermost", "rocketchat", "pagerduty", "grafana", "irc", "twilio", "awssns", "teams",
] as const;
export type NotificationTypeName = (typeof NOTIFICATION_TYPE_NAMES)[number];

/** Liquid templates of a type's default messages (AWX's defaults), used for every trigger. */
export interface DefaultMessages {
  /** The one-line message (the row's `subject`). */
  message: string;
  /** The body, or null when the type sends only the message line. */
  body: string | null;
}

/** One attempt to send one notification row. */
export interface Delivery<Config> {
  /** notifications.id: sent as `Idempotency-Key` on every HTTP request, the same on each retry. */
  notificationId: string;
  configuration: Config;
  trigger: Trigger;
  /** The rendered one-line message. */
  subject: string;
  /** The rendered body (already checked to be JSON when the type's bodyFormat is "json"). */
  body: string | null;
  /** The job as it was when the row was created. */
  job: JobSnapshot;
  /** Targets (channels, numbers…) earlier attempts already delivered to: skip them. */
  deliveredTargets: readonly string[];
  /** Aborted when the attempt times out or the service must stop at once. */
  signal: AbortSignal;
}

/** What a successful attempt reports; recorded on the row. */
export interface DeliveryOutcome {
  /** Who it went to, for the record (addresses, channels, numbers, the URL's host…). */
  recipients: string;
  /** How many messages went out in total for this row (AWX's notifications_sent). */
  notificationsSent: number;
  /** Every target delivered so far, including `Delivery.deliveredTargets`. */
  deliveredTargets: string[];
}

/**
 * A failed attempt. `deliveredTargets` records the targets that did get it (so a retry skips
 * them); `permanent` fails the row at once instead of retrying. The message must never contain a
 * secret (passwords, tokens, keys).
 */
export class DeliveryError extends Error {
  override name = "DeliveryError";
  readonly permanent: boolean;
  readonly deliveredTargets: readonly string[];
  /** The receiver's HTTP status, when it answered with an error status. */
  readonly httpStatus: number | null;
  /** Seconds the receiver asked to wait (Retry-After), when it said. */
  readonly retryAfterSeconds: number | null;
  constructor(message: string, options: {
    permanent?: boolean; deliveredTargets?: readonly string[]; cause?: unknown; httpStatus?: number; retryAfterSeconds?: number | null;
  } = {}) {
    super(message, { cause: options.cause });
    this.permanent = options.permanent ?? false;
    this.deliveredTargets = options.deliveredTargets ?? [];
    this.httpStatus = options.httpStatus ?? null;
    this.retryAfterSeconds = options.retryAfterSeconds ?? null;
  }
}

/**
 * One notification type, declared as data plus one send function (like AWX's
 * awx/main/notifications/*). `keys` is the one declaration of its configuration keys: the
 * schema, the secrets and the rows of notifier.notification_type_keys derive from it.
 */
export interface NotificationType<Config = any> {
  readonly name: NotificationTypeName;
  /** The configuration keys (AWX's init_parameters). */
  readonly keys: KeyDeclarations;
  /** Validates notification_configuration; unknown keys are rejected (derived from `keys`). */
  readonly configurationSchema: z.ZodType<Config>;
  /** Configuration keys whose values are secrets: masked wherever a template is shown (derived from `keys`). */
  readonly secretKeys: readonly string[];
  readonly defaultMessages: DefaultMessages;
  /** "json": the rendered body must be valid JSON, or the row fails without sending. */
  readonly bodyFormat: "text" | "json";
  send(delivery: Delivery<Config>): Promise<DeliveryOutcome>;
}
