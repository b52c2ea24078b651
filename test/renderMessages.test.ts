import { describe, expect, test } from "vitest";
import { UsageError } from "../src/errors.js";
import type { JobSnapshot, Trigger } from "../src/job.js";
import { checkTemplateMessages, messageFormat, renderNotification } from "../src/render/render.js";
import { notificationTypes } from "../src/types/index.js";
import type { NotificationTypeName } from "../src/types/type.js";
import { sampleJob } from "./helpers/delivery.js";

// Which message a row gets: workflow approvals (AWX's messages.workflow_approval and default
// texts), `canceled` before `error` for canceled jobs, and the failed hosts of the error trigger.

const URL_BASE = "https://awx.example.com";

function render(options: { type?: NotificationTypeName; messages?: unknown; trigger: Trigger; job?: Partial<JobSnapshot> }) {
  return renderNotification({
    template: { name: "t", messages: options.messages ?? null },
    format: messageFormat(notificationTypes[options.type ?? "webhook"]),
    trigger: options.trigger,
    job: sampleJob(options.job),
    urlBase: URL_BASE,
  });
}

const approval = (status: JobSnapshot["status"], extra: Partial<JobSnapshot> = {}): Partial<JobSnapshot> => ({
  kind: "workflow_approval", name: "Deploy to prod?", status, host_status_counts: null, extra: { workflow_job_id: 900 }, ...extra,
});

