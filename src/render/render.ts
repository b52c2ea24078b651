import { EchoTag, Filter, Liquid, Output, TypeGuards, toValueSync, type Template, type Value } from "liquidjs";
import { UsageError } from "../errors.js";
import { FRIENDLY_NAMES, HOST_BUCKETS, HOST_NAMES_PER_BUCKET, type HostBucket, type JobSnapshot, type Trigger } from "../job.js";
import type { NotificationType, NotificationTypeName } from "../types/type.js";
import { urlUnder } from "../types/http.js";
import {
  DEFAULT_APPROVAL_MESSAGES, DEFAULT_JSON_BODY, DEFAULT_TEXT_BODY, LEAN_DEFAULTS,
  type DefaultsContext, type PlainValue, type WriteOutput,
} from "./defaults.js";
import { chooseMessage, customMessageFor, messagesProblem, type ApprovalState } from "./messages.js";

/**
 * A template cannot be rendered (bad syntax, a render limit hit, a body that is not the JSON its
 * type needs…). Permanent: the same template and snapshot fail the same way on every retry.
 * The message names the template and the problem on one line.
 */
export class RenderError extends Error {
  override name = "RenderError";
}

/** Limits that keep a hostile or careless template from hanging or exhausting the service. */
export const RENDER_LIMITS = {
  /** Characters of one template (message or body). */
  parseChars: 100_000,
  /** Milliseconds of one render. */
  renderMs: 1_000,
  /** liquidjs's allocation units (array/range sizes, string lengths built by filters). */
  memoryUnits: 10_000_000,
  /** Characters of one rendered message or body. */
  outputChars: 1_000_000,
} as const;

/** How many parsed templates are kept: defaults and custom messages repeat across rows. */
const PARSED_CACHE_SIZE = 1_000;

const liquid = new Liquid({
  // Templates read own data properties only: no prototype, constructor or getters.
  ownPropertyOnly: true,
  // An unknown filter is an error, not a silent pass-through.
  strictFilters: true,
  // Like AWX (Jinja): an undefined variable renders empty.
  strictVariables: false,
  parseLimit: RENDER_LIMITS.parseChars,
  renderLimit: RENDER_LIMITS.renderMs,
  memoryLimit: RENDER_LIMITS.memoryUnits,
  // An empty in-memory mapping: include/render/layout never reach the file system.
  templates: {},
  relativeReference: false,
  cache: false,
});

/** Writes any value as a JSON literal: `{"text": {{ job.name | json }}}`. Undefined is null. */
liquid.registerFilter("json", function (value: unknown) {
  const text = JSON.stringify(value === undefined ? null : value) ?? "null";
  this.context.memoryLimit.use(text.length);
  return text;
});

/**
 * How the outputs (`{{ … }}`, `{% echo %}`) of a template are escaped, by where its text goes —
 * job data is the host's, not the template author's, so it fills the template's strings and
 * never changes their structure (like HTML auto-escaping):
 * - "text": as they are (subjects, plain-text bodies);
 * - "json": an output standing inside a JSON string literal of the template's own text is
 *   escaped as that string's content (so `"{{ job.name }}"` stays one valid string whatever the
 *   name holds); outputs outside strings (`{{ x | json }}`, `{{ job_metadata }}`) are untouched;
 * - "slack": Slack markup (slack, mattermost, rocketchat): `&`, `<`, `>` as entities and the
 *   broadcast mentions @channel/@here/@all/@everyone broken, so job data adds no link or mention.
 * An output whose last filter is `raw` is left as it is in every context: the author's opt-out.
 */
export type OutputContext = "text" | "json" | "slack";

/** Types whose message text is Slack-style markup (`<url|text>`, `<!here>`, `&amp;`). */
const SLACK_MARKUP_TYPES: ReadonlySet<NotificationTypeName> = new Set<NotificationTypeName>(["slack", "mattermost", "rocketchat"]);

/** The text liquid writes for a value (its own `stringify`: nil is empty, arrays joined). */
function outputText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value == null) return "";
  if (Array.isArray(value)) return value.map(outputText).join("");
  return String(value);
}

