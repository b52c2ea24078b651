import type pg from "pg";
import { beforeAll, expect, test } from "vitest";
import { connect, createTestDatabase } from "./helpers/database.js";
import { addTemplate, insertJob, saveStatsEvent, setStatus } from "./helpers/jobs.js";

// CONTRACT §6: notifier.job_notification_state shows where each job stands.

let db: pg.Client;
beforeAll(async () => {
  db = await connect(await createTestDatabase());
  await addTemplate(db, "all");
});

async function state(id: number) {
  const { rows } = await db.query("select * from notifier.job_notification_state where job_id = $1", [id]);
  return rows[0];
}

test("a job's progress through the protocol", async () => {
  const id = await insertJob(db, { kind: "project_update", status: "pending" });
  expect(await state(id)).toMatchObject({ status: "pending", waiting_for: "final status", pending: 0, started_condition_at: null });

  await setStatus(db, id, "running");
  expect(await state(id)).toMatchObject({ pending: 1, waiting_for: "final status" });
  expect((await state(id)).started_condition_at).toBeInstanceOf(Date);

  await setStatus(db, id, "successful", true);
  expect(await state(id)).toMatchObject({
    wrapup_dispatched: true,
    wrapup_required: true,
    wrapup_processed: false,
    wrapup_event: "playbook_on_stats",
    waiting_for: "wrapup event (playbook_on_stats)",
    final_condition_at: null,
  });

  await saveStatsEvent(db, id);
  const done = await state(id);
  expect(done).toMatchObject({ wrapup_processed: true, waiting_for: null, final_trigger: "success", pending: 2 });
  expect(done.final_condition_at.getTime()).toBeGreaterThanOrEqual(done.started_condition_at.getTime());

  await db.query("update notifier.notifications set status = 'failed' where job_id = $1 and trigger = 'started'", [id]);
  expect(await state(id)).toMatchObject({ pending: 1, failed: 1, successful: 0 });
});
