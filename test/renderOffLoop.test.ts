import { describe, expect, test } from "vitest";
import { messageFormat, RenderError } from "../src/render/render.js";
import { renderOffLoop } from "../src/render/renderOffLoop.js";
import { webhook } from "../src/types/webhook.js";
import { sampleJob } from "./helpers/delivery.js";

const SLOW = "{% for i in (1..3000) %}{% for j in (1..3000) %}{{ job.id }}{% endfor %}{% endfor %}";
const input = (name: string, messages: unknown) => ({
  template: { name, messages },
  format: messageFormat(webhook),
  trigger: "success" as const,
  job: sampleJob(),
  urlBase: "https://awx.example.com",
});

describe("rendering off the event loop", () => {
  test("a template hitting the render limit fails its own row while this thread keeps running", async () => {
    // Counted turns of this thread's event loop while the slow render runs: a render on this
    // thread would block them all (renderSync), and none could run before it ended.
    let turns = 0;
    const ticker = setInterval(() => turns++, 5);
    const slow = renderOffLoop(input("slow", { success: { message: SLOW } }));
    const quick = await renderOffLoop(input("quick", { success: { message: "job {{ job.id }} done" } }));
    const failure = await slow.then(() => null, (error: Error) => error);
    clearInterval(ticker);
    expect(quick.subject).toBe("job 42 done");
    expect(failure).toBeInstanceOf(RenderError);
    expect(failure!.message).toMatch(/^template "slow": messages\.success\.message: .*render limit exceeded/);
    expect(turns).toBeGreaterThan(20);
  });

  test("renders exactly what the thread of the service renders, defaults on this thread", async () => {
    const custom = { success: { message: "{{ job.name | upcase }}", body: '{"n": {{ job.name | json }}}' } };
    expect(await renderOffLoop(input("same", custom))).toEqual({ subject: "DEPLOY WEB", body: '{"n": "deploy web"}' });
    expect((await renderOffLoop(input("defaults", null))).subject).toMatch(/deploy web/);
  });
});

describe("input a thread cannot be given", () => {
  test("is rendered on this thread instead of being lost", async () => {
    const job = { ...sampleJob(), extra: { callback: () => 1 } } as unknown as ReturnType<typeof sampleJob>;
    const rendered = await renderOffLoop({ ...input("uncloneable", { success: { message: "job {{ job.id }}" } }), job });
    expect(rendered.subject).toBe("job 42");
  });
});