function jsonStringContent(value: unknown): string {
  return JSON.stringify(outputText(value)).slice(1, -1);
}

function slackText(value: unknown): string {
  return outputText(value)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    // A word joiner after the @: shown the same, but no longer a mention that notifies everyone.
    .replace(/@(channel|here|all|everyone)\b/gi, "@\u2060$1");
}

const ESCAPES: Record<Exclude<OutputContext, "text">, { name: string; handler: (value: unknown) => string }> = {
  json: { name: "json_string_content", handler: jsonStringContent },
  slack: { name: "slack_text", handler: slackText },
};

/**
 * How the lean renderers of the defaults write an output, by context: as escapeOutputs has liquid
 * write it. No output of a default stands inside a JSON string literal of its text, so "json"
 * escapes none (test/renderDefaults.test.ts renders every default in every context both ways).
 */
const LEAN_WRITERS: Record<OutputContext, WriteOutput> = { text: outputText, json: outputText, slack: slackText };

/** A default template built by its lean renderer (defaults.ts), or null when it has none. */
export function renderLean(source: string, values: DefaultsContext, outputContext: OutputContext): string | null {
  return LEAN_DEFAULTS.get(source)?.(values, LEAN_WRITERS[outputContext]) ?? null;
}

/** Every template node in source order's tree: tags' children too (partials cannot exist here). */
function* allNodes(templates: Template[]): Generator<Template> {
  for (const template of templates) {
    yield template;
    if (template.children && !template.partialScope) yield* allNodes(toValueSync(template.children(false, true)));
  }
}

/** The filtered value an output node writes, or undefined for other nodes. */
function outputValue(template: Template): Value | undefined {
  if (template instanceof Output) return template.value;
  if (template instanceof EchoTag) return (template as unknown as { value?: Value }).value;
  return undefined;
}

/** Where a JSON lexer stands after `text`: outside strings, inside one, or after a backslash in one. */
type JsonPlace = "outside" | "string" | "escape";

function jsonPlaceAfter(place: JsonPlace, text: string): JsonPlace {
  for (const char of text) {
    if (place === "escape") place = "string";
    else if (place === "string") place = char === "\\" ? "escape" : char === '"' ? "outside" : "string";
    else if (char === '"') place = "string";
  }
  return place;
}

/**
 * Appends the context's escape as the last filter of each output it applies to (as liquidjs's
 * own `outputEscape` does, but per output): for "json", the outputs that stand inside a string
 * literal of the template's literal text, read in source order.
 */
function escapeOutputs(templates: Template[], context: OutputContext): void {
  if (context === "text") return;
  const escape = ESCAPES[context];
  const nodes = [...allNodes(templates)].sort((a, b) => a.token.begin - b.token.begin);
  let place: JsonPlace = "outside";
  for (const node of nodes) {
    if (TypeGuards.isHTMLToken(node.token)) {
      place = jsonPlaceAfter(place, node.token.getContent());
      continue;
    }
    const value = outputValue(node);
    if (!value || value.filters[value.filters.length - 1]?.raw) continue;
    if (context === "json" && place === "outside") continue;
    const token = { name: escape.name, args: [] } as unknown as ConstructorParameters<typeof Filter>[0];
    value.filters.push(new Filter(token, escape.handler, liquid));
  }
}

const parsedTemplates = new Map<string, Template[]>();

function parse(source: string, context: OutputContext = "text"): Template[] {
  const key = `${context}:${source}`;
  const cached = parsedTemplates.get(key);
  if (cached) return cached;
  const templates = liquid.parse(source);
  escapeOutputs(templates, context);
  if (parsedTemplates.size >= PARSED_CACHE_SIZE) parsedTemplates.clear();
  parsedTemplates.set(key, templates);
  return templates;
}

/** Renders one template through liquidjs, its outputs escaped for `outputContext`. */
export function renderTemplate(source: string, context: Record<string, unknown>, outputContext: OutputContext): string {
  // Synchronous: nothing here waits on I/O, and it renders about twice as fast as render().
  return liquid.renderSync(parse(source, outputContext), context);
}

