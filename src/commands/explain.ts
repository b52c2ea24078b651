import type { Command } from "commander";
import { databaseUrlOption } from "../databaseUrl.js";
import { OperationError } from "../errors.js";
import { FRIENDLY_NAMES, type JobKind } from "../job.js";
import { describeJob, type JobDescription } from "../sql/describeJob.js";
import { listNotifications, type NotificationRecord } from "../sql/listNotifications.js";
import { listTemplatesWithTriggers } from "../sql/listTemplatesWithTriggers.js";
import { maskSecrets } from "../types/index.js";
import { formatTable, formatTime, isoTime, oneLine, parsePositiveInteger, printJson, withDatabase } from "./common.js";
import { writeOut } from "../terminal.js";

/** More rows than one job can have (one per template and trigger) in any sane installation. */
const MAX_ROWS_PER_JOB = 10_000;

export function registerExplainCommand(program: Command): void {
  const command = program
    .command("explain")
    .description("say which conditions of a job have committed, which notifications exist, and why anything still waits")
    .argument("<job-id>", "the job's id (notifier.jobs.id, or the id in an attached table such as AWX's main_unifiedjob)")
    .option("--json", "print one JSON object instead of text")
    .addOption(databaseUrlOption())
    .addHelpText(
      "after",
      `
Times are UTC. The reasons are the database's (notifier.job_notification_state); the grace is
notifier.settings.wrapup_grace, counted from the moment the final status was written.

Examples:
  pg-job-notifier explain 42
  pg-job-notifier explain 42 --json | jq .waitingFor`,
    );
  command.action(async (jobIdText: string, options: { json?: boolean; databaseUrl?: string }) => {
    const jobId = parsePositiveInteger(jobIdText, "JOB_ID");
    const explanation = await withDatabase(options.databaseUrl, async (db) => {
      const job = await describeJob(db, jobId);
      if (!job) throw new OperationError(`job ${jobId} not found in notifier.jobs or any attached table`);
      const notifications = await listNotifications(db, { jobId, limit: MAX_ROWS_PER_JOB });
      const templates = await listTemplatesWithTriggers(db, [...new Set(notifications.map((row) => row.templateId))]);
      return explain(job, [...notifications].reverse(), templates);
    });
    if (options.json) printJson(explanation);
    else writeOut(`${formatExplanation(explanation)}\n`);
  });
}

type Explanation = ReturnType<typeof explain>;

/** Everything explain reports, as plain data (printed as text or as JSON). */
function explain(
  job: JobDescription,
  notifications: readonly NotificationRecord[],
  templates: readonly { id: string; name: string; notificationType: string; configuration: Record<string, unknown> }[],
) {
  return {
    job: {
      attachment: job.attachment,
      id: job.id,
      kind: job.kind,
      name: job.name,
      status: job.status,
      wrapupDispatched: job.wrapupDispatched,
      wrapupEvent: job.wrapupEvent,
      wrapupRequired: job.wrapupRequired,
      wrapupProcessed: job.wrapupProcessedAt !== null,
      wrapupProcessedAt: isoTime(job.wrapupProcessedAt),
      wrapupExpiredAt: isoTime(job.wrapupExpiredAt),
      hostStatusCounts: job.hostStatusCounts,
      createdAt: isoTime(job.createdAt),
      startedAt: isoTime(job.startedAt),
      finishedAt: isoTime(job.finishedAt),
    },
    conditions: {
      startedCommittedAt: isoTime(job.startedConditionAt),
      finalCommittedAt: isoTime(job.finalConditionAt),
      finalTrigger: job.finalTrigger,
    },
    wrapupGraceSeconds: job.wrapupGraceSeconds,
    graceFiresAt: isoTime(job.graceFiresAt),
    /** Plain sentences; empty when nothing is owed. */
    waitingFor: waitingFor(job, notifications),
    notifications: notifications.map((row) => ({
      id: row.id,
      trigger: row.trigger,
      template: row.templateName,
      type: row.notificationType,
      status: row.status,
      attempts: row.attempts,
      nextAttemptAt: row.status === "pending" ? isoTime(row.runAt) : null,
      lease: row.lockedUntil !== null && row.lockedUntil > job.now ? { by: row.lockedBy, until: isoTime(row.lockedUntil) } : null,
      lastError: row.error,
      recipients: row.recipients,
      createdAt: isoTime(row.createdAt),
      sentAt: isoTime(row.sentAt),
    })),
    templates: templates.map((template) => ({
      id: Number(template.id),
      name: template.name,
      type: template.notificationType,
      configuration: maskSecrets(template.notificationType, template.configuration),
    })),
  };
}

