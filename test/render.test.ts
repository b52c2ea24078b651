import { readdir, readFile } from "node:fs/promises";
import type pg from "pg";
import { beforeAll, describe, expect, test } from "vitest";
import { UsageError } from "../src/errors.js";
import type { JobSnapshot, Trigger } from "../src/job.js";
import { checkTemplateMessages, jobUrl, messageFormat, RenderError, renderNotification } from "../src/render/render.js";
import { attemptDelivery } from "../src/services/attemptDelivery.js";
import { notificationTypes } from "../src/types/index.js";
import type { NotificationTypeName } from "../src/types/type.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { sampleJob } from "./helpers/delivery.js";
import { addTemplate, insertJob, notificationsOf, setStatus } from "./helpers/jobs.js";

const URL_BASE = "https://awx.example.com";

function render(options: {
  type?: NotificationTypeName;
  messages?: unknown;
  trigger?: Trigger;
  job?: Partial<JobSnapshot>;
  name?: string;
  urlBase?: string;
}) {
  return renderNotification({
    template: { name: options.name ?? "ops-hook", messages: options.messages ?? null },
    format: messageFormat(notificationTypes[options.type ?? "webhook"]),
    trigger: options.trigger ?? "success",
    job: sampleJob(options.job),
    urlBase: options.urlBase ?? URL_BASE,
  });
}

/** Renders a custom body for the error trigger of a webhook template. */
function renderBody(body: string, job: Partial<JobSnapshot> = {}) {
  return render({ messages: { error: { body } }, trigger: "error", job: { status: "failed", ...job } });
}

describe("default messages", () => {
  test.each([
    ["started", { status: "running", finished_at: null, host_status_counts: null }, "running"],
    ["success", { status: "successful" }, "successful"],
    ["error", { status: "failed" }, "failed"],
    ["error", { status: "canceled" }, "canceled"],
  ] as const)("%s trigger: AWX's one-line message with the snapshot's status (%s)", async (trigger, job, status) => {
    const { subject } = await render({ trigger, job });
    expect(subject).toBe(`Job #42 'deploy web' ${status}: https://awx.example.com/jobs/job/42`);
  });

  test.each([
    ["project_update", "Project Update"],
    ["inventory_update", "Inventory Update"],
    ["ad_hoc_command", "AdHoc Command"],
    ["system_job", "System Job"],
    ["workflow_job", "Workflow Job"],
  ] as const)("the friendly name of %s is %s", async (kind, friendly) => {
    const { subject } = await render({ job: { kind } });
    expect(subject).toBe(`${friendly} #42 'deploy web' successful: https://awx.example.com/jobs/${kind}/42`);
  });

  test("the webhook body is the job metadata as JSON with the contract's keys", async () => {
    const { body } = await render({ trigger: "started", job: { status: "running", finished_at: null, host_status_counts: null } });
    const metadata = JSON.parse(body!);
    expect(metadata).toMatchObject({
      id: 42,
      name: "deploy web",
      status: "running",
      url: "https://awx.example.com/jobs/job/42",
      started: "2026-01-02T03:04:05.000Z",
      finished: null,
      host_status_counts: null,
    });
    expect(Object.keys(metadata)).toEqual(expect.arrayContaining(["id", "name", "status", "url", "started", "finished", "host_status_counts"]));
    expect(metadata).not.toHaveProperty("host_status_counts_unavailable");
  });

  test("the email body is a summary line, a blank line and the indented metadata", async () => {
    const { subject, body } = await render({ type: "email", trigger: "error", job: { status: "failed", host_status_counts: { failures: 1 } } });
    expect(subject).toBe("Job #42 'deploy web' failed: https://awx.example.com/jobs/job/42");
    const [summary, blank, ...rest] = body!.split("\n");
    expect(summary).toBe("Job #42 had status failed, view details at https://awx.example.com/jobs/job/42");
    expect(blank).toBe("");
    expect(rest[1]).toMatch(/^ {4}"id": 42,$/);
    expect(JSON.parse(rest.join("\n"))).toMatchObject({ id: 42, status: "failed", host_status_counts: { failures: 1 }, elapsed: 61.5 });
  });

  test("a grace-expired final notification says the host counts were unavailable", async () => {
    const job = { status: "failed", host_status_counts: null, wrapup_expired_at: "2026-01-02T03:10:06.500Z" } as const;
    const webhook = await render({ trigger: "error", job });
    expect(webhook.subject).toBe("Job #42 'deploy web' failed (host counts unavailable): https://awx.example.com/jobs/job/42");
    expect(JSON.parse(webhook.body!)).toMatchObject({ host_status_counts: null, host_status_counts_unavailable: true });

    const email = await render({ type: "email", trigger: "error", job });
    expect(email.body!.split("\n").slice(0, 3)).toEqual([
      "Job #42 had status failed, view details at https://awx.example.com/jobs/job/42",
      "Host counts were unavailable: the job's wrapup event was not processed within the grace period.",
      "",
    ]);
    // Custom templates can say it their own way.
    const custom = await render({ trigger: "error", job, messages: { error: { message: "{% if job.host_status_counts_unavailable %}no counts{% endif %}" } } });
    expect(custom.subject).toBe("no counts");
  });

  test("the URL is urlBase + /jobs/<kind>/<id>, or urlBase with {kind} and {id} replaced", () => {
    expect(jobUrl("https://host/base/", { id: 7, kind: "workflow_job" })).toBe("https://host/base/jobs/workflow_job/7");
    expect(jobUrl("https://awx.example.com/#/jobs/{kind}/{id}/output", { id: 7, kind: "job" })).toBe("https://awx.example.com/#/jobs/job/7/output");
  });
});