/**
 * The job's page: `urlBase` + `/jobs/<kind>/<id>`, or, when `urlBase` contains `{id}` (and
 * optionally `{kind}`), `urlBase` with those placeholders replaced, for host systems with other
 * routes (e.g. `https://ci.example.com/#/runs/{kind}/{id}/output`). Documented in docs/messages.md.
 */
export function jobUrl(urlBase: string, job: Pick<JobSnapshot, "id" | "kind">): string {
  if (urlBase.includes("{id}")) {
    return urlBase.replaceAll("{id}", String(job.id)).replaceAll("{kind}", job.kind);
  }
  return urlUnder(urlBase, `/jobs/${job.kind}/${job.id}`);
}

/** True when the wrapup grace fired: the final notification goes out without host counts. */
function hostCountsUnavailable(job: JobSnapshot): boolean {
  return job.wrapup_expired_at != null && job.host_status_counts == null;
}

function elapsedSeconds(job: JobSnapshot): number | null {
  if (!job.started_at || !job.finished_at) return null;
  const ms = Date.parse(job.finished_at) - Date.parse(job.started_at);
  return Number.isFinite(ms) ? Math.round(ms / 10) / 100 : null;
}

/**
 * The job metadata (AWX's notification body): the default webhook body and the end of the
 * default email body. Always has id, name, status, url, started, finished, host_status_counts.
 */
export function jobMetadata(job: JobSnapshot, url: string): Record<string, unknown> {
  return {
    id: job.id,
    name: job.name,
    kind: job.kind,
    friendly_name: FRIENDLY_NAMES[job.kind] ?? job.kind,
    status: job.status,
    url,
    created: job.created_at,
    started: job.started_at,
    finished: job.finished_at,
    elapsed: elapsedSeconds(job),
    job_template_id: job.job_template_id,
    organization_id: job.organization_id,
    host_status_counts: job.host_status_counts,
    ...(hostCountsUnavailable(job) ? { host_status_counts_unavailable: true } : {}),
    // An approval's failure is a denial or a timeout: say which.
    ...(job.kind === "workflow_approval" ? { timed_out: job.timed_out ?? false } : {}),
    extra: job.extra ?? {},
  };
}

/**
 * The host names of each bucket (`job.hosts.failures`…, at most HOST_NAMES_PER_BUCKET each, empty
 * when none) and how many names of each were left out (`job.hosts_omitted.failures`…).
 */
function hostLists(job: JobSnapshot): { hosts: Record<HostBucket, string[]>; hosts_omitted: Record<HostBucket, number> } {
  const hosts = {} as Record<HostBucket, string[]>;
  const omitted = {} as Record<HostBucket, number>;
  for (const bucket of HOST_BUCKETS) {
    const names = job.host_names?.[bucket];
    hosts[bucket] = Array.isArray(names) ? names : [];
    const count = job.host_status_counts?.[bucket];
    omitted[bucket] = typeof count === "number" ? Math.max(0, count - hosts[bucket].length) : 0;
  }
  return { hosts, hosts_omitted: omitted };
}

/**
 * AWX's approval variables: the approval's name, its workflow job's page (`extra.workflow_job_id`
 * names it; else the approval's own page) and its state.
 */
function approvalContext(job: JobSnapshot, urlBase: string, url: string, state: ApprovalState | null):
  { approval_node_name?: string; workflow_url?: string; approval_status?: ApprovalState } {
  if (state === null) return {};
  const workflowJobId = job.extra?.workflow_job_id;
  const workflowUrl = typeof workflowJobId === "number" || typeof workflowJobId === "string"
    ? jobUrl(urlBase, { kind: "workflow_job", id: Number(workflowJobId) })
    : url;
  return { approval_node_name: job.name, workflow_url: workflowUrl, approval_status: state };
}

/**
 * AWX's template context. `job` also carries the keys of `job.extra` at top level (without
 * shadowing the job's own fields), so AWX templates such as `{{ job.playbook }}` keep working
 * when the host system puts those values in `extra`. Workflow approvals also get AWX's
 * `approval_node_name`, `workflow_url` and `approval_status`.
 */
