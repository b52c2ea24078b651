import type { ReceivedRequest, Responder } from "./httpReceiver.js";

/**
 * A Microsoft Teams incoming webhook at `path` as a responder for HttpReceiver: checks a request
 * as Teams does (a JSON POST of a message whose attachment is an Adaptive Card with a body, or a
 * legacy MessageCard with a text) and answers as Teams does: HTTP 200 with "1" when it posted
 * (or 202 with no body for a Workflows URL), HTTP 400 with the problem for a bad payload.
 */
export function fakeTeams(options: { path: string; workflows?: boolean }): Responder {
  return (request: ReceivedRequest) => {
    if (request.url !== options.path || request.method !== "POST") return { status: 404, body: "Not found" };
    if (!String(request.headers["content-type"] ?? "").startsWith("application/json")) {
      return { status: 415, body: "Unsupported Media Type" };
    }
    const problem = payloadProblem(request.body);
    if (problem) return { status: 400, body: problem };
    return options.workflows ? { status: 202, body: "" } : { status: 200, body: "1", headers: { "content-type": "text/plain" } };
  };
}

function payloadProblem(text: string): string | null {
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return "Bad payload received by generic incoming webhook.";
  }
  if (message["@type"] === "MessageCard") return typeof message.text === "string" && message.text ? null : "Summary or Text is required.";
  if (message.type !== "message" || !Array.isArray(message.attachments) || message.attachments.length === 0) {
    return "Bad payload received by generic incoming webhook.";
  }
  for (const attachment of message.attachments as Record<string, any>[]) {
    if (attachment.contentType !== "application/vnd.microsoft.card.adaptive") return "Unsupported attachment content type.";
    const card = attachment.content;
    if (card?.type !== "AdaptiveCard" || !Array.isArray(card.body) || card.body.length === 0) return "Summary or Text is required.";
    if (!card.body.some((element: any) => element.type === "TextBlock" && typeof element.text === "string" && element.text !== "")) {
      return "Summary or Text is required.";
    }
  }
  return null;
}
