import { DeliveryError, type Delivery, type DeliveryOutcome } from "./type.js";

/** The configured targets still to deliver to: not yet delivered, each once, in order. */
export function pendingTargets(targets: readonly string[], delivered: readonly string[]): string[] {
  const done = new Set(delivered);
  return [...new Set(targets)].filter((target) => !done.has(target));
}

/**
 * Sends to every configured target an earlier attempt did not reach, one after another, and
 * reports all delivered targets. When some fail, throws a DeliveryError listing them whose
 * `deliveredTargets` holds every target that did get the message, so a retry skips those; it is
 * permanent only when every failure was. Stops early when the attempt's signal aborts.
 */
export async function deliverToEachTarget(options: {
  /** The type's name, starting the error message. */
  type: string;
  targets: readonly string[];
  delivery: Pick<Delivery<unknown>, "deliveredTargets" | "signal">;
  send: (target: string) => Promise<void>;
}): Promise<DeliveryOutcome> {
  const { targets, delivery } = options;
  const delivered = [...delivery.deliveredTargets];
  const pending = pendingTargets(targets, delivered);
  const failures: { target: string; error: unknown }[] = [];
  for (const target of pending) {
    if (delivery.signal.aborted) {
      failures.push({ target, error: new DeliveryError("not attempted: the attempt timed out") });
      continue;
    }
    try {
      await options.send(target);
      delivered.push(target);
    } catch (error) {
      failures.push({ target, error });
    }
  }
  const reached = targets.filter((target) => delivered.includes(target));
  if (failures.length > 0) {
    // One line: a target with control characters is shown quoted and escaped.
    const shown = (target: string) => (/[\x00-\x1f]/.test(target) ? JSON.stringify(target) : target);
    const details = failures.map(({ target, error }) => `${shown(target)}: ${(error as Error).message}`).join("; ");
    throw new DeliveryError(`${options.type}: ${failures.length} of ${pending.length} targets failed: ${details}`, {
      deliveredTargets: delivered,
      permanent: failures.every(({ error }) => error instanceof DeliveryError && error.permanent),
      cause: failures[0]?.error,
    });
  }
  return { recipients: targets.join(", "), notificationsSent: new Set(reached).size, deliveredTargets: delivered };
}
