import type pg from "pg";
import { beforeAll, expect, test } from "vitest";
import { awxSetStatus, createAwxJob, createAwxSchema } from "./helpers/awx.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { HttpReceiver } from "./helpers/httpReceiver.js";
import { addWebhook, ServiceProcess } from "./helpers/service.js";

// The service checks the attachments at start and periodically: a broken one (a trigger
// disabled, a column dropped by a host upgrade) is logged and turns /healthz unhealthy until repaired.

let url: string;
let db: pg.Client;

beforeAll(async () => {
  url = await createTestDatabase();
  db = await connect(url);
  await createAwxSchema(db);
  await db.query("select notifier.attach_awx()");
});

test("AWX's jobs are delivered and shown in the web view; a disabled trigger turns /healthz 503 and back", async () => {
  const receiver = await HttpReceiver.start();
  await addWebhook(db, "awx-hook", { url: `${receiver.url}/hook` });
  const service = await ServiceProcess.start({ databaseUrl: url, env: { NOTIFIER_ATTACHMENT_CHECK_INTERVAL: "0.2" } });

  const id = await createAwxJob(db, "projectupdate", { name: "sync repo" });
  await awxSetStatus(db, id, "running");
  await awxSetStatus(db, id, "failed", 0);
  const requests = await receiver.waitForRequests(2);
  expect(requests.map((request) => JSON.parse(request.body)).map((body) => [body.id, body.name, body.status])).toEqual([
    [id, "sync repo", "running"],
    [id, "sync repo", "failed"],
  ]);

  // The web view lists the attached job by its AWX name.
  const page = await (await fetch(`${service.httpUrl}/`)).text();
  expect(page).toContain("sync repo");
  expect(page).toContain(`${id}`);

  await db.query("alter table main_unifiedjob disable trigger notifier_100_job_update");
  const logged = await service.waitForLog((line) => line.msg.startsWith("attachment awx is broken"));
  expect(logged).toMatchObject({ problems: ["trigger notifier_100_job_update on public.main_unifiedjob is disabled"] });
  expect(await service.health()).toBe(503);

  const seen = service.logs.length;
  await db.query("alter table main_unifiedjob enable trigger notifier_100_job_update");
  await service.waitForLog((line) => line.msg === "attachments healthy" && service.logs.indexOf(line) >= seen);
  expect(await service.health()).toBe(200);
});