/** The reasons, worded from what the database answers (notifier.job_notification_state.waiting_for, grace_fires_at). */
function waitingFor(job: JobDescription, notifications: readonly NotificationRecord[]): string[] {
  const reasons: string[] = [];
  const waitsForFinalStatus = job.waitingFor === "final status";
  if (job.startedConditionAt === null && waitsForFinalStatus) {
    reasons.push(`started notification waits for the status running (the job is ${job.status})`);
  }
  if (waitsForFinalStatus) {
    reasons.push(`final notification waits for a final status (the job is ${job.status})`);
  } else if (job.waitingFor !== null) {
    const grace = `notifier.settings.wrapup_grace ${job.wrapupGraceSeconds} s after the final status`;
    const fires = job.graceFiresAt;
    reasons.push(
      fires === null
        ? `final notification waits for the ${job.waitingFor}`
        : fires > job.now
          ? `final notification waits for the ${job.waitingFor}; the grace fires it at ${formatTime(fires)} (${grace})`
          : `final notification waits for the ${job.waitingFor}; the grace was due at ${formatTime(fires)} (${grace}) and fires at the next sweep of a running delivery service`,
    );
  }

  const pending = notifications.filter((row) => row.status === "pending");
  if (pending.length > 0) {
    const plural = pending.length === 1 ? "notification" : "notifications";
    reasons.push(`${pending.length} ${plural} pending: ${pending.map((row) => pendingState(row, pending, job.now)).join("; ")}`);
  }
  const failed = notifications.filter((row) => row.status === "failed");
  if (failed.length > 0) {
    const plural = failed.length === 1 ? "notification" : "notifications";
    reasons.push(
      `${failed.length} ${plural} failed (${failed.map((row) => `#${row.id} ${row.trigger} to ${row.templateName}`).join(", ")}): ` +
        `send again with \`pg-job-notifier notifications retry ${failed.map((row) => row.id).join(" ")}\``,
    );
  }
  return reasons;
}

/** What one pending row waits for, e.g. "#7 error to ops-hook: retry at … (after 2 attempts)". */
function pendingState(row: NotificationRecord, pending: readonly NotificationRecord[], now: number): string {
  const which = `#${row.id} ${row.trigger} to ${row.templateName}`;
  const tried = row.attempts > 0 ? ` (after ${row.attempts} ${row.attempts === 1 ? "attempt" : "attempts"})` : "";
  // The service sends a (job, template)'s started row before attempting its final one.
  const startedFirst = pending.find((other) => other.trigger === "started" && other.templateId === row.templateId && other !== row);
  if (startedFirst) return `${which}: waits for #${startedFirst.id} started to be sent first`;
  if (row.lockedUntil !== null && row.lockedUntil > now) {
    return `${which}: being sent by ${row.lockedBy ?? "a delivery service"} (lease until ${formatTime(row.lockedUntil)})${tried}`;
  }
  if (row.runAt > now) return `${which}: retry at ${formatTime(row.runAt)}${tried}`;
  return `${which}: due now, waiting for a delivery service to claim it${tried}`;
}

function formatExplanation(explanation: Explanation): string {
  const { job, conditions } = explanation;
  const friendly = FRIENDLY_NAMES[job.kind as JobKind] ?? job.kind;
  const at = (iso: string | null) => formatTime(iso === null ? null : Date.parse(iso));
  const wrapup =
    job.wrapupEvent === null
      ? "none (this kind has no wrapup event)"
      : job.wrapupProcessed
        ? `${job.wrapupEvent} processed at ${at(job.wrapupProcessedAt)}`
        : job.wrapupExpiredAt
          ? `${job.wrapupEvent} not processed; waived by the grace at ${at(job.wrapupExpiredAt)}`
          : job.wrapupRequired === false
            ? `${job.wrapupEvent} not processed; not needed (not dispatched when the status became final)`
            : `${job.wrapupEvent} not processed yet`;
  const lines = [
    `${friendly} #${job.id} "${job.name}": ${job.status}`,
    `  attached table      ${job.attachment}`,
    `  wrapup dispatched   ${job.wrapupDispatched ? "yes" : "no"}`,
    `  wrapup event        ${wrapup}`,
    `  host status counts  ${job.hostStatusCounts === null ? "-" : JSON.stringify(job.hostStatusCounts)}`,
    `  started / finished  ${at(job.startedAt)} / ${at(job.finishedAt)}`,
    `  started condition   ${conditions.startedCommittedAt ? `committed at ${at(conditions.startedCommittedAt)}` : "not committed"}`,
    `  final condition     ${conditions.finalCommittedAt ? `committed at ${at(conditions.finalCommittedAt)} (trigger ${conditions.finalTrigger})` : "not committed"}`,
    "",
    "Waiting for:",
    ...(explanation.waitingFor.length > 0
      ? explanation.waitingFor.map((reason) => `  ${reason}`)
      : [`  nothing: ${explanation.notifications.length > 0 ? "all notifications delivered" : "no template subscribes to this job's triggers"}`]),
  ];
  if (explanation.notifications.length > 0) {
    lines.push(
      "",
      "Notifications:",
      indent(
        formatTable(
          ["ID", "TRIGGER", "TEMPLATE", "TYPE", "STATUS", "ATTEMPTS", "NEXT ATTEMPT", "SENT", "LEASE", "LAST ERROR"],
          explanation.notifications.map((row) => [
            String(row.id),
            row.trigger,
            row.template,
            row.type,
            row.status,
            String(row.attempts),
            at(row.nextAttemptAt),
            at(row.sentAt),
            row.lease ? `${row.lease.by} until ${at(row.lease.until)}` : "-",
            row.lastError ? oneLine(row.lastError) : "-",
          ]),
        ),
      ),
      "",
      "Templates:",
      ...explanation.templates.map((template) => `  ${template.name} (${template.type}) ${JSON.stringify(template.configuration)}`),
    );
  }
  return lines.join("\n");
}

function indent(text: string): string {
  return text.replace(/^/gm, "  ");
}
