/**
 * The write ratios: what the product's triggers cost the host system's own writes.
 *
 * 16 closed-loop clients (one pg connection each, prepared statements) run the same transactions
 * against the product's tables (schema notifier) and against identical tables without triggers
 * (schema bare, see createBareTables), in alternating rounds so that drift on a shared machine
 * hits both sides alike. A Node driver rather than pgbench: it needs nothing beyond `npm install`
 * (the embedded server ships no pgbench), and each transaction here costs the server far more
 * (a bulk insert, or a commit flushed to disk) than the client spends issuing it.
 */
import pg from "pg";
import { adminQuery } from "./database.js";

export const WRITE_CLIENTS = 16;
/** Rows per bulk insert of job events, as a callback receiver saves them. */
const EVENTS_PER_INSERT = 25;
const EVENT_DATA = JSON.stringify({
  host: "web-01.example.com", task: "Install packages", role: "common", play: "site.yml",
  res: { changed: false, msg: "All items completed", results: [{ item: "nginx", rc: 0 }] },
});

export interface Side {
  /** Transactions per second over all rounds. */
  per_s: number;
  transactions: number;
  seconds: number;
}

export interface RatioResult {
  ratio: number;
  product: Side;
  bare: Side;
  /** Further product variants measured in the same rounds (e.g. the old always-notify wake-up). */
  variants: Record<string, Side & { ratio: number }>;
}

interface Variant {
  name: string;
  /** Called before each of the variant's rounds (round -1 is the warm-up). */
  prepare?: (admin: pg.Client, round: number) => Promise<void>;
  /** One transaction on `client`; false when the variant has run out of work. */
  transaction: (client: pg.Client, clientIndex: number, iteration: number) => Promise<boolean>;
}

async function openClients(url: string): Promise<pg.Client[]> {
  return Promise.all(
    Array.from({ length: WRITE_CLIENTS }, async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      return client;
    }),
  );
}

/** Runs the variants in alternating rounds of `roundMs` each; returns per-variant totals. */
export async function interleave(url: string, variants: Variant[], rounds: number, roundMs: number): Promise<Map<string, Side>> {
  const clients = await openClients(url);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const totals = new Map(variants.map((v) => [v.name, { transactions: 0, ms: 0 }]));
  try {
    // Round -1 warms caches and connections up and is not counted.
    for (let round = -1; round < rounds; round++) {
      // Alternate the order too, so neither side always runs first.
      const order = round % 2 === 0 ? variants : [...variants].reverse();
      for (const variant of order) {
        await variant.prepare?.(admin, round);
        await admin.query("checkpoint");
        const started = performance.now();
        const deadline = started + (round < 0 ? roundMs / 2 : roundMs);
        let transactions = 0;
        await Promise.all(
          clients.map(async (client, index) => {
            for (let iteration = 0; performance.now() < deadline; iteration++) {
              if (!(await variant.transaction(client, index, iteration))) return;
              transactions++;
            }
          }),
        );
        if (round < 0) continue;
        const total = totals.get(variant.name)!;
        total.transactions += transactions;
        total.ms += performance.now() - started;
      }
    }
  } finally {
    await Promise.all([...clients, admin].map((client) => client.end()));
  }
  return new Map([...totals].map(([name, t]) => [name, { per_s: t.transactions / (t.ms / 1000), transactions: t.transactions, seconds: t.ms / 1000 }]));
}

export function ratioOf(sides: Map<string, Side>, extra: string[] = []): RatioResult {
  const product = sides.get("notifier")!;
  const bare = sides.get("bare")!;
  return {
    ratio: product.per_s / bare.per_s,
    product,
    bare,
    variants: Object.fromEntries(extra.map((name) => [name, { ...sides.get(name)!, ratio: sides.get(name)!.per_s / bare.per_s }])),
  };
}

/**
 * Ordinary writes, which notify no one: bulk inserts of non-wrapup job events, alternating with
 * status changes between pending and waiting. Each client works on jobs of its own (no row-lock
 * waits). Transactions per second, product ÷ bare.
 */
export async function measureOrdinaryWrites(url: string, rounds: number, roundMs: number): Promise<RatioResult> {
  const jobsPerClient = 20;
  for (const schema of ["notifier", "bare"]) {
    await adminQuery(url, `insert into ${schema}.jobs (status, name, job_template_id) select 'pending', 'ordinary ' || g, 1 from generate_series(1, $1::int) g`, [WRITE_CLIENTS * jobsPerClient]);
  }
  const firstIds = new Map<string, number>();
  for (const schema of ["notifier", "bare"]) {
    firstIds.set(schema, (await adminQuery(url, `select min(id)::int as id from ${schema}.jobs`)).rows[0].id);
  }
  const sideFor = (schema: string): Variant => ({
    name: schema,
    transaction: async (client, clientIndex, iteration) => {
      const jobId = firstIds.get(schema)! + clientIndex * jobsPerClient + (iteration >> 1) % jobsPerClient;
      if (iteration % 2 === 0) {
        await client.query({
          name: `events_${schema}`,
          text: `insert into ${schema}.job_events (job_id, counter, event, event_data)
                 select $1, g, 'runner_on_ok', $2::jsonb from generate_series(1, ${EVENTS_PER_INSERT}) g`,
          values: [jobId, EVENT_DATA],
        });
      } else {
        await client.query({
          name: `status_${schema}`,
          text: `update ${schema}.jobs set status = case status when 'pending' then 'waiting' else 'pending' end where id = $1`,
          values: [jobId],
        });
      }
      return true;
    },
  });
  return ratioOf(await interleave(url, [sideFor("notifier"), sideFor("bare")], rounds, roundMs));
}

