import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Option, type Command } from "commander";
import { addServiceSetting, readServiceSettings } from "../config.js";
import type { CommonQueryMethods } from "../db.js";
import { databaseUrlOption } from "../databaseUrl.js";
import { OperationError, sqlState, UsageError } from "../errors.js";
import { TRIGGERS, type JobSnapshot, type Trigger } from "../job.js";
import { checkTemplateMessages, RenderError } from "../render/render.js";
import { attemptDelivery } from "../services/attemptDelivery.js";
import { findTemplate, type TemplateDetails } from "../sql/findTemplate.js";
import { insertTemplate, type NewTemplate } from "../sql/insertTemplate.js";
import { listTemplatesWithTriggers } from "../sql/listTemplatesWithTriggers.js";
import { removeTemplate } from "../sql/removeTemplate.js";
import { validateTemplate } from "../sql/validateTemplate.js";
import { maskSecrets } from "../types/index.js";
import { NOTIFICATION_TYPE_NAMES } from "../types/type.js";
import { formatTable, INVALID_PARAMETER_VALUE, parsePositiveInteger, printJson, withDatabase } from "./common.js";
import { writeOut } from "../terminal.js";

const UNIQUE_VIOLATION = "23505";

interface AddOptions {
  file?: string;
  name?: string;
  type?: string;
  config?: string;
  configFile?: string;
  messages?: string;
  subscribe?: string;
  jobTemplate?: string;
  organization?: string;
  databaseUrl?: string;
}

