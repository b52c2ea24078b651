import { createHash, createHmac } from "node:crypto";
import type { ReceivedRequest, Responder } from "./httpReceiver.js";

/**
 * AWS SNS's Query API as a responder for HttpReceiver: checks a request the way SNS does — a
 * form-encoded POST whose SigV4 Authorization header is for this region and service `sns`, made
 * with a known access key and whose signature verifies (canonical request, string to sign and
 * signing key computed here from the secret), with Action=Publish, TopicArn and Message — and
 * answers like SNS: XML, a MessageId, or an ErrorResponse with SNS's code and HTTP status.
 */
export interface FakeSnsOptions {
  region: string;
  /** Access key id → secret access key. */
  credentials: Record<string, string>;
  /** Topics that exist; others answer NotFound. */
  topics: string[];
  /** When set, answers this error instead of publishing. */
  fail?: { status: number; code: string; message?: string } | null;
}

const NS = "http://sns.amazonaws.com/doc/2010-03-31/";

function errorResponse(status: number, code: string, message: string) {
  const type = status >= 500 ? "Receiver" : "Sender";
  return {
    status,
    headers: { "content-type": "text/xml" },
    body: `<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error>` +
      `<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`,
  };
}

const sha256 = (data: string) => createHash("sha256").update(data, "utf8").digest("hex");
const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

/** Verifies a SigV4 signature as AWS does; returns the problem, or null when it verifies. */
export function sigV4Problem(request: ReceivedRequest, options: { region: string; service: string; credentials: Record<string, string> }): string | null {
  const header = String(request.headers.authorization ?? "");
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(header);
  if (!match) return "missing or malformed SigV4 Authorization header";
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match as unknown as string[];
  if (region !== options.region) return `credential scope is for region ${region}, expected ${options.region}`;
  if (service !== options.service) return `credential scope is for service ${service}, expected ${options.service}`;
  const secret = options.credentials[accessKeyId!];
  if (secret === undefined) return `InvalidClientTokenId: unknown access key ${accessKeyId}`;
  const amzDate = String(request.headers["x-amz-date"] ?? "");
  if (!amzDate.startsWith(date!)) return "x-amz-date does not match the credential scope";
  const names = signedHeaders!.split(";");
  if (!names.includes("host") || !names.includes("x-amz-date")) return "host and x-amz-date must be signed";
  const [path = "/", query = ""] = request.url.split("?", 2);
  const canonicalQuery = [...new URLSearchParams(query)].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).sort().join("&");
  const canonicalHeaders = names.map((name) => `${name}:${String(request.headers[name] ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
  const canonicalRequest = [request.method, path, canonicalQuery, canonicalHeaders, signedHeaders, sha256(request.body)].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonicalRequest)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date!), region!), service!), "aws4_request");
  const expected = createHmac("sha256", key).update(stringToSign, "utf8").digest("hex");
  return expected === signature ? null : "SignatureDoesNotMatch";
}

export function fakeSns(options: FakeSnsOptions): Responder {
  let published = 0;
  return (request) => {
    if (request.method !== "POST") return errorResponse(400, "InvalidAction", "POST expected");
    if (!String(request.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
      return errorResponse(400, "MissingParameter", "form-encoded body expected");
    }
    const problem = sigV4Problem(request, { region: options.region, service: "sns", credentials: options.credentials });
    if (problem?.startsWith("InvalidClientTokenId")) return errorResponse(403, "InvalidClientTokenId", "The security token included in the request is invalid.");
    if (problem === "SignatureDoesNotMatch") return errorResponse(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.");
    if (problem) return errorResponse(403, "IncompleteSignature", problem);
    const form = new URLSearchParams(request.body);
    if (form.get("Action") !== "Publish") return errorResponse(400, "InvalidAction", `Could not find operation ${form.get("Action")}`);
    if (form.get("Version") !== "2010-03-31") return errorResponse(400, "InvalidParameter", "Invalid API version");
    const topic = form.get("TopicArn");
    const message = form.get("Message");
    if (!topic) return errorResponse(400, "InvalidParameter", "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter");
    if (!message) return errorResponse(400, "InvalidParameter", "Invalid parameter: Empty message");
    const subject = form.get("Subject");
    if (subject !== null && (subject.length > 100 || /[^\x20-\x7e]/.test(subject))) return errorResponse(400, "InvalidParameter", "Invalid parameter: Subject");
    if (options.fail) return errorResponse(options.fail.status, options.fail.code, options.fail.message ?? options.fail.code);
    if (!options.topics.includes(topic)) return errorResponse(404, "NotFound", "Topic does not exist");
    published++;
    return {
      status: 200,
      headers: { "content-type": "text/xml" },
      body: `<PublishResponse xmlns="${NS}"><PublishResult><MessageId>00000000-0000-0000-0000-${String(published).padStart(12, "0")}</MessageId>` +
        `</PublishResult><ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000001</RequestId></ResponseMetadata></PublishResponse>`,
    };
  };
}
