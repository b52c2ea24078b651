import pg from "pg";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { connect, createTestDatabase } from "./helpers/database.js";
import { eventually } from "./helpers/eventually.js";
import { addTemplate, backendPid, insertJob, setStatus, waitUntilBlocked } from "./helpers/jobs.js";

// The adaptive wake-up (migration 9): a transaction that creates rows NOTIFYs only when a service
// sleeps, i.e. holds the sleep lock exclusively (or waits for it). Each interleaving is forced on
// real sessions: a writer holds its transaction open while a service provably waits on the lock
// (pg_stat_activity says so), then they finish in every order. Whether a NOTIFY was sent is read
// with a marker: notifications arrive in commit order, so once a marker NOTIFY committed after the
// writer has arrived, anything the writer sent has arrived before it.

const CHANNEL = "notifier";
const LONG_WAIT_MS = 30_000;

let url: string;
let writer: pg.Client; // the host: finishes jobs, creating a row each
let otherWriter: pg.Client;
let observer: pg.Client; // sees only what is committed; sends the markers
let sleeper: pg.Client; // a service's dedicated sleep-lock session
let sleeperPid: number;

/** A service's LISTEN session, recording what it receives. */
class ListenSession {
  readonly received: string[] = [];
  private markers = 0;
  private constructor(readonly client: pg.Client) {
    client.on("notification", (message) => this.received.push(message.payload ?? ""));
  }

  static async open(): Promise<ListenSession> {
    const session = new ListenSession(await connect(url));
    await session.client.query(`listen ${CHANNEL}`);
    return session;
  }

