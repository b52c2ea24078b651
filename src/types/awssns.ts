import type { SNSClient, SNSClientConfig } from "@aws-sdk/client-sns";
import { DEFAULT_JSON_BODY, DEFAULT_MESSAGE } from "../render/defaults.js";
import { abortReason, displayUrl, redact } from "./http.js";
import { declareKeys, fromKeys, TIMEOUT_KEY, type ConfigurationOf } from "./keys.js";
import { DeliveryError, type NotificationType } from "./type.js";

/** AWX's awssns keys (empty means: the SDK's default, as boto3 in AWX), plus an endpoint override. */
const keys = declareKeys({
  /** By default the SDK's (AWS_REGION, the shared config), else the region of sns_topic_arn. */
  aws_region: { type: "string" },
  /** With aws_secret_access_key: static credentials; both empty: the SDK's default chain (instance role…). */
  aws_access_key_id: { type: "string" },
  aws_secret_access_key: { type: "string", secret: true },
  aws_session_token: { type: "string", secret: true },
  sns_topic_arn: { type: "string", required: true },
  /** The SNS endpoint (a VPC endpoint, a local counterpart); by default the region's. */
  api_url: { type: "string" },
  timeout: TIMEOUT_KEY,
});

export type AwssnsConfiguration = ConfigurationOf<typeof keys>;

/** SNS error codes the same request meets again on every retry. */
const PERMANENT_ERRORS = new Set([
  "InvalidParameter", "InvalidParameterValue", "AuthorizationError", "NotFound", "InvalidSecurity",
  "InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied", "AccessDeniedException", "MissingParameter",
  "ValidationError", "InvalidAction", "OptInRequired", "EndpointDisabled", "KMSDisabled", "KMSAccessDenied",
  "KMSNotFound", "KMSInvalidState", "KMSOptInRequired", "ExpiredToken", "UnrecognizedClientException",
]);

/** The region an ARN names (arn:aws:sns:<region>:<account>:<topic>), if any. */
function regionOfArn(arn: string): string | undefined {
  return arn.split(":")[3] || undefined;
}

/**
 * AWS SNS (AWX's awssns type): publishes the body (by default the job metadata JSON, as AWX) to
 * the topic, with the message line as the Subject (SNS caps it at 100 characters, one line).
 *
 * The SDK's own retries are off (maxAttempts 1): the service owns retries, timeouts and the abort
 * signal, which the request is given. Every request carries the Idempotency-Key header (signed,
 * as every header is).
 */
export const awssns: NotificationType<AwssnsConfiguration> = {
  name: "awssns",
  ...fromKeys(keys),
  defaultMessages: { message: DEFAULT_MESSAGE, body: DEFAULT_JSON_BODY },
  bodyFormat: "text",
  async send(delivery) {
    const config = delivery.configuration;
    const region = config.aws_region || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || regionOfArn(config.sns_topic_arn);
    const options: SNSClientConfig = {
      maxAttempts: 1,
      ...(region ? { region } : {}),
      ...(config.api_url ? { endpoint: config.api_url } : {}),
      ...(config.aws_access_key_id || config.aws_secret_access_key
        ? {
            credentials: {
              accessKeyId: config.aws_access_key_id ?? "",
              secretAccessKey: config.aws_secret_access_key ?? "",
              ...(config.aws_session_token ? { sessionToken: config.aws_session_token } : {}),
            },
          }
        : {}),
    };
    const where = `SNS ${config.sns_topic_arn}`;
    const secrets = [config.aws_secret_access_key ?? "", config.aws_session_token ?? ""];
    // Loaded on first use: the SDK takes ~0.5 s to import, which no other command should pay.
    const { PublishCommand, SNSClient, SNSServiceException } = await import("@aws-sdk/client-sns");
    const client = clientFor(options, SNSClient);
    const command = new PublishCommand({
      TopicArn: config.sns_topic_arn,
      Message: delivery.body || delivery.subject,
      Subject: snsSubject(delivery.subject),
    });
    command.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers) request.headers["idempotency-key"] = delivery.notificationId;
        return next(args);
      },
      { step: "build", name: "idempotencyKey" },
    );
    try {
      await client.send(command, { abortSignal: delivery.signal });
      return { recipients: config.sns_topic_arn, notificationsSent: 1, deliveredTargets: [] };
    } catch (error) {
      if (delivery.signal.aborted) throw new DeliveryError(`${where}: ${abortReason(delivery.signal)}`);
      const endpoint = config.api_url ? ` (${displayUrl(config.api_url)})` : "";
      if (error instanceof SNSServiceException) {
        const status = error.$metadata.httpStatusCode;
        // SNS's own code (InvalidParameter), else the SDK's name for it (InvalidParameterException).
        const code = (error as { Code?: unknown }).Code;
        const name = typeof code === "string" && code ? code : error.name.replace(/Exception$/, "");
        const permanent = PERMANENT_ERRORS.has(name) || (status !== undefined && status >= 400 && status < 500 && status !== 429 && !isThrottling(name));
        throw new DeliveryError(redact(`${where}${endpoint}: ${name}${status ? ` (HTTP ${status})` : ""}: ${oneLine(error.message)}`, secrets), {
          permanent,
          cause: error,
        });
      }
      // No answer from SNS (network, credentials not found yet, a region missing…): try again later,
      // except a configuration the SDK refuses outright.
      const message = oneLine((error as Error).message ?? String(error));
      const permanent = /region is missing|invalid url|endpoint/i.test(message) && !/ECONN|ETIMEDOUT|EAI_AGAIN/.test(message);
      throw new DeliveryError(redact(`${where}${endpoint}: ${message}`, secrets), { permanent, cause: error });
    }
  },
};

/** Clients kept for reuse (and their keep-alive connections), by configuration. */
const MAX_CLIENTS = 32;
const clients = new Map<string, SNSClient>();

/** A client for these options, reused across rows so its keep-alive (TLS) connection to SNS is too. */
function clientFor(options: SNSClientConfig, Client: typeof SNSClient): SNSClient {
  const key = JSON.stringify(options);
  let client = clients.get(key);
  if (!client) {
    if (clients.size >= MAX_CLIENTS) {
      const [oldestKey, oldest] = clients.entries().next().value as [string, SNSClient];
      clients.delete(oldestKey);
      oldest.destroy();
    }
    client = new Client(options);
    clients.set(key, client);
  }
  return client;
}

function isThrottling(code: string): boolean {
  return /Throttl|TooManyRequests|RequestLimitExceeded/.test(code);
}

/** SNS's Subject: at most 100 characters, printable ASCII, no line breaks (email subscriptions show it). */
export function snsSubject(message: string): string {
  const ascii = message.replace(/[^\x20-\x7e]/g, "?").trim();
  return ascii.slice(0, 100) || "notification";
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