export function renderContext(job: JobSnapshot, urlBase: string, approvalState: ApprovalState | null = null): Record<string, unknown> {
  const url = jobUrl(urlBase, job);
  const metadata = jobMetadata(job, url);
  const extra = isPlainObject(job.extra) ? job.extra : {};
  return {
    ...approvalContext(job, urlBase, url, approvalState),
    job: {
      ...extra,
      ...metadata,
      type: job.kind,
      started_at: job.started_at,
      finished_at: job.finished_at,
      created_at: job.created_at,
      wrapup_dispatched: job.wrapup_dispatched,
      wrapup_expired_at: job.wrapup_expired_at,
      host_status_counts_unavailable: hostCountsUnavailable(job),
      timed_out: job.timed_out ?? false,
      ...hostLists(job),
    },
    job_friendly_name: FRIENDLY_NAMES[job.kind] ?? job.kind,
    url,
    job_metadata: JSON.stringify(metadata, null, 4),
  };
}

function isPlainValue(value: unknown): value is PlainValue {
  return typeof value === "string" || typeof value === "number" || value == null;
}

/**
 * The values of renderContext that the defaults read, for their lean renderers (defaults.ts), or
 * null when one is of a type whose liquid output they do not reproduce: anything but a string, a
 * number or nil, or host lists other than at most HOST_NAMES_PER_BUCKET strings of at most
 * RENDER_LIMITS.outputChars characters in all (far below what liquid's memory limit lets `join`
 * build). The job metadata is stringified on first read: only the bodies read it.
 */
export function defaultsContext(job: JobSnapshot, urlBase: string, approvalState: ApprovalState | null = null): DefaultsContext | null {
  const url = jobUrl(urlBase, job);
  const friendlyName = FRIENDLY_NAMES[job.kind] ?? job.kind;
  if (![friendlyName, job.id, job.name, job.status].every(isPlainValue)) return null;
  const { hosts, hosts_omitted } = hostLists(job);
  const { failures, dark } = hosts;
  if (failures.length > HOST_NAMES_PER_BUCKET || dark.length > HOST_NAMES_PER_BUCKET) return null;
  const listed: unknown[] = [...failures, ...dark];
  if (!listed.every((name) => typeof name === "string")) return null;
  if (listed.reduce((chars, name) => chars + name.length, 0) > RENDER_LIMITS.outputChars) return null;
  const { approval_node_name, workflow_url } = approvalContext(job, urlBase, url, approvalState);
  let metadata: string | undefined;
  return {
    job_friendly_name: friendlyName,
    url,
    job: {
      id: job.id,
      name: job.name,
      status: job.status,
      host_status_counts_unavailable: hostCountsUnavailable(job),
      hosts,
      hosts_omitted,
    },
    approval_node_name,
    workflow_url,
    get job_metadata() {
      return metadata ??= JSON.stringify(jobMetadata(job, url), null, 4);
    },
  };
}

/**
 * What rendering needs of a notification type: its name (Slack-markup types escape job data their
 * own way), its default messages and its body format. The caller takes it from the type's
 * declaration, so rendering does not import the type registry; plain data, it is cloned as it is
 * to a render thread.
 */
export type MessageFormat = Pick<NotificationType, "name" | "defaultMessages" | "bodyFormat">;

/** A type's MessageFormat: its data only (no send function), so that it crosses to a render thread. */
export function messageFormat(type: MessageFormat): MessageFormat {
  return { name: type.name, defaultMessages: type.defaultMessages, bodyFormat: type.bodyFormat };
}

/**
 * Renders a row's subject (one line) and body from the template's custom messages for the
 * row (chooseMessage: the trigger's, `canceled` before `error` for a canceled job, a workflow
 * approval's state), falling back to the defaults per part (as AWX: an empty custom part means
 * the default). A default part is built by its lean renderer (defaults.ts) when its values allow,
 * else rendered through liquidjs like a custom one; `liquidOnly` renders every part through
 * liquidjs (the reference the lean renderers are tested and benchmarked against). Throws
 * RenderError naming the template and the part at fault.
 */