  /** The payloads that arrived before a marker sent now (a marker is not counted). */
  async settle(): Promise<string[]> {
    const marker = `marker ${++this.markers} ${Math.random()}`;
    await observer.query("select pg_notify($1, $2)", [CHANNEL, marker]);
    const deadline = Date.now() + LONG_WAIT_MS;
    while (!this.received.includes(marker)) {
      if (Date.now() > deadline) throw new Error("the marker notification never arrived");
      await this.client.query("select 1"); // reads what the server has queued for us
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return this.drain();
  }

  /** Everything received so far but markers, and forgets it. */
  drain(): string[] {
    return this.received.splice(0).filter((payload) => !payload.startsWith("marker "));
  }
}

let service: ListenSession;

beforeAll(async () => {
  url = await createTestDatabase();
  [writer, otherWriter, observer, sleeper] = await Promise.all([connect(url), connect(url), connect(url), connect(url)]);
  sleeperPid = await backendPid(sleeper);
  await addTemplate(observer, "wakeup", [{ trigger: "success" }]);
  service = await ListenSession.open();
});

afterEach(async () => {
  await Promise.all([writer.query("rollback"), otherWriter.query("rollback")]);
  await sleeper.query("select pg_advisory_unlock_all()");
  await service.settle();
});

/** A running job that needs no wrapup: finishing it creates one row. */
const runningJob = () => insertJob(observer, { status: "running", wrapup_dispatched: false });

const beginSleep = (client: pg.Client, waitMs = LONG_WAIT_MS) =>
  client.query("select notifier.begin_listener_sleep($1) as held", [waitMs]).then((result) => result.rows[0].held as boolean);
const endSleep = (client: pg.Client) =>
  client.query("select notifier.end_listener_sleep() as released").then((result) => result.rows[0].released as boolean);
const pendingRows = async (db: pg.Client, jobId: number) =>
  Number((await db.query("select count(*) as n from notifier.notifications where job_id = $1 and status = 'pending'", [jobId])).rows[0].n);

describe("who gets a NOTIFY", () => {
  test("no service asleep: the transaction creating a row does not notify", async () => {
    const id = await runningJob();
    await setStatus(writer, id, "successful");
    expect(await pendingRows(observer, id)).toBe(1);
    expect(await service.settle()).toEqual([]);
  });

  test("a service asleep (holding the sleep lock): it is notified at commit, not before", async () => {
    expect(await beginSleep(sleeper)).toBe(true);
    const id = await runningJob();
    await writer.query("begin");
    await setStatus(writer, id, "successful");
    expect(await service.settle()).toEqual([]);
    await writer.query("commit");
    expect(await service.settle()).toEqual(["pending"]);
  });

  test("a service that woke up (released the lock) is no longer notified", async () => {
    expect(await beginSleep(sleeper)).toBe(true);
    expect(await endSleep(sleeper)).toBe(true);
    await setStatus(writer, await runningJob(), "successful");
    expect(await service.settle()).toEqual([]);
  });

  test("a transaction that creates no row never notifies, even with a service asleep", async () => {
    expect(await beginSleep(sleeper)).toBe(true);
    await setStatus(writer, await insertJob(observer, { status: "pending" }), "waiting");
    await setStatus(writer, await runningJob(), "running");
    expect(await service.settle()).toEqual([]);
  });
});

describe("falling asleep while a transaction that created rows is open", () => {
  test("the service waits for it to commit, then its claim sees the row (no NOTIFY needed)", async () => {
    const id = await runningJob();
    await writer.query("begin");
    await setStatus(writer, id, "successful"); // no sleeper: takes the lock shared, no NOTIFY
    const sleeping = beginSleep(sleeper);
    await waitUntilBlocked(observer, sleeperPid);
    expect(await pendingRows(observer, id)).toBe(0);

    await writer.query("commit");
    expect(await sleeping).toBe(true);
    expect(await pendingRows(sleeper, id)).toBe(1); // the claim made after the grant sees it
    expect(await service.settle()).toEqual([]);
  });

  test("it rolls back: the service falls asleep and there is nothing to see", async () => {
    const id = await runningJob();
    await writer.query("begin");
    await setStatus(writer, id, "successful");
    const sleeping = beginSleep(sleeper);
    await waitUntilBlocked(observer, sleeperPid);
    await writer.query("rollback");
    expect(await sleeping).toBe(true);
    expect(await pendingRows(sleeper, id)).toBe(0);
  });

  test("a second transaction arriving while the service waits for the lock notifies", async () => {
    const first = await runningJob();
    const second = await runningJob();
    await writer.query("begin");
    await setStatus(writer, first, "successful");
    const sleeping = beginSleep(sleeper);
    await waitUntilBlocked(observer, sleeperPid);

    // The queued exclusive request makes the second transaction's try fail: it notifies.
    await setStatus(otherWriter, second, "successful");
    expect(await service.settle()).toEqual(["pending"]);

    await writer.query("commit");
    expect(await sleeping).toBe(true);
    expect(await pendingRows(sleeper, first)).toBe(1);
  });

  test("the wait is bounded: after wait_ms the service gives up (and claims anyway)", async () => {
    const id = await runningJob();
    await writer.query("begin");
    await setStatus(writer, id, "successful");
    expect(await beginSleep(sleeper, 50)).toBe(false);
    // lock_timeout was local to the call: the session's own setting is untouched.
    expect((await sleeper.query("show lock_timeout")).rows[0].lock_timeout).toBe("0");
    await writer.query("commit");
    expect(await beginSleep(sleeper, 50)).toBe(true);
  });
});

describe("several services", () => {
  test("one asleep, one waiting behind it: a transaction notifies both, then the second gets the lock", async () => {
    const secondSleeper = await connect(url);
    const secondSleeperPid = await backendPid(secondSleeper);
    const secondService = await ListenSession.open();
    expect(await beginSleep(sleeper)).toBe(true);
    const secondSleeping = beginSleep(secondSleeper);
    await waitUntilBlocked(observer, secondSleeperPid);

    await setStatus(writer, await runningJob(), "successful");
    expect(await service.settle()).toEqual(["pending"]);
    expect(await secondService.settle()).toEqual(["pending"]);

    expect(await endSleep(sleeper)).toBe(true); // the first woke up
    expect(await secondSleeping).toBe(true);
    await setStatus(writer, await runningJob(), "successful");
    expect(await secondService.settle()).toEqual(["pending"]);
    await secondSleeper.query("select pg_advisory_unlock_all()");
  });
});

describe("the delivery service sleeps and is woken (no fallback poll)", () => {
  // The poll interval is an hour: every delivery below happens because of a NOTIFY or of the
  // service claiming again by itself, never because of the poll.
  const NO_POLL = { NOTIFIER_POLL_INTERVAL: "3600" };

  const sleepersNow = async () =>
    Number((await observer.query(
      `select count(*) as n from pg_locks
        where locktype = 'advisory' and mode = 'ExclusiveLock' and granted
          and (classid::bigint << 32 | objid::bigint) = notifier.sleep_lock_key()`,
    )).rows[0].n);

  async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
    await eventually(condition, { timeoutMs, intervalMs: 20, what });
  }

  async function finishJobs(count: number, writers: pg.Client[]): Promise<void> {
    const ids = await Promise.all(Array.from({ length: count }, () => runningJob()));
    await Promise.all(writers.map(async (db, index) => {
      for (let i = index; i < ids.length; i += writers.length) await setStatus(db, ids[i]!, "successful");
    }));
  }

  test("one process: a lone row, then a burst from 8 writers, are all delivered; it goes back to sleep", async () => {
    const { HttpReceiver } = await import("./helpers/httpReceiver.js");
    const { ServiceProcess } = await import("./helpers/service.js");
    const receiver = await HttpReceiver.start();
    await observer.query("update notifier.notification_templates set notification_configuration = $1", [JSON.stringify({ url: `${receiver.url}/hook` })]);
    await observer.query("update notifier.notifications set status = 'successful' where status = 'pending'");
    const running = await ServiceProcess.start({ databaseUrl: url, env: NO_POLL });
    try {
      await until(async () => (await sleepersNow()) === 1, "the service to hold the sleep lock");
      await finishJobs(1, [writer]);
      await receiver.waitForRequests(1);

      const writers = await Promise.all(Array.from({ length: 8 }, () => connect(url)));
      await finishJobs(200, writers);
      await receiver.waitForRequests(201);
      await until(async () => (await sleepersNow()) === 1, "the service to sleep again");
      await finishJobs(1, [writer]);
      await receiver.waitForRequests(202);
    } finally {
      running.kill("SIGTERM");
      await running.waitForExit();
    }
  });

  test("two processes: one asleep holding the lock, the other waiting for it; bursts are all delivered", async () => {
    const { HttpReceiver } = await import("./helpers/httpReceiver.js");
    const { ServiceProcess } = await import("./helpers/service.js");
    const receiver = await HttpReceiver.start();
    await observer.query("update notifier.notification_templates set notification_configuration = $1", [JSON.stringify({ url: `${receiver.url}/hook` })]);
    await observer.query("update notifier.notifications set status = 'successful' where status = 'pending'");
    const services = await Promise.all([1, 2].map(() => ServiceProcess.start({ databaseUrl: url, env: NO_POLL })));
    try {
      const writers = await Promise.all(Array.from({ length: 8 }, () => connect(url)));
      let expected = 0;
      for (const burst of [1, 50, 1, 300, 1]) {
        await until(async () => (await sleepersNow()) === 1, "a service to hold the sleep lock");
        await finishJobs(burst, writers);
        await receiver.waitForRequests((expected += burst));
      }
      const keys = receiver.requests.map((request) => request.headers["idempotency-key"]);
      expect(new Set(keys).size).toBe(expected); // each row once
    } finally {
      for (const service of services) service.kill("SIGTERM");
      await Promise.all(services.map((service) => service.waitForExit()));
    }
  });

  test("the sleep-lock session is killed: rows are still delivered, and the service sleeps again on a new session", async () => {
    const { HttpReceiver } = await import("./helpers/httpReceiver.js");
    const { ServiceProcess } = await import("./helpers/service.js");
    const receiver = await HttpReceiver.start();
    await observer.query("update notifier.notification_templates set notification_configuration = $1", [JSON.stringify({ url: `${receiver.url}/hook` })]);
    await observer.query("update notifier.notifications set status = 'successful' where status = 'pending'");
    // A short poll here: with its lock session gone, the service relies on it for a moment.
    const running = await ServiceProcess.start({ databaseUrl: url, env: { NOTIFIER_POLL_INTERVAL: "0.5" } });
    const sleeperPids = async () =>
      (await observer.query(
        `select pid from pg_locks
          where locktype = 'advisory' and mode = 'ExclusiveLock' and granted
            and (classid::bigint << 32 | objid::bigint) = notifier.sleep_lock_key()`,
      )).rows.map((row) => row.pid as number);
    try {
      await until(async () => (await sleeperPids()).length === 1, "the service to hold the sleep lock");
      const [killed] = await sleeperPids();
      await observer.query("select pg_terminate_backend($1)", [killed]);
      await finishJobs(3, [writer]);
      await receiver.waitForRequests(3);
      await until(async () => {
        const pids = await sleeperPids();
        return pids.length === 1 && pids[0] !== killed;
      }, "the service to sleep again on a new session");
      await finishJobs(1, [writer]);
      await receiver.waitForRequests(4);
    } finally {
      running.kill("SIGTERM");
      await running.waitForExit();
    }
  });
});
