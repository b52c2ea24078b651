import type pg from "pg";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { connect } from "./helpers/database.js";
import { HOSTS } from "./helpers/hosts.js";
import { addTemplate, backendPid, triggersOf, waitUntilBlocked } from "./helpers/jobs.js";

// Forced interleavings of the two writers on real connections under READ COMMITTED: one holds
// the job's row lock in an open transaction while the other provably waits on it
// (pg_stat_activity says so), then they commit or roll back in every order. Run once on the
// product's own tables and once on AWX's main_unifiedjob (attached), written as AWX writes it.
// REPEATABLE READ and SERIALIZABLE: isolation.test.ts.

describe.each(HOSTS)("$name", (host) => {
  let runner: pg.Client; // writes the status (A)
  let receiver: pg.Client; // saves the wrapup (B)
  let observer: pg.Client; // sees only what is committed
  let runnerPid: number;
  let receiverPid: number;

  beforeAll(async () => {
    const url = await host.createDatabase();
    [runner, receiver, observer] = await Promise.all([connect(url), connect(url), connect(url)]);
    [runnerPid, receiverPid] = await Promise.all([backendPid(runner), backendPid(receiver)]);
    await addTemplate(observer, "all");
  });

  afterEach(async () => {
    await Promise.all([runner.query("rollback"), receiver.query("rollback")]);
  });

  async function runningJob(): Promise<number> {
    return host.runningJob(observer);
  }

  /**
   * A writes the final status in an open transaction; B then saves the wrapup and waits on A's row
   * lock (pg_stat_activity shows the wait). Resolves once B waits, with B's write still pending.
   */
  async function aHoldsBWaits(id: number, status: string, dispatched: boolean): Promise<{ wrapup: Promise<void> }> {
    await runner.query("begin");
    await host.setStatus(runner, id, status, dispatched);
    await receiver.query("begin");
    const wrapup = host.wrapup(receiver, id);
    await waitUntilBlocked(observer, receiverPid);
    return { wrapup };
  }

  /** The other order: B saves the wrapup in an open transaction, A's final status waits on B's row lock. */
  async function bHoldsAWaits(id: number, status: string, dispatched?: boolean): Promise<{ status: Promise<void> }> {
    await receiver.query("begin");
    await host.wrapup(receiver, id);
    await runner.query("begin");
    const write = host.setStatus(runner, id, status, dispatched);
    await waitUntilBlocked(observer, runnerPid);
    return { status: write };
  }

  describe("A holds the row lock, B waits on it", () => {
    test("A commits, then B: the final rows are created by B's transaction, visible at B's commit", async () => {
      const id = await runningJob();
      const { wrapup } = await aHoldsBWaits(id, "successful", true);
      expect(await triggersOf(observer, id)).toEqual(["started"]);

      await runner.query("commit");
      await wrapup;
      expect(await triggersOf(receiver, id)).toEqual(["started", "success"]); // B's own view
      expect(await triggersOf(observer, id)).toEqual(["started"]); // nothing early
      await receiver.query("commit");
      expect(await triggersOf(observer, id)).toEqual(["started", "success"]);
    });

    test("A rolls back: B finds no final status and fires nothing; a later A fires", async () => {
      const id = await runningJob();
      const { wrapup } = await aHoldsBWaits(id, "successful", true);
      await runner.query("rollback");
      await wrapup;
      await receiver.query("commit");
      expect(await triggersOf(observer, id)).toEqual(["started"]);

      await host.setStatus(runner, id, "failed", true);
      expect(await triggersOf(observer, id)).toEqual(["started", "error"]);
    });

    test("A commits, B rolls back: nothing; B's retry fires once", async () => {
      const id = await runningJob();
      const { wrapup } = await aHoldsBWaits(id, "successful", true);
      await runner.query("commit");
      await wrapup;
      await receiver.query("rollback");
      expect(await triggersOf(observer, id)).toEqual(["started"]);

      await host.wrapup(receiver, id);
      await host.wrapup(receiver, id);
      expect(await triggersOf(observer, id)).toEqual(["started", "success"]);
    });

    test("A waives B (no wrapup dispatched): A's commit fires, the blocked B adds nothing", async () => {
      const id = await runningJob();
      const { wrapup } = await aHoldsBWaits(id, "successful", false);
      expect(await triggersOf(observer, id)).toEqual(["started"]);
      await runner.query("commit");
      expect(await triggersOf(observer, id)).toEqual(["started", "success"]);
      await wrapup;
      await receiver.query("commit");
      expect(await triggersOf(observer, id)).toEqual(["started", "success"]);
    });
  });

  describe("B holds the row lock, A waits on it", () => {
    test("B commits, then A: the final rows are created by A's transaction, visible at A's commit", async () => {
      const id = await runningJob();
      await host.dispatch(observer, id);
      const { status } = await bHoldsAWaits(id, "canceled");
      await receiver.query("commit");
      expect(await triggersOf(observer, id)).toEqual(["started"]);
      await status;
      expect(await triggersOf(observer, id)).toEqual(["started"]);
      await runner.query("commit");
      expect(await triggersOf(observer, id)).toEqual(["started", "error"]);
    });

    test("B rolls back: A (wrapup dispatched) waits for a wrapup; B's retry fires", async () => {
      const id = await runningJob();
      const { status } = await bHoldsAWaits(id, "successful", true);
      await receiver.query("rollback");
      await status;
      await runner.query("commit");
      expect(await triggersOf(observer, id)).toEqual(["started"]);

      await host.wrapup(receiver, id);
      expect(await triggersOf(observer, id)).toEqual(["started", "success"]);
    });

    test("B commits, A rolls back: nothing; A's retry fires once", async () => {
      const id = await runningJob();
      const { status } = await bHoldsAWaits(id, "successful", true);
      await receiver.query("commit");
      await status;
      await runner.query("rollback");
      expect(await triggersOf(observer, id)).toEqual(["started"]);

      await host.setStatus(runner, id, "successful", true);
      await host.setStatus(runner, id, "successful", true);
      expect(await triggersOf(observer, id)).toEqual(["started", "success"]);
    });
  });

  describe("the wrapup grace against a wrapup arriving at the same moment", () => {
    async function finishedAwaitingWrapup(): Promise<number> {
      const id = await runningJob();
      await host.setStatus(observer, id, "successful", true);
      return id;
    }

    test("B holds the row: the grace sweep never waits, it skips the job (SKIP LOCKED)", async () => {
      const id = await finishedAwaitingWrapup();
      await receiver.query("begin");
      await host.wrapup(receiver, id);
      await runner.query("begin");
      expect((await runner.query("select notifier.expire_wrapups('0 seconds') as expired")).rows[0].expired).toBe(0);
      await receiver.query("commit");
      expect((await runner.query("select notifier.expire_wrapups('0 seconds') as expired")).rows[0].expired).toBe(0);
      await runner.query("commit");
      expect(await triggersOf(observer, id)).toEqual(["started", "success"]);
      const { rows } = await observer.query(
        "select wrapup_expired_at from notifier.job_conditions where attachment = $1 and job_id = $2",
        [host.attachment, id],
      );
      expect(rows[0].wrapup_expired_at).toBeNull();
    });

    test("the grace sweep holds the row: B waits, then adds nothing", async () => {
      const id = await finishedAwaitingWrapup();
      await runner.query("begin");
      expect((await runner.query("select notifier.expire_wrapups('0 seconds') as expired")).rows[0].expired).toBe(1);
      await receiver.query("begin");
      const wrapup = host.wrapup(receiver, id);
      await waitUntilBlocked(observer, receiverPid);
      await runner.query("commit");
      await wrapup;
      await receiver.query("commit");
      const { rows } = await observer.query(
        "select trigger, job_snapshot -> 'host_status_counts' as counts, job_snapshot ->> 'wrapup_expired_at' as expired from notifier.notifications where job_id = $1 order by id",
        [id],
      );
      expect(rows.map((r) => r.trigger)).toEqual(["started", "success"]);
      expect(rows[1].counts).toBeNull();
      expect(rows[1].expired).not.toBeNull();
    });

    test("the grace is measured from the database clock's stamp at A, not the host's finished_at", async () => {
      const id = await finishedAwaitingWrapup();
      await observer.query(`update ${host.table} set ${host.finishedColumn} = now() - interval '2 hours' where id = $1`, [id]);
      expect((await observer.query("select notifier.expire_wrapups('1 hour') as expired")).rows[0].expired).toBe(0);
      await observer.query(
        "update notifier.job_conditions set final_status_at = now() - interval '61 minutes' where attachment = $1 and job_id = $2",
        [host.attachment, id],
      );
      expect((await observer.query("select notifier.expire_wrapups('1 hour') as expired")).rows[0].expired).toBe(1);
      expect((await observer.query("select notifier.expire_wrapups('1 hour') as expired")).rows[0].expired).toBe(0);
      expect(await triggersOf(observer, id)).toEqual(["started", "success"]);
    });
  });
});
