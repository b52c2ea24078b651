import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { closeHttpPools } from "../../src/types/http.js";
import { notificationTypes } from "../../src/types/index.js";
import type { DeliveryOutcome, NotificationTypeName } from "../../src/types/type.js";
import { makeDelivery } from "./delivery.js";

export interface ChildSend {
  type: NotificationTypeName;
  configuration: unknown;
  subject: string;
  body: string | null;
}

/**
 * Runs one send of a notification type in a Node process of its own, so a test can give it an
 * environment that only counts when Node starts (NODE_EXTRA_CA_CERTS: trusting a test CA the way
 * an operator trusts an internal one). Resolves with the outcome or the error message.
 */
export function sendInChild(send: ChildSend, env: Record<string, string>): Promise<{ outcome?: DeliveryOutcome; error?: string }> {
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", "tsx", script, JSON.stringify(send)],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`child send failed: ${error.message}\n${stderr}`));
        resolve(JSON.parse(stdout));
      },
    );
  });
}

// Run as a script: send once and print {outcome} or {error} as JSON.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const send = JSON.parse(process.argv[2]!) as ChildSend;
  const type = notificationTypes[send.type]!;
  const delivery = makeDelivery(type.configurationSchema.parse(send.configuration), { subject: send.subject, body: send.body });
  const result = await type.send(delivery).then(
    (outcome) => ({ outcome }),
    (error: Error) => ({ error: error.message }),
  );
  process.stdout.write(JSON.stringify(result));
  await closeHttpPools();
}
