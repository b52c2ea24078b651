import { beforeAll, describe, expect, it } from "vitest";
import { grafana, type GrafanaConfiguration } from "../../src/types/grafana.js";
import { DeliveryError } from "../../src/types/type.js";
import { makeDelivery, sampleJob } from "../helpers/delivery.js";
import { fakeGrafana } from "../helpers/fakeApis.js";
import { HttpReceiver } from "../helpers/httpReceiver.js";

const KEY = "glsa_grafanaServiceAccountToken0123";
let api: HttpReceiver;
beforeAll(async () => {
  api = await HttpReceiver.start();
});

function configuration(overrides: Partial<GrafanaConfiguration> = {}): GrafanaConfiguration {
  return { grafana_url: `${api.url}/`, grafana_key: KEY, ...overrides };
}

describe("grafana", () => {
  it("adds an annotation spanning the job's run, with the message as text", async () => {
    api.requests.length = 0;
    api.responder = fakeGrafana({ key: KEY });
    const job = sampleJob();
    const body = JSON.stringify({ started: job.started_at, finished: job.finished_at });
    await grafana.send(makeDelivery(
      configuration({ dashboardId: 3, panelId: 7, annotation_tags: ["awx", "deploy"], isRegion: true }),
      { subject: "Job #42 'deploy web' successful", body, notificationId: "31" },
    ));
    const [request] = api.requests;
    expect(request!.method).toBe("POST");
    expect(request!.url).toBe("/api/annotations");
    expect(request!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(request!.headers["idempotency-key"]).toBe("31");
    expect(JSON.parse(request!.body)).toEqual({
      time: Date.parse("2026-01-02T03:04:05.000Z"),
      timeEnd: Date.parse("2026-01-02T03:05:06.500Z"),
      isRegion: true,
      dashboardId: 3,
      panelId: 7,
      tags: ["awx", "deploy"],
      text: "Job #42 'deploy web' successful",
    });
  });

  it("uses the job's times when the body has none, and a point for a job not finished", async () => {
    api.requests.length = 0;
    api.responder = fakeGrafana({ key: KEY });
    await grafana.send(makeDelivery(configuration(), {
      trigger: "started", body: "not json", job: sampleJob({ status: "running", finished_at: null }),
    }));
    const annotation = JSON.parse(api.requests[0]!.body);
    expect(annotation.time).toBe(Date.parse("2026-01-02T03:04:05.000Z"));
    expect(annotation.timeEnd).toBe(annotation.time);
    expect(annotation).not.toHaveProperty("dashboardId");
    expect(annotation.tags).toEqual([]);
  });

  it("fails on a refused key without showing it", async () => {
    api.responder = fakeGrafana({ key: "another" });
    const error = await grafana.send(makeDelivery(configuration())).then(() => null, (e: unknown) => e as DeliveryError);
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error!.message).toMatch(/HTTP 401: .*Invalid API key/);
    expect(error!.message).not.toContain(KEY);
  });
});