describe("workflow approvals", () => {
  test.each([
    ["started", approval("running"), "The approval node 'Deploy to prod?' needs review. This node can be viewed at: https://awx.example.com/jobs/workflow_job/900"],
    ["approval", approval("successful"), "The approval node 'Deploy to prod?' was approved. https://awx.example.com/jobs/workflow_job/900"],
    ["approval", approval("failed"), "The approval node 'Deploy to prod?' was denied. https://awx.example.com/jobs/workflow_job/900"],
    ["approval", approval("failed", { timed_out: true }), "The approval node 'Deploy to prod?' has timed out. https://awx.example.com/jobs/workflow_job/900"],
  ] as const)("%s row of a %s approval: AWX's default message", async (trigger, job, expected) => {
    expect((await render({ trigger, job })).subject).toBe(expected);
  });

  test("the email body is AWX's approval body; a JSON body stays the job metadata", async () => {
    const mail = await render({ type: "email", trigger: "approval", job: approval("failed", { timed_out: true }) });
    expect(mail.body!.split("\n\n")[0]).toBe("The approval node 'Deploy to prod?' has timed out. https://awx.example.com/jobs/workflow_job/900");
    expect(JSON.parse(mail.body!.split("\n\n").slice(1).join("\n\n"))).toMatchObject({ kind: "workflow_approval", status: "failed" });
    const hook = await render({ trigger: "started", job: approval("running") });
    expect(JSON.parse(hook.body!)).toMatchObject({ kind: "workflow_approval", status: "running", name: "Deploy to prod?", timed_out: false });
    const timedOut = await render({ trigger: "approval", job: approval("failed", { timed_out: true }) });
    expect(JSON.parse(timedOut.body!)).toMatchObject({ status: "failed", timed_out: true });
  });

  test("custom messages per state, with AWX's variables; an empty part falls back to the default", async () => {
    const messages = {
      success: { message: "not for approvals" },
      workflow_approval: {
        running: { message: "review {{ approval_node_name }} ({{ approval_status }})" },
        approved: { message: "ok: {{ approval_node_name }}", body: "{\"state\": {{ approval_status | json }}}" },
        denied: { message: "no: {{ workflow_url }}" },
        timed_out: { message: "", body: null },
      },
    };
    expect((await render({ messages, trigger: "started", job: approval("running") })).subject).toBe("review Deploy to prod? (running)");
    const approved = await render({ messages, trigger: "approval", job: approval("successful") });
    expect(approved).toEqual({ subject: "ok: Deploy to prod?", body: '{"state": "approved"}' });
    expect((await render({ messages, trigger: "approval", job: approval("failed") })).subject).toBe("no: https://awx.example.com/jobs/workflow_job/900");
    expect((await render({ messages, trigger: "approval", job: approval("failed", { timed_out: true }) })).subject)
      .toMatch(/^The approval node 'Deploy to prod\?' has timed out\./);
  });

  test("without a workflow job id, workflow_url is the approval's own page", async () => {
    const { subject } = await render({ trigger: "approval", job: approval("successful", { extra: {} }) });
    expect(subject).toBe("The approval node 'Deploy to prod?' was approved. https://awx.example.com/jobs/workflow_approval/42");
  });

  test("an ordinary job's rows never use the approval messages", async () => {
    const messages = { workflow_approval: { running: { message: "approval!" } } };
    expect((await render({ messages, trigger: "started", job: { status: "running" } })).subject).toMatch(/^Job #42 'deploy web' running/);
  });
});

describe("messages.canceled", () => {
  const messages = { error: { message: "error: {{ job.status }}", body: "{\"error\": true}" }, canceled: { message: "canceled: {{ job.name }}" } };

  test("overrides messages.error for a canceled job, part by part", async () => {
    expect(await render({ messages, trigger: "error", job: { status: "canceled" } })).toEqual({ subject: "canceled: deploy web", body: '{"error": true}' });
  });

  test("leaves failed and errored jobs to messages.error", async () => {
    for (const status of ["failed", "error"] as const) {
      expect((await render({ messages, trigger: "error", job: { status } })).subject).toBe(`error: ${status}`);
    }
  });

  test("without messages.canceled a canceled job gets messages.error, else the default", async () => {
    expect((await render({ messages: { error: messages.error }, trigger: "error", job: { status: "canceled" } })).subject).toBe("error: canceled");
    expect((await render({ messages: { canceled: { body: "{}" } }, trigger: "error", job: { status: "canceled" } })).subject)
      .toBe("Job #42 'deploy web' canceled: https://awx.example.com/jobs/job/42");
  });

  test("a render error names messages.canceled", async () => {
    await expect(render({ messages: { canceled: { message: "{{ job.name | nope }}" } }, trigger: "error", job: { status: "canceled" } }))
      .rejects.toThrow(/^template "t": messages\.canceled\.message: /);
  });
});

describe("failed hosts", () => {
  const failedJob: Partial<JobSnapshot> = {
    status: "failed",
    host_status_counts: { ok: 1, failures: 103, dark: 1 },
    host_names: { ok: ["web0"], failures: Array.from({ length: 100 }, (_, i) => `web${i + 1}`), dark: ["db1"] },
  };

  test("templates read job.hosts.<bucket> and job.hosts_omitted.<bucket>", async () => {
    const { subject } = await render({
      messages: { error: { message: "{{ job.hosts.failures | slice: 0, 2 | join: ',' }} +{{ job.hosts_omitted.failures }}; dark {{ job.hosts.dark | join: ',' }}; skipped {{ job.hosts.skipped.size }}" } },
      trigger: "error",
      job: failedJob,
    });
    expect(subject).toBe("web1,web2 +3; dark db1; skipped 0");
  });

  test("the default email body and Slack text name them for a job that did not succeed", async () => {
    const mail = await render({ type: "email", trigger: "error", job: failedJob });
    const [summary, failed, unreachable, blank] = mail.body!.split("\n");
    expect(summary).toBe("Job #42 had status failed, view details at https://awx.example.com/jobs/job/42");
    expect(failed).toBe(`Failed hosts: ${Array.from({ length: 100 }, (_, i) => `web${i + 1}`).join(", ")} and 3 more`);
    expect(unreachable).toBe("Unreachable hosts: db1");
    expect(blank).toBe("");
    const slack = await render({ type: "slack", trigger: "error", job: { ...failedJob, host_names: { failures: ["web1"], dark: [] }, host_status_counts: { failures: 1 } } });
    expect(slack.subject).toBe("Job #42 'deploy web' failed: https://awx.example.com/jobs/job/42; Failed hosts: web1");
  });

  test("nothing is added for a successful job or a job without names", async () => {
    const ok = await render({ type: "slack", trigger: "success", job: { host_names: { ok: ["web0"] } } });
    expect(ok.subject).toBe("Job #42 'deploy web' successful: https://awx.example.com/jobs/job/42");
    const unnamed = await render({ type: "email", trigger: "error", job: { status: "failed", host_status_counts: { failures: 2 } } });
    expect(unnamed.body!.split("\n")[1]).toBe("");
  });
});

describe("checkTemplateMessages", () => {
  test("accepts canceled and workflow_approval, checking their liquid", () => {
    expect(() => checkTemplateMessages({ canceled: { message: "x" }, workflow_approval: { denied: { body: "{{ a }}" } } })).not.toThrow();
    expect(() => checkTemplateMessages({ workflow_approval: { denied: { body: "{% if %}" } } })).toThrow(/^messages\.workflow_approval\.denied\.body: /);
  });

  test.each([
    [{ workflow_approval: { pending: {} } }, "messages.workflow_approval.pending: unknown key (expected running, approved, denied or timed_out)"],
    [{ workflow_approval: [] }, "messages.workflow_approval: must be an object with running, approved, denied and/or timed_out"],
    [{ canceled: { text: "x" } }, "messages.canceled.text: unknown key (expected message or body)"],
    [{ workflow_approval: { approved: { message: 1 } } }, "messages.workflow_approval.approved.message: must be a string"],
  ])("rejects %j as SQL words it", (messages, error) => {
    expect(() => checkTemplateMessages(messages)).toThrow(new UsageError(error));
  });
});