describe("custom messages", () => {
  const messages = {
    started: { message: "{{ job.name }} began" },
    success: { body: '{"ok": true, "url": {{ url | json }}}' },
    error: { message: "", body: null },
  };

  test("override the trigger's parts they set, and only those", async () => {
    const started = await render({ messages, trigger: "started", job: { status: "running" } });
    expect(started.subject).toBe("deploy web began");
    expect(JSON.parse(started.body!)).toMatchObject({ id: 42, status: "running" });

    const success = await render({ messages });
    expect(success.subject).toBe("Job #42 'deploy web' successful: https://awx.example.com/jobs/job/42");
    expect(JSON.parse(success.body!)).toEqual({ ok: true, url: "https://awx.example.com/jobs/job/42" });

    // An empty or null part falls back to the default, as in AWX.
    const error = await render({ messages, trigger: "error", job: { status: "error" } });
    expect(error.subject).toBe("Job #42 'deploy web' error: https://awx.example.com/jobs/job/42");
    expect(JSON.parse(error.body!)).toMatchObject({ status: "error" });
  });

  test("the message is one line", async () => {
    const { subject } = await render({ messages: { success: { message: "  first\nsecond\r\n third  " } } });
    expect(subject).toBe("first second third");
  });

  test("see AWX's context: job fields, extra values, friendly name, url, job_metadata", async () => {
    const { subject } = await render({
      job: { extra: { playbook: "site.yml", id: "not the id" }, host_status_counts: { ok: 3 } },
      messages: {
        success: {
          message:
            "{{ job_friendly_name }}|{{ job.id }}|{{ job.kind }}|{{ job.playbook }}|{{ job.extra.playbook }}|" +
            "{{ job.host_status_counts.ok }}|{{ job.started }}|{{ url }}|{{ job_metadata | size }}",
        },
      },
    });
    const parts = subject.split("|");
    expect(parts.slice(0, 8)).toEqual([
      "Job", "42", "job", "site.yml", "site.yml", "3", "2026-01-02T03:04:05.000Z", "https://awx.example.com/jobs/job/42",
    ]);
    expect(Number(parts[8])).toBeGreaterThan(100);
  });

  test("the json filter writes any value as a JSON literal", async () => {
    const name = 'say "hi"\n\tback\\slash </script> é 日本 🚀 \u2028';
    const { body } = await renderBody(
      '{"text": {{ job.name | json }}, "id": {{ job.id | json }}, "counts": {{ job.host_status_counts | json }},' +
        ' "missing": {{ job.nothing | json }}, "extra": {{ job.extra | json }}}',
      { name, host_status_counts: { ok: 1 }, extra: { tags: ["a", 'b"'] } },
    );
    expect(JSON.parse(body!)).toEqual({ text: name, id: 42, counts: { ok: 1 }, missing: null, extra: { tags: ["a", 'b"'] } });
  });

  test("a webhook body that is not JSON after rendering fails, naming the template and the part", async () => {
    // Outside a string literal the output is written as it is (inside one it would be escaped).
    const attempt = renderBody('{"text": {{ job.name }}}', { name: 'a "quoted" name' });
    await expect(attempt).rejects.toBeInstanceOf(RenderError);
    await expect(attempt).rejects.toThrow(/^template "ops-hook": messages\.error\.body: not valid JSON after rendering \(.+\)$/);
  });

  test("an email body need not be JSON", async () => {
    const { body } = await render({ type: "email", messages: { success: { body: "plain {{ job.name }}" } } });
    expect(body).toBe("plain deploy web");
  });

  test.each([
    ["a syntax error", "{% if %}", /messages\.success\.message: /],
    ["an unknown filter", "{{ job.name | shout }}", /undefined filter: shout/],
    ["an unclosed tag", "{% for x in job.extra %}", /messages\.success\.message: .*not closed/],
  ])("%s fails with RenderError naming the template and part", async (_, message, problem) => {
    const attempt = render({ name: "chat", messages: { success: { message } } });
    await expect(attempt).rejects.toBeInstanceOf(RenderError);
    await expect(attempt).rejects.toThrow(/^template "chat": /);
    await expect(attempt).rejects.toThrow(problem);
  });

  test("malformed messages fail with RenderError", async () => {
    await expect(render({ messages: { success: { message: 3 } } })).rejects.toThrow('template "ops-hook": messages.success.message: must be a string');
    await expect(render({ messages: "text" })).rejects.toThrow("messages: must be a JSON object");
  });
});