export function registerTemplatesCommand(program: Command): void {
  const templates = program
    .command("templates")
    .description("add, list, show, test and remove notification templates")
    .addHelpText(
      "after",
      `
Examples:
  pg-job-notifier templates add --name ops-hook --type webhook \\
      --config '{"url": "https://hooks.example.com/awx", "password": "s3cret"}' \\
      --subscribe started,success,error --organization 1
  pg-job-notifier templates add --file ops-mail.json
  pg-job-notifier templates list
  pg-job-notifier templates show ops-hook
  pg-job-notifier templates test ops-hook
  pg-job-notifier templates remove ops-hook`,
    );

  templates
    .command("add")
    .description("add a template and its subscriptions, checked with the database's own rules first")
    .option("--file <path>", "a JSON file: {name, notification_type, notification_configuration, messages, subscribe, job_template_id, organization_id}; flags override its keys")
    .option("--name <name>", "unique template name")
    .addOption(new Option("--type <type>", "notification type").choices(NOTIFICATION_TYPE_NAMES))
    .addOption(new Option("--config <json>", "notification_configuration as a JSON object").conflicts("configFile"))
    .option("--config-file <path>", "notification_configuration from a JSON file (keeps passwords out of shell history)")
    .option("--messages <json>", 'custom messages: {"started"|"success"|"error": {"message": "...", "body": "..."}}')
    .option("--subscribe <triggers>", "comma-separated triggers to subscribe: started,success,error (default none)")
    .option("--job-template <id>", "subscribe only for jobs of this job template")
    .option("--organization <id>", "subscribe only for jobs of this organization")
    .addOption(databaseUrlOption())
    .addHelpText(
      "after",
      `
Examples:
  pg-job-notifier templates add --name ops-hook --type webhook \\
      --config '{"url": "https://hooks.example.com/awx"}' --subscribe success,error
  pg-job-notifier templates add --file ops-mail.json --subscribe error`,
    )
    .action(async (options: AddOptions) => {
      const template = await readNewTemplate(options);
      const id = await withDatabase(options.databaseUrl, async (db) => {
        await checkWithDatabase(db, template);
        try {
          return await insertTemplate(db, template);
        } catch (error) {
          if (sqlState(error) === UNIQUE_VIOLATION) throw new OperationError(`template "${template.name}" already exists`);
          throw error;
        }
      });
      const scope = [
        template.jobTemplateId === null ? "any job template" : `job template ${template.jobTemplateId}`,
        template.organizationId === null ? "any organization" : `organization ${template.organizationId}`,
      ].join(", ");
      const subscribed = template.triggers.length > 0 ? `subscribed to ${template.triggers.join(", ")} (${scope})` : "no subscriptions";
      writeOut(`template "${template.name}" added (id ${id}, ${template.notificationType}): ${subscribed}\n`);
    });

  templates
    .command("list")
    .description("list templates with their triggers; secrets masked")
    .option("--json", "print a JSON array instead of a table")
    .addOption(databaseUrlOption())
    .addHelpText("after", "\nExample:\n  pg-job-notifier templates list")
    .action(async (options: { json?: boolean; databaseUrl?: string }) => {
      const rows = (await withDatabase(options.databaseUrl, (db) => listTemplatesWithTriggers(db))).map((row) => ({
        id: Number(row.id),
        name: row.name,
        type: row.notificationType,
        triggers: row.triggers,
        configuration: maskSecrets(row.notificationType, row.configuration),
      }));
      if (options.json) return printJson(rows);
      if (rows.length === 0) return void writeOut("no templates\n");
      const table = formatTable(
        ["ID", "NAME", "TYPE", "TRIGGERS", "CONFIGURATION"],
        rows.map((row) => [String(row.id), row.name, row.type, row.triggers.join(",") || "-", JSON.stringify(row.configuration)]),
      );
      writeOut(`${table}\n`);
    });

  templates
    .command("show")
    .description("print one template as JSON, with its subscriptions; secrets masked")
    .argument("<name>", "template name")
    .addOption(databaseUrlOption())
    .addHelpText("after", "\nExample:\n  pg-job-notifier templates show ops-hook")
    .action(async (name: string, options: { databaseUrl?: string }) => {
      const template = await withDatabase(options.databaseUrl, (db) => findTemplateOrFail(db, name));
      printJson({
        id: template.id,
        name: template.name,
        notification_type: template.notificationType,
        notification_configuration: maskSecrets(template.notificationType, template.configuration),
        messages: template.messages,
        subscriptions: template.subscriptions.map((s) => ({
          trigger: s.trigger,
          job_template_id: s.jobTemplateId,
          organization_id: s.organizationId,
        })),
        created_at: new Date(template.createdAt).toISOString(),
        modified_at: new Date(template.modifiedAt).toISOString(),
      });
    });

  const test = templates
    .command("test")
    .description("send one test message now, rendered for a sample job, and print the outcome (exit 1 on failure)")
    .argument("<name>", "template name")
    .addOption(new Option("--trigger <trigger>", "which of the template's messages to render").choices(TRIGGERS).default("success"))
    .addOption(databaseUrlOption())
    .addHelpText("after", "\nExample:\n  pg-job-notifier templates test ops-hook --trigger error");
  addServiceSetting(test, "urlBase");
  test.action(async (name: string, options: { trigger: Trigger; databaseUrl?: string }) => {
    const { urlBase } = readServiceSettings(test);
    const template = await withDatabase(options.databaseUrl, (db) => findTemplateOrFail(db, name));
    const recipients = await sendTestMessage(template, options.trigger, urlBase);
    writeOut(`test message from template "${name}" sent to ${recipients}\n`);
  });

  templates
    .command("remove")
    .description("remove a template: its subscriptions go, it is hidden; its notification rows stay until retention purges them")
    .argument("<name>", "template name")
    .addOption(databaseUrlOption())
    .addHelpText("after", "\nExample:\n  pg-job-notifier templates remove ops-hook")
    .action(async (name: string, options: { databaseUrl?: string }) => {
      const pending = await withDatabase(options.databaseUrl, (db) => removeTemplate(db, name));
      if (pending === null) throw new OperationError(`template "${name}" not found`);
      const note = pending > 0 ? `; its ${pending} pending ${pending === 1 ? "row is" : "rows are"} still delivered` : "";
      writeOut(`template "${name}" removed (no new notifications; its history stays until retention purges it${note})\n`);
    });
}

