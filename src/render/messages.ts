import { z } from "zod";
import type { JobSnapshot, Trigger } from "../job.js";

/**
 * A template's custom messages, AWX's shape, and which of them a notification row uses.
 * The schema is the one rule set notifier.validate_notification_messages applies in SQL
 * (test/typeKeys.test.ts checks both accept and reject the same documents).
 */

/** One custom message: the one-line `message` and the `body`, each optional (null: the default). */
const messageSchema = z.object({ message: z.string().nullish(), body: z.string().nullish() }).strict().nullish();

/** AWX's approval states, keys of `messages.workflow_approval`. */
export const APPROVAL_STATES = ["running", "approved", "denied", "timed_out"] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

export const messagesSchema = z.object({
  started: messageSchema,
  success: messageSchema,
  error: messageSchema,
  /** Overrides `error` for canceled jobs (part by part). */
  canceled: messageSchema,
  workflow_approval: z.object(Object.fromEntries(APPROVAL_STATES.map((state) => [state, messageSchema]))).strict().nullish(),
}).strict().nullish();

export type CustomMessages = z.infer<typeof messagesSchema>;
export interface CustomMessage {
  message?: string | null;
  body?: string | null;
}

/**
 * The first problem of a messages document as SQL words it (`messages.error.subject: unknown
 * key (expected message or body)`), or null when it is valid.
 */
export function messagesProblem(messages: unknown): string | null {
  const parsed = messagesSchema.safeParse(messages);
  if (parsed.success) return null;
  const issue = parsed.error.issues[0]!;
  const path = ["messages", ...issue.path.map(String)];
  if (issue.code === "unrecognized_keys") {
    const where = [...path, issue.keys[0]!].join(".");
    const expected =
      path.length === 1 ? "started, success, error, canceled or workflow_approval"
      : path.length === 2 && path[1] === "workflow_approval" ? "running, approved, denied or timed_out"
      : "message or body";
    return `${where}: unknown key (expected ${expected})`;
  }
  const where = path.join(".");
  if (path.length === 1) return `${where}: must be a JSON object`;
  if (path.length === 2 && path[1] === "workflow_approval") {
    return `${where}: must be an object with running, approved, denied and/or timed_out`;
  }
  const last = path[path.length - 1];
  if (last === "message" || last === "body") return `${where}: must be a string`;
  return `${where}: must be an object with "message" and/or "body"`;
}

/** Which message of a template a row uses: a path into `messages`, then the fallbacks, in order. */
export interface MessageChoice {
  /** Paths into `messages` tried part by part, e.g. [["canceled"], ["error"]]. */
  paths: string[][];
  /** Set for workflow approvals: the state whose AWX default applies. */
  approvalState: ApprovalState | null;
}

/**
 * The message of a row (TEAM's approvals interface): a workflow approval's `started` row is
 * `workflow_approval.running`, its `approval` row `approved` (successful), `timed_out` (the
 * snapshot's timed_out) or `denied`; a canceled job's `error` row is `canceled`, else `error`.
 */
export function chooseMessage(trigger: Trigger, job: Pick<JobSnapshot, "kind" | "status" | "timed_out">): MessageChoice {
  if (job.kind === "workflow_approval" && (trigger === "started" || trigger === "approval")) {
    const state: ApprovalState = trigger === "started" ? "running"
      : job.status === "successful" ? "approved"
      : job.timed_out === true ? "timed_out"
      : "denied";
    return { paths: [["workflow_approval", state]], approvalState: state };
  }
  if (trigger === "error" && job.status === "canceled") return { paths: [["canceled"], ["error"]], approvalState: null };
  return { paths: [[trigger]], approvalState: null };
}

/**
 * The custom parts for a choice, part by part (a path's empty part falls through to the next
 * path). Throws (naming the key) when `messages` is malformed.
 */
export function customMessageFor(messages: unknown, choice: MessageChoice): { custom: CustomMessage; where: Record<"message" | "body", string | null> } {
  const problem = messagesProblem(messages);
  if (problem) throw new Error(problem);
  const custom: CustomMessage = {};
  const where: Record<"message" | "body", string | null> = { message: null, body: null };
  for (const path of choice.paths) {
    let node: unknown = messages;
    for (const key of path) node = node == null ? undefined : (node as Record<string, unknown>)[key];
    if (node == null) continue;
    for (const part of ["message", "body"] as const) {
      const value = (node as CustomMessage)[part];
      if (!custom[part] && value) {
        custom[part] = value;
        where[part] = `messages.${path.join(".")}.${part}`;
      }
    }
  }
  return { custom, where };
}
