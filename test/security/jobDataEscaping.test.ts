import { describe, expect, it } from "vitest";
import type { JobSnapshot } from "../../src/job.js";
import { jobMetadata, messageFormat, renderNotification } from "../../src/render/render.js";
import { notificationTypes } from "../../src/types/index.js";
import type { NotificationTypeName } from "../../src/types/type.js";
import { webhook } from "../../src/types/webhook.js";
import { makeDelivery, sampleJob } from "../helpers/delivery.js";
import { HttpReceiver } from "../helpers/httpReceiver.js";

// Job data is the host's, not the template author's: it fills the template's strings, never
// its structure (like HTML auto-escaping, by where the output stands in the template).

function render(type: NotificationTypeName, part: "message" | "body", source: string, job: Partial<JobSnapshot>) {
  return renderNotification({
    template: { name: "t", messages: { success: { [part]: source } } },
    format: messageFormat(notificationTypes[type]),
    trigger: "success",
    job: sampleJob(job),
    urlBase: "https://awx.example.com",
  });
}

const HOSTILE_NAMES = [
  'x", "channel": "#general',
  'plain " quote',
  "back\\slash",
  "line\nbreak\ttab\u0001control",
  '"}, "x": {"',
  "\u2028\u2029",
];

describe("custom JSON bodies with job data inside string literals", () => {
  it.each(HOSTILE_NAMES)("keeps %j inside its string: valid JSON, no extra key", async (name) => {
    const { body } = await render("webhook", "body", '{"text": "Job {{ job.name }} done", "id": {{ job.id }}}', { name });
    expect(JSON.parse(body!)).toEqual({ text: `Job ${name} done`, id: 42 });
  });

  it("escapes outputs inside strings nested in arrays and objects, after escaped quotes in the literal text", async () => {
    const source = '{"a": ["\\"{{ job.name }}\\""], "b": {"c": "{{ job.status }}-{{ job.name | upcase }}"}}';
    const { body } = await render("webhook", "body", source, { name: 'a"b' });
    expect(JSON.parse(body!)).toEqual({ a: ['"a"b"'], b: { c: 'successful-A"B' } });
  });

  it("escapes outputs inside tags' branches and {% echo %}, and leaves {{ x | raw }} to the author", async () => {
    const source = '{"a": "{% if job.id %}{{ job.name }}{% endif %}", "b": "{% for t in job.extra.tags %}{{ t }},{% endfor %}",' +
      ' "c": "{% echo job.name %}", "d": "{{ job.extra.fragment | raw }}"}';
    const { body } = await render("webhook", "body", source, { name: 'q"', extra: { tags: ['x"', "y"], fragment: '\\"ok\\"' } });
    expect(JSON.parse(body!)).toEqual({ a: 'q"', b: 'x",y,', c: 'q"', d: '"ok"' });
  });

  it("leaves outputs outside strings as they are ({{ x | json }})", async () => {
    const source = '{"name": {{ job.name | json }}, "extra": {{ job.extra | json }}, "n": {{ job.id }}}';
    const { body } = await render("webhook", "body", source, { name: 'x", "y": "z', extra: { k: 'v"' } });
    expect(body).toBe('{"name": "x\\", \\"y\\": \\"z", "extra": {"k":"v\\""}, "n": 42}');
  });

  it("renders a body whose strings hold no job data byte for byte as before", async () => {
    const source = '{\n  "text": "{{ job.id }} {{ job.status }}",\n  "url": "{{ url }}",\n  "meta": {{ job_metadata }}\n}';
    const { body } = await render("webhook", "body", source, {});
    const url = "https://awx.example.com/jobs/job/42";
    expect(body).toBe(`{\n  "text": "42 successful",\n  "url": "${url}",\n  "meta": ${JSON.stringify(jobMetadata(sampleJob(), url), null, 4)}\n}`);
  });

  it("delivers the hostile name to a real receiver as one string field", async () => {
    const receiver = await HttpReceiver.start();
    const name = 'x", "channel": "#general';
    const { body } = await render("webhook", "body", '{"text": "{{ job.name }}"}', { name });
    await webhook.send(makeDelivery({ url: `${receiver.url}/hook` }, { body }));
    const [request] = await receiver.waitForRequests(1);
    expect(JSON.parse(request!.body)).toEqual({ text: name });
  });
});

describe("Slack-family message text", () => {
  it.each(["slack", "mattermost", "rocketchat"] as const)("%s: job data cannot mention everyone or add links", async (type) => {
    const name = "<!here> <!channel> @channel @here @all & <https://evil.example|click>";
    const { subject } = await render(type, "message", "{{ job.name }} failed <!here>", { name });
    const fromJob = subject.slice(0, -" failed <!here>".length);
    expect(fromJob).not.toMatch(/<|>|@(channel|here|all)\b/);
    expect(subject).toContain("&lt;!here&gt;");
    expect(subject).toContain("&amp;");
    // The template author's own mention stays.
    expect(subject.endsWith(" failed <!here>")).toBe(true);
  });

  it("other types keep the name as it is", async () => {
    const name = "<b> & @channel";
    const { subject } = await render("irc", "message", "{{ job.name }}", { name });
    expect(subject).toBe(name);
  });
});