/** The template `add` writes, from --file and the flags (flags win); shape errors are UsageErrors. */
async function readNewTemplate(options: AddOptions): Promise<NewTemplate> {
  const file = options.file ? asObject(await readJsonFile(options.file, "--file"), "--file") : {};
  const name = options.name ?? file.name;
  const type = options.type ?? file.notification_type;
  if (typeof name !== "string" || name.trim() === "") throw new UsageError("--name is required (or \"name\" in --file)");
  if (typeof type !== "string") throw new UsageError("--type is required (or \"notification_type\" in --file)");
  const configuration = options.config !== undefined
    ? parseJson(options.config, "--config")
    : options.configFile !== undefined
      ? await readJsonFile(options.configFile, "--config-file")
      : (file.notification_configuration ?? {});
  const messages = options.messages !== undefined ? parseJson(options.messages, "--messages") : (file.messages ?? null);
  return {
    name,
    notificationType: type,
    configuration: asObject(configuration, "notification_configuration"),
    messages: messages === null ? null : asObject(messages, "messages"),
    triggers: readTriggers(options.subscribe ?? file.subscribe),
    jobTemplateId: readScope(options.jobTemplate ?? file.job_template_id, "--job-template"),
    organizationId: readScope(options.organization ?? file.organization_id, "--organization"),
  };
}

/**
 * The database's rules (notifier.validate_notification_template, one source of truth with the
 * write trigger) and the liquid syntax of custom messages; a bad template is a UsageError naming the key.
 */
async function checkWithDatabase(db: CommonQueryMethods, template: NewTemplate): Promise<void> {
  try {
    await validateTemplate(db, template);
  } catch (error) {
    if (sqlState(error) === INVALID_PARAMETER_VALUE) throw new UsageError((error as Error).message);
    throw error;
  }
  try {
    checkTemplateMessages(template.messages);
  } catch (error) {
    if (error instanceof RenderError) throw new UsageError(error.message);
    throw error;
  }
}

async function findTemplateOrFail(db: CommonQueryMethods, name: string): Promise<TemplateDetails> {
  const template = await findTemplate(db, name);
  if (!template) throw new OperationError(`template "${name}" not found`);
  return template;
}

/** A finished job that exists nowhere, for rendering a test message. */
function sampleJob(): JobSnapshot {
  const now = new Date();
  const started = new Date(now.getTime() - 60_000).toISOString();
  return {
    id: 0,
    kind: "job",
    name: "pg-job-notifier test message",
    job_template_id: null,
    organization_id: null,
    status: "successful",
    wrapup_dispatched: true,
    host_status_counts: { ok: 1 },
    extra: { test: true },
    created_at: started,
    started_at: started,
    finished_at: now.toISOString(),
    wrapup_expired_at: null,
  };
}

/**
 * Renders and sends one message through the template's type with the delivery service's own
 * attempt (same configuration schema, renderer, timeout and secret redaction), writing nothing.
 * Returns the recipients; throws an OperationError with the failure.
 */
async function sendTestMessage(template: TemplateDetails, trigger: Trigger, urlBase: string): Promise<string> {
  const status = trigger === "error" ? "failed" : trigger === "started" ? "running" : "successful";
  const result = await attemptDelivery({
    notificationId: `test-${randomUUID()}`,
    templateName: template.name,
    notificationType: template.notificationType,
    configuration: template.configuration,
    messages: template.messages,
    trigger,
    // The approval trigger is a workflow approval's decision: render it for one (approved).
    job: { ...sampleJob(), status, ...(trigger === "approval" ? { kind: "workflow_approval" as const } : {}) },
    urlBase,
    rendered: null,
    deliveredTargets: [],
  });
  if (!result.ok) throw new OperationError(`test of template "${template.name}" failed: ${result.error}`);
  return result.outcome.recipients;
}

function readTriggers(value: unknown): Trigger[] {
  if (value === undefined || value === null) return [];
  const list = typeof value === "string" ? value.split(",").map((item) => item.trim()).filter(Boolean) : value;
  if (!Array.isArray(list)) throw new UsageError("--subscribe must be a comma-separated list of started, success, error");
  for (const trigger of list) {
    if (!(TRIGGERS as readonly unknown[]).includes(trigger)) {
      throw new UsageError(`--subscribe: unknown trigger "${String(trigger)}" (expected started, success or error)`);
    }
  }
  return [...new Set(list as Trigger[])];
}

function readScope(value: unknown, flag: string): number | null {
  if (value === undefined || value === null) return null;
  return parsePositiveInteger(String(value), flag);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // Not the parser's message: it quotes the input, which may hold a password.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new UsageError(`${what} is not valid JSON${position ? ` (at character ${position})` : ""}`);
  }
}

async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(`${what}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  return parseJson(text, `${what} ${path}`);
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new UsageError(`${what}: must be a JSON object`);
  return value as Record<string, unknown>;
}