describe("rendering knows a type only by the format it is given", () => {
  test("no module of src/render imports the type registry", async () => {
    // The registry imports every type, and the types import the defaults: render sits below them.
    const folder = new URL("../src/render/", import.meta.url);
    const sources = await Promise.all((await readdir(folder)).map((name) => readFile(new URL(name, folder), "utf8")));
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) expect(source).not.toMatch(/from\s+["']\.\.\/types\/index\.js["']|import\(["']\.\.\/types\/index/);
  });

  test("an attempt for a type the service does not know fails permanently, before rendering", async () => {
    const result = await attemptDelivery({
      notificationId: "1", templateName: "ops-fax", notificationType: "fax", configuration: {}, messages: null, trigger: "success",
      job: sampleJob(), urlBase: URL_BASE, rendered: null, deliveredTargets: [],
    });
    expect(result).toMatchObject({ ok: false, permanent: true, rendered: null, error: 'template "ops-fax": notification type "fax" is not supported' });
  });
});

describe("hostile templates fail instead of hanging or escaping", () => {
  // Each must reject with RenderError; vitest's test timeout is the backstop against a hang.
  test.each([
    ["a huge range", "{% for i in (1..1000000000) %}x{% endfor %}", /memory alloc limit exceeded/],
    [
      "nested loops producing output for a long time",
      // 9 M iterations within the memory limit (ranges are charged): only the time limit stops it.
      "{% for i in (1..3000) %}{% for j in (1..3000) %}{{ job.id }}{% endfor %}{% endfor %}",
      /render limit exceeded/,
    ],
    ["a string doubled until it is huge", '{% assign s = "xxxxxxxxxx" %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s }}', /memory alloc limit exceeded/],
    ["a template too long to parse", "x".repeat(200_000), /parse length limit exceeded/],
    ["deep nesting", "{% if true %}".repeat(4_000) + "x" + "{% endif %}".repeat(4_000), /Maximum call stack size exceeded/],
    ["an include of a file", '{% include "/etc/passwd" %}', /Failed to lookup/],
    ["a layout from disk", '{% layout "/etc/hostname" %}', /Failed to lookup/],
    ["a render of a file", '{% render "package.json" %}', /Failed to lookup/],
  ])("%s", async (_, message, problem) => {
    const attempt = render({ name: "hostile", messages: { success: { message } } });
    await expect(attempt).rejects.toBeInstanceOf(RenderError);
    await expect(attempt).rejects.toThrow(/^template "hostile": messages\.success\.message: /);
    await expect(attempt).rejects.toThrow(problem);
  });

  test("prototype, constructor and inherited properties read as nothing", async () => {
    const probes = [
      "{{ job.constructor }}",
      "{{ job.constructor.name }}",
      "{{ job.__proto__ }}",
      "{{ job.toString }}",
      "{{ job.hasOwnProperty }}",
      "{{ job.name.constructor }}",
      "{{ job.extra.constructor.constructor }}",
      '{{ job["__proto__"]["constructor"] }}',
      "{{ url.constructor.name }}",
      '{{ job | map: "constructor" | first }}',
    ];
    const { body } = await renderBody(`[${probes.map((probe) => probe.replace("}}", "| json }}")).join(", ")}]`);
    expect(JSON.parse(body!)).toEqual(probes.map(() => null));
    const rendered = await Promise.all(
      probes.map(async (probe) => (await render({ messages: { success: { message: `[${probe}]` } } })).subject),
    );
    expect(rendered).toEqual(probes.map(() => "[]"));
  });
});

