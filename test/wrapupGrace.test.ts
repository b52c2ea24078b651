import { describe, expect, it } from "vitest";
import { connect, createTestDatabase } from "./helpers/database.js";
import { HttpReceiver } from "./helpers/httpReceiver.js";
import { loginUrl } from "./helpers/logins.js";
import { addWebhook, ServiceProcess } from "./helpers/service.js";

// CONTRACT §5.4's NOTIFIER_WRAPUP_GRACE and the database's one grace (notifier.settings.wrapup_grace):
// a service started with the setting writes it there (as the least-privilege service role), and
// the sweep of any process then gives a lost wrapup up after it; started without it, the
// database's value stands.

const testUrl = await createTestDatabase();
const admin = await connect(testUrl);
const url = await loginUrl(admin, testUrl, "notifier_service", "grace");
const receiver = await HttpReceiver.start();

const graceSeconds = async () =>
  Number((await admin.query("select extract(epoch from wrapup_grace)::float8 as s from notifier.settings")).rows[0].s);

describe("NOTIFIER_WRAPUP_GRACE", () => {
  it("sets the database's grace at start, logging the old and new value, and a lost wrapup fires after it", async () => {
    expect(await graceSeconds()).toBe(300);
    await addWebhook(admin, "grace", { url: `${receiver.url}/grace` }, { triggers: ["success"], jobTemplateId: 4401 });
    const service = await ServiceProcess.start({ databaseUrl: url, env: { NOTIFIER_WRAPUP_GRACE: "1" } });
    const line = await service.waitForLog((log) => log.msg.startsWith("wrapup grace of the database set"));
    expect(line).toMatchObject({ previousSeconds: 300, seconds: 1 });
    expect(service.logs.filter((log) => log.msg.startsWith("wrapup grace of the database set"))).toHaveLength(1);
    expect(await graceSeconds()).toBe(1);

    // Final with a wrapup on its way that never comes: the final notification goes after the grace.
    const { rows } = await admin.query(
      "insert into notifier.jobs (name, status, job_template_id, wrapup_dispatched) values ('lost wrapup', 'running', 4401, true) returning id");
    const job = Number(rows[0].id);
    await admin.query("update notifier.jobs set status = 'successful' where id = $1", [job]);
    const [request] = await receiver.waitForRequests(1, (r) => r.url === "/grace");
    expect(JSON.parse(request!.body)).toMatchObject({ id: job, status: "successful", host_status_counts: null });
    await service.waitForLog((log) => log.msg.startsWith("wrapup grace expired"));
    service.kill();
    await service.waitForExit();
  });

  it("started without it, leaves the database's value", async () => {
    await admin.query("update notifier.settings set wrapup_grace = '7 seconds'");
    const service = await ServiceProcess.start({ databaseUrl: url, env: {} });
    await service.waitForLog((log) => log.msg === "delivery service started");
    expect(service.logs.some((log) => log.msg.startsWith("wrapup grace of the database set"))).toBe(false);
    expect(await graceSeconds()).toBe(7);
    service.kill();
    await service.waitForExit();
  });

  it("refuses a grace no timer holds, in one line naming the variable", async () => {
    const service = await ServiceProcess.start({ databaseUrl: url, env: { NOTIFIER_WRAPUP_GRACE: "2592000" }, waitUntilHealthy: false });
    expect((await service.waitForExit()).code).toBe(2);
    expect(service.output.trim().split("\n")).toEqual([expect.stringContaining("NOTIFIER_WRAPUP_GRACE must be at most 2147483 seconds")]);
    expect(await graceSeconds()).toBe(7);
  });
});
