import type pg from "pg";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { connect } from "./helpers/database.js";
import { HOSTS } from "./helpers/hosts.js";
import { addTemplate, backendPid, triggersOf, waitUntilBlocked } from "./helpers/jobs.js";

// Under REPEATABLE READ and SERIALIZABLE the second writer cannot re-read the first writer's
// row: PostgreSQL rejects it with SQLSTATE 40001 instead. The protocol relies on that: the
// rejected writer retries, and the retry fires exactly once. Run on the product's own tables and
// on AWX's main_unifiedjob (attached), whose writers lock the row with SELECT … FOR UPDATE first.

describe.each(HOSTS)("$name", (host) => {

  let runner: pg.Client;
  let receiver: pg.Client;
  let observer: pg.Client;
  const pids = new Map<pg.Client, number>();

  beforeAll(async () => {
    const url = await host.createDatabase();
    [runner, receiver, observer] = await Promise.all([connect(url), connect(url), connect(url)]);
    for (const client of [runner, receiver]) pids.set(client, await backendPid(client));
    await addTemplate(observer, "all");
  });

  afterEach(async () => {
    await Promise.all([runner.query("rollback"), receiver.query("rollback")]);
  });

  const writeA = (db: pg.Client, id: number) => host.setStatus(db, id, "failed", true);
  const writeB = (db: pg.Client, id: number) => host.wrapup(db, id);

  describe.each(["repeatable read", "serializable"])("%s", (level) => {
    test.each(["A first, B second", "B first, A second"])("%s: the second writer gets 40001, its retry fires once", async (order) => {
      const [first, firstWrite, second, secondWrite] =
        order === "A first, B second" ? [runner, writeA, receiver, writeB] : [receiver, writeB, runner, writeA];
      const id = await host.runningJob(observer);
      await first.query(`begin isolation level ${level}`);
      await firstWrite(first, id);
      await second.query(`begin isolation level ${level}`);
      await second.query("select 1"); // takes the snapshot before the first writer commits
      // The outcome is captured at once: the rejection arrives as soon as the first writer commits.
      const blocked = secondWrite(second, id).then(() => "committed", (error: unknown) => error);
      await waitUntilBlocked(observer, pids.get(second)!);
      await first.query("commit");
      expect(await blocked).toMatchObject({ code: "40001" });
      await second.query("rollback");
      expect(await triggersOf(observer, id)).toEqual(["started"]);

      await second.query(`begin isolation level ${level}`);
      await secondWrite(second, id);
      await second.query("commit");
      expect(await triggersOf(observer, id)).toEqual(["started", "error"]);

      // Retried again (a writer that did not learn its commit succeeded): nothing more.
      await second.query(`begin isolation level ${level}`);
      await secondWrite(second, id);
      await second.query("commit");
      expect(await triggersOf(observer, id)).toEqual(["started", "error"]);
    });

    test("both conditions in one transaction fire once", async () => {
      const id = await host.runningJob(observer);
      await runner.query(`begin isolation level ${level}`);
      await writeA(runner, id);
      await writeB(runner, id);
      await runner.query("commit");
      expect(await triggersOf(observer, id)).toEqual(["started", "error"]);
    });
  });
});