export async function renderNotification(input: {
  template: { name: string; messages: unknown };
  format: MessageFormat;
  trigger: Trigger;
  job: JobSnapshot;
  urlBase: string;
}, options: { liquidOnly?: boolean } = {}): Promise<{ subject: string; body: string | null }> {
  const { template, trigger } = input;
  const fail = (problem: string): never => {
    throw new RenderError(`template "${template.name}": ${problem}`);
  };
  const type = input.format;

  const choice = chooseMessage(trigger, input.job);
  let chosen: ReturnType<typeof customMessageFor> = { custom: {}, where: { message: null, body: null } };
  try {
    chosen = customMessageFor(template.messages, choice);
  } catch (error) {
    fail((error as Error).message);
  }
  const { custom } = chosen;
  // Each context is built when a part first needs it: the lean values are a fraction of the whole.
  let context: Record<string, unknown> | undefined;
  let defaults: DefaultsContext | null | undefined;
  const where = (part: "message" | "body") => chosen.where[part] ?? `default ${part}`;
  const approvalDefault = choice.approvalState ? DEFAULT_APPROVAL_MESSAGES[choice.approvalState] : null;
  // An approval's default body replaces the text body only (JSON bodies stay the job metadata).
  const defaultBody = approvalDefault && type.defaultMessages.body === DEFAULT_TEXT_BODY ? approvalDefault.body : type.defaultMessages.body;

  /** A part's text and whether its lean renderer built it. */
  const render = (part: "message" | "body", source: string, outputContext: OutputContext): { output: string; lean: boolean } => {
    let output: string | null = null;
    if (!custom[part] && !options.liquidOnly && LEAN_DEFAULTS.has(source)) {
      defaults ??= defaultsContext(input.job, input.urlBase, choice.approvalState);
      if (defaults) output = renderLean(source, defaults, outputContext);
    }
    const lean = output !== null;
    if (output === null) {
      context ??= renderContext(input.job, input.urlBase, choice.approvalState);
      try {
        output = renderTemplate(source, context, outputContext);
      } catch (error) {
        return fail(`${where(part)}: ${oneLine(error)}`);
      }
    }
    if (output.length > RENDER_LIMITS.outputChars) {
      fail(`${where(part)}: longer than ${RENDER_LIMITS.outputChars} characters after rendering`);
    }
    return { output, lean };
  };

  const subject = render("message", custom.message || approvalDefault?.message || type.defaultMessages.message,
                         SLACK_MARKUP_TYPES.has(type.name) ? "slack" : "text")
    .output
    .replace(/\s*[\r\n]+\s*/g, " ")
    .trim();
  const bodySource = custom.body || defaultBody;
  const body = bodySource == null ? null : render("body", bodySource, type.bodyFormat === "json" ? "json" : "text");

  // The lean JSON body is JSON.stringify's output: valid JSON by construction.
  if (body != null && type.bodyFormat === "json" && !(body.lean && bodySource === DEFAULT_JSON_BODY)) {
    try {
      JSON.parse(body.output);
    } catch (error) {
      fail(`${where("body")}: not valid JSON after rendering (${oneLine(error)})`);
    }
  }
  return { subject, body: body?.output ?? null };
}

/**
 * Checks a template's custom messages when it is written (the CLI): the shape (messagesSchema,
 * the rules of notifier.validate_notification_messages) throws UsageError naming the key, a
 * liquid syntax error throws RenderError naming the key.
 */
export function checkTemplateMessages(messages: unknown): void {
  const problem = messagesProblem(messages);
  if (problem) throw new UsageError(problem);
  const check = (path: string, node: unknown): void => {
    if (!isPlainObject(node)) return;
    for (const [key, value] of Object.entries(node)) {
      if (typeof value === "string") {
        try {
          parse(value);
        } catch (error) {
          throw new RenderError(`${path}.${key}: ${oneLine(error)}`);
        }
      } else {
        check(`${path}.${key}`, value);
      }
    }
  };
  check("messages", messages);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\n\s*/g, " ").trim();
}