describe("checkTemplateMessages (write-time check)", () => {
  test("accepts AWX's shape, nulls and valid liquid", () => {
    expect(() => checkTemplateMessages(null)).not.toThrow();
    expect(() =>
      checkTemplateMessages({ started: { message: "{{ job.name }}" }, success: null, error: { message: null, body: '{"a": {{ job.id | json }}}' } }),
    ).not.toThrow();
  });

  test.each([
    [[], UsageError, "messages: must be a JSON object"],
    [{ finished: {} }, UsageError, "messages.finished: unknown key (expected started, success, error, canceled or workflow_approval)"],
    [{ success: "text" }, UsageError, "messages.success: must be an object"],
    [{ success: { subject: "x" } }, UsageError, "messages.success.subject: unknown key (expected message or body)"],
    [{ error: { body: 1 } }, UsageError, "messages.error.body: must be a string"],
    [{ started: { body: "{% if %}" } }, RenderError, "messages.started.body: "],
    [{ started: { message: "{{ x | nofilter }}" } }, RenderError, "messages.started.message: undefined filter: nofilter"],
  ])("rejects %j naming the key", (messages, errorClass, text) => {
    expect(() => checkTemplateMessages(messages)).toThrow(errorClass);
    expect(() => checkTemplateMessages(messages)).toThrow(text);
  });
});

describe("snapshots made by SQL", () => {
  let db: pg.Client;
  beforeAll(async () => {
    db = await connect(await createTestDatabase());
    await addTemplate(db, "hook");
  });

  test("render as the row recorded them: started says running; the grace says counts unavailable", async () => {
    const jobId = await insertJob(db, { name: `it's "quoted"`, status: "pending", wrapup_dispatched: false });
    await setStatus(db, jobId, "running");
    await setStatus(db, jobId, "failed", true);
    await db.query(
      "update notifier.job_conditions set final_status_at = now() - interval '1 hour' where attachment = 'notifier.jobs' and job_id = $1",
      [jobId],
    );
    await db.query("select notifier.expire_wrapups(interval '5 minutes')");

    const [started, final] = await notificationsOf(db, jobId);
    expect([started?.trigger, final?.trigger]).toEqual(["started", "error"]);

    const startedMessage = await renderNotification({
      template: { name: "hook", messages: null },
      format: messageFormat(notificationTypes.webhook),
      trigger: "started",
      job: started!.job_snapshot as unknown as JobSnapshot,
      urlBase: URL_BASE,
    });
    expect(startedMessage.subject).toBe(`Job #${jobId} 'it's "quoted"' running: https://awx.example.com/jobs/job/${jobId}`);
    const startedMetadata = JSON.parse(startedMessage.body!);
    expect(startedMetadata).toMatchObject({ id: jobId, status: "running", finished: null, host_status_counts: null });
    expect(Date.parse(startedMetadata.started)).not.toBeNaN();

    const finalMessage = await renderNotification({
      template: { name: "hook", messages: null },
      format: messageFormat(notificationTypes.email),
      trigger: "error",
      job: final!.job_snapshot as unknown as JobSnapshot,
      urlBase: URL_BASE,
    });
    expect(finalMessage.subject).toContain("failed (host counts unavailable)");
    expect(finalMessage.body).toContain("Host counts were unavailable");
  });
});
