import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { connect } from "./helpers/database.js";
import { HOSTS } from "./helpers/hosts.js";
import { addTemplate } from "./helpers/jobs.js";

// A randomized race: a few hundred jobs whose runner (A) and callback receiver (B) write on many
// connections at once, with random delays, random isolation levels (retrying 40001 as a host
// must), duplicated wrapups, reaper rewrites and lost wrapups. Throughout, an observer checks on
// committed snapshots that no final row exists early and no due final row is missing; at the end
// every job has exactly the right rows. Run on the product's own tables and on AWX's
// main_unifiedjob (attached), written as AWX writes it.

const JOBS = 300;
const TEMPLATES = 2;
const LEVELS = ["read committed", "repeatable read", "serializable"] as const;
const FINAL_STATUSES = ["successful", "failed", "error", "canceled"] as const;

describe.each(HOSTS)("$name", (host) => {
  let url: string;
  let pool: pg.Pool;
  let observer: pg.Client;

  beforeAll(async () => {
    url = await host.createDatabase();
    pool = new pg.Pool({ connectionString: url, max: 24 });
    observer = await connect(url);
    for (let t = 0; t < TEMPLATES; t++) await addTemplate(observer, `template ${t}`);
  });

  afterAll(() => pool.end());

  /** Deterministic pseudo-random numbers, so a failure can be replayed from its seed. */
  function random(seed: number) {
    let state = seed >>> 0;
    return () => {
      state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
      return state / 2 ** 32;
    };
  }

  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  let retries = 0;
  async function inTransaction(level: string, work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    for (;;) {
      const client = await pool.connect();
      try {
        await client.query(`begin isolation level ${level}`);
        await work(client);
        await client.query("commit");
        return;
      } catch (error) {
        await client.query("rollback");
        if ((error as { code?: string }).code !== "40001") throw error;
        retries++;
      } finally {
        client.release();
      }
    }
  }

  interface Plan {
    id: number;
    final: (typeof FINAL_STATUSES)[number];
    dispatched: boolean;
    wrapups: number; // how many times B saves the wrapup (0: lost)
    reaper: boolean; // rewrites a failed status as error after the fact
  }

  /** Invariants every committed snapshot must satisfy (run in one statement = one snapshot). */
  const jobs = `${host.table} j left join notifier.job_conditions c on c.attachment = '${host.attachment}' and c.job_id = j.id`;
  const INVARIANTS = `
    select
      (select count(*) from notifier.notifications n join ${jobs} on j.id = n.job_id
        where n.trigger <> 'started'
          and not (notifier.is_final_status(j.status)
                   and (not c.wrapup_required or j.host_status_counts is not null or c.wrapup_expired_at is not null)))::int
        as early,
      (select count(*) from ${jobs}
        where notifier.is_final_status(j.status)
          and (not c.wrapup_required or j.host_status_counts is not null)
          and (select count(*) from notifier.notifications n where n.job_id = j.id and n.trigger <> 'started') <> ${TEMPLATES})::int
        as missing_or_extra,
      (select count(*) from ${jobs}
        where c.started_condition_at is not null
          and (select count(*) from notifier.notifications n where n.job_id = j.id and n.trigger = 'started') <> ${TEMPLATES})::int
        as started_wrong`;

  test(`${JOBS} jobs with racing writers get exactly the right rows`, async () => {
    const next = random(0x5eed);
    const plans: Plan[] = [];
    for (let i = 0; i < JOBS; i++) {
      const dispatched = next() < 0.7;
      plans.push({
        id: await host.pendingJob(observer, `job ${i}`),
        final: FINAL_STATUSES[Math.floor(next() * FINAL_STATUSES.length)]!,
        dispatched,
        wrapups: dispatched ? (next() < 0.1 ? 0 : next() < 0.2 ? 2 : 1) : next() < 0.3 ? 1 : 0,
        reaper: next() < 0.15,
      });
    }
    const level = () => LEVELS[Math.floor(next() * LEVELS.length)]!;
    const delay = () => pause(Math.floor(next() * 8));

    let racing = true;
    const violations: unknown[] = [];
    const watcher = (async () => {
      while (racing) {
        const { rows } = await observer.query(INVARIANTS);
        if (rows[0].early || rows[0].missing_or_extra || rows[0].started_wrong) violations.push(rows[0]);
      }
    })();

    await Promise.all(
      plans.map(async (plan) => {
        const runner = async () => {
          await delay();
          await inTransaction(level(), (c) => host.setStatus(c, plan.id, "running"));
          await delay();
          await inTransaction(level(), (c) => host.setStatus(c, plan.id, plan.final, plan.dispatched));
          if (plan.reaper && plan.final === "failed") {
            await inTransaction(level(), (c) => host.setStatus(c, plan.id, "error"));
          }
        };
        const receiver = async () => {
          for (let i = 0; i < plan.wrapups; i++) {
            await delay();
            await inTransaction(level(), (c) => host.wrapup(c, plan.id, { ok: { [`host-${i}`]: 1 } }));
          }
        };
        await Promise.all([runner(), receiver()]);
      }),
    );
    racing = false;
    await watcher;
    expect(violations).toEqual([]);

    // Lost wrapups: the grace fires them, once.
    const lost = plans.filter((p) => p.dispatched && p.wrapups === 0).length;
    expect((await observer.query("select notifier.expire_wrapups('0 seconds') as n")).rows[0].n).toBe(lost);
    expect((await observer.query("select notifier.expire_wrapups('0 seconds') as n")).rows[0].n).toBe(0);

    const { rows } = await observer.query(
      `select job_id::int, array_agg(trigger order by trigger) as triggers
         from notifier.notifications group by job_id`,
    );
    const triggersByJob = new Map(rows.map((r) => [r.job_id as number, r.triggers as string[]]));
    for (const plan of plans) {
      const final = plan.final === "successful" ? "success" : "error";
      const expected = [...Array(TEMPLATES).fill(final), ...Array(TEMPLATES).fill("started")].sort();
      expect({ job: plan.id, triggers: triggersByJob.get(plan.id) }).toEqual({ job: plan.id, triggers: expected });
    }
    expect((await observer.query(INVARIANTS)).rows[0]).toEqual({ early: 0, missing_or_extra: 0, started_wrong: 0 });
    console.log(`stress (${host.name}): ${JOBS} jobs, ${retries} serialization retries, ${lost} lost wrapups fired by the grace`);
  });
});
