import { DEFAULT_SEND_TIMEOUT_SECONDS } from "../config.js";
import type { JobSnapshot, Trigger } from "../job.js";
import { messageFormat, RenderError } from "../render/render.js";
import { renderOffLoop } from "../render/renderOffLoop.js";
import { redact } from "../types/http.js";
import { urlSecrets } from "../redact.js";
import { notificationTypes } from "../types/index.js";
import { DeliveryError, NOTIFICATION_TYPE_NAMES, type DeliveryOutcome, type NotificationTypeName } from "../types/type.js";

/** What one attempt needs: a notification row (or a test message) and its template. */
export interface AttemptInput {
  /** Sent as Idempotency-Key. */
  notificationId: string;
  templateName: string;
  notificationType: string;
  configuration: Record<string, unknown>;
  messages: unknown;
  trigger: Trigger;
  job: JobSnapshot;
  urlBase: string;
  /** What an earlier attempt rendered (a retry sends exactly that), or null to render now. */
  rendered: Rendered | null;
  deliveredTargets: readonly string[];
  /**
   * Aborted from outside to stop the attempt (the service stopping). The attempt's timeout aborts
   * this same controller: one signal per attempt, no AbortSignal.any (measurable per-row CPU).
   */
  controller?: AbortController;
}

export interface Rendered {
  subject: string;
  body: string | null;
}

export type AttemptResult =
  | { ok: true; rendered: Rendered; outcome: DeliveryOutcome }
  | {
      ok: false;
      rendered: Rendered | null;
      /** One line, secrets blotted out. */
      error: string;
      /** Retrying cannot help: a bad template or configuration, or the type said so. */
      permanent: boolean;
      /** Every target delivered so far, earlier attempts included. */
      deliveredTargets: string[];
      /** The receiver's error status and Retry-After (seconds), when it answered. */
      httpStatus: number | null;
      retryAfterSeconds: number | null;
    };

class AttemptTimeout extends Error {}

/**
 * One attempt to deliver one notification, as the delivery service and `templates test` both make
 * it: check the configuration with the type's schema, render (once), send with the template's
 * timeout (default DEFAULT_SEND_TIMEOUT_SECONDS), and report the outcome without any secret in it.
 */
export async function attemptDelivery(input: AttemptInput): Promise<AttemptResult> {
  const type = isTypeName(input.notificationType) ? notificationTypes[input.notificationType] : undefined;
  const secrets = type ? secretValues(type.secretKeys, input.configuration) : [];
  const controller = input.controller ?? new AbortController();
  let rendered = input.rendered;
  let timer: NodeJS.Timeout | undefined;
  try {
    if (!type) {
      throw new DeliveryError(`template "${input.templateName}": notification type "${input.notificationType}" is not supported`, { permanent: true });
    }
    const configuration = checkedConfiguration(type, input.configuration);
    if (!configuration.success) {
      const issue = configuration.error.issues[0];
      const key = issue?.path.join(".") || "(configuration)";
      throw new DeliveryError(`template "${input.templateName}": notification_configuration.${key}: ${issue?.message ?? "invalid"}`, { permanent: true });
    }
    rendered ??= await renderOffLoop({
      template: { name: input.templateName, messages: input.messages },
      format: messageFormat(type),
      trigger: input.trigger,
      job: input.job,
      urlBase: input.urlBase,
    });
    const timeoutSeconds = timeoutOf(configuration.data);
    timer = setTimeout(() => controller.abort(new AttemptTimeout(`timed out after ${timeoutSeconds} s`)), timeoutSeconds * 1000);
    const outcome = await type.send({
      notificationId: input.notificationId,
      configuration: configuration.data,
      trigger: input.trigger,
      subject: rendered.subject,
      body: rendered.body,
      job: input.job,
      deliveredTargets: input.deliveredTargets,
      signal: controller.signal,
    });
    return { ok: true, rendered, outcome };
  } catch (thrown) {
    const answered = receiverAnswer(thrown);
    return {
      httpStatus: answered?.httpStatus ?? null,
      retryAfterSeconds: answered?.retryAfterSeconds ?? null,
      ok: false,
      rendered,
      error: redact(describe(thrown, controller.signal.reason), secrets),
      permanent: thrown instanceof RenderError || (thrown instanceof DeliveryError && thrown.permanent),
      deliveredTargets: [...new Set([...input.deliveredTargets, ...(thrown instanceof DeliveryError ? thrown.deliveredTargets : [])])],
    };
  } finally {
    clearTimeout(timer);
  }
}

type AnyType = (typeof notificationTypes)[NotificationTypeName];
type CheckedConfiguration = ReturnType<AnyType["configurationSchema"]["safeParse"]>;

/**
 * The type's check of a configuration, once per configuration object: the deliverer hands every
 * row of a template version the same object, so a backlog of one template is checked once, not
 * per row. Keyed by the object only while it lives.
 */
const checkedConfigurations = new WeakMap<object, { type: AnyType; checked: CheckedConfiguration }>();

function checkedConfiguration(type: AnyType, configuration: Record<string, unknown>): CheckedConfiguration {
  const known = checkedConfigurations.get(configuration);
  if (known?.type === type) return known.checked;
  const checked = type.configurationSchema.safeParse(configuration);
  checkedConfigurations.set(configuration, { type, checked });
  return checked;
}

/** The DeliveryError carrying the receiver's status: the one thrown, or one it wraps (per-target sends). */
function receiverAnswer(thrown: unknown): DeliveryError | null {
  for (let error = thrown; error instanceof Error; error = error.cause) {
    if (error instanceof DeliveryError && error.httpStatus !== null) return error;
  }
  return null;
}

function isTypeName(name: string): name is NotificationTypeName {
  return (NOTIFICATION_TYPE_NAMES as readonly string[]).includes(name);
}

function timeoutOf(configuration: unknown): number {
  const timeout = (configuration as { timeout?: unknown }).timeout;
  return typeof timeout === "number" && timeout > 0 ? timeout : DEFAULT_SEND_TIMEOUT_SECONDS;
}

/**
 * The values of a configuration's secret keys, blotted out of any error as a last line of
 * defence; a secret URL (a hook URL) also by its parts, which a receiver may echo on their own.
 */
function secretValues(secretKeys: readonly string[], configuration: Record<string, unknown>): string[] {
  return secretKeys
    .map((key) => configuration[key])
    .filter((value): value is string => typeof value === "string" && value.length > 0)
    .flatMap((value) => [value, ...urlSecrets(value)]);
}

function describe(thrown: unknown, timeoutReason: unknown): string {
  if (timeoutReason instanceof AttemptTimeout && !(thrown instanceof DeliveryError)) return timeoutReason.message;
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return message.replace(/\s*[\r\n]+\s*/g, " ").trim() || "unknown error";
}