/** The wake-up as first shipped (migration 5): NOTIFY from every transaction that creates rows. */
const ALWAYS_NOTIFY = `create or replace function notifier.wake_listeners() returns void
  language sql set search_path = pg_catalog as $$ select pg_notify('notifier', 'pending') $$`;

/**
 * The bare UPDATE plus, in the same statement, the outbox row the product records (same columns,
 * indexes and foreign keys, no triggers): the floor of any design that records each notification
 * in the transaction that decides it. product ÷ this = what the protocol's triggers cost.
 */
const BARE_FINISH_WITH_OUTBOX = `
  with finished as (update bare.jobs set status = 'successful', finished_at = now() where id = $1 returning *)
  insert into bare.notifications (job_id, notification_template_id, trigger, notification_type, job_snapshot)
  select finished.id, t.id, 'success', t.notification_type, to_jsonb(finished)
    from finished cross join notifier.notification_templates t`;

export interface NotifyingOptions {
  /** Also run the product with the old wake-up (NOTIFY in every transaction) in the same rounds. */
  compareAlwaysNotify: boolean;
  /** The subscribed webhook's URL (a service running meanwhile sends there). */
  webhookUrl: string;
}

/**
 * Notifying transitions: `running` -> `successful` on jobs that need no wrapup, each creating one
 * notification row (one webhook template subscribed to success), vs the same UPDATE on bare.jobs.
 * Every transaction finishes a different job, taken from a pre-inserted pool. A LISTEN session of
 * the benchmark counts the NOTIFYs (one per notifying transaction) during each product variant.
 */
export async function measureNotifyingTransitions(
  url: string, rounds: number, roundMs: number, jobsPerSide: number, options: NotifyingOptions,
): Promise<RatioResult & { notified: Record<string, number> }> {
  const currentWakeUp = (await adminQuery(url, `select pg_get_functiondef('notifier.wake_listeners()'::regprocedure) as def`)).rows[0].def as string;
  const productSides = options.compareAlwaysNotify ? 2 : 1;
  await adminQuery(url, `insert into notifier.notification_templates (name, notification_type, notification_configuration)
                         values ('bench', 'webhook', json_build_object('url', $1::text))`, [options.webhookUrl]);
  await adminQuery(url, `insert into notifier.subscriptions (notification_template_id, trigger) select id, 'success' from notifier.notification_templates`);
  const pools = new Map<string, { next: number; last: number }>();
  for (const schema of ["notifier", "bare"]) {
    // bare serves two sides: the bare UPDATE, and the same UPDATE writing the outbox row by hand.
    const count = jobsPerSide * (schema === "notifier" ? productSides : 2);
    const range = await adminQuery(
      url,
      `with inserted as (
         insert into ${schema}.jobs (status, name, job_template_id, wrapup_dispatched)
         select 'running', 'transition ' || g, 1, false from generate_series(1, $1::int) g returning id)
       select min(id)::int as first, max(id)::int as last from inserted`,
      [count],
    );
    pools.set(schema, { next: range.rows[0].first, last: range.rows[0].last });
  }
  await adminQuery(url, "vacuum analyze");

  const listener = new pg.Client({ connectionString: url });
  await listener.connect();
  await listener.query("listen notifier");
  let current = "";
  const notified: Record<string, number> = {};
  listener.on("notification", () => (notified[current] = (notified[current] ?? 0) + 1));

  const finish = (schema: string) => `update ${schema}.jobs set status = 'successful' where id = $1`;
  const sideFor = (name: string, schema: string, wakeUp?: string, statement = finish(schema)): Variant => ({
    name,
    prepare: async (admin, round) => {
      if (wakeUp) await admin.query(wakeUp);
      current = round < 0 ? "warm-up" : name;
    },
    transaction: async (client) => {
      const pool = pools.get(schema)!;
      if (pool.next > pool.last) return false;
      const jobId = pool.next++;
      await client.query({ name: `finish_${name}`, text: statement, values: [jobId] });
      return true;
    },
  });
  const variants = [
    sideFor("notifier", "notifier", options.compareAlwaysNotify ? currentWakeUp : undefined),
    sideFor("bare", "bare"),
    sideFor("bare_with_outbox", "bare", undefined, BARE_FINISH_WITH_OUTBOX),
  ];
  if (options.compareAlwaysNotify) variants.push(sideFor("notifier_always_notify", "notifier", ALWAYS_NOTIFY));
  try {
    const extra = ["bare_with_outbox", ...(options.compareAlwaysNotify ? ["notifier_always_notify"] : [])];
    const result = ratioOf(await interleave(url, variants, rounds, roundMs), extra);
    current = "after";
    await listener.query("select 1"); // collects the notifications still on their way
    const created = (await adminQuery(url, "select count(*)::int as n from notifier.notifications")).rows[0].n as number;
    const finished = (await adminQuery(url, "select count(*)::int as n from notifier.jobs where status = 'successful'")).rows[0].n as number;
    if (created !== finished) throw new Error(`notifying transitions: ${finished} jobs finished but ${created} notifications created`);
    return { ...result, notified };
  } finally {
    await listener.end();
  }
}
