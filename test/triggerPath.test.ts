import type pg from "pg";
import { beforeAll, expect, test } from "vitest";
import { createAwxSchema } from "./helpers/awx.js";
import { connect, createTestDatabase } from "./helpers/database.js";

// What a notifying transition runs (migration 000061): the generated write trigger of
// every attachment, and the core functions it calls, transitively. A SQL function with a pinned
// search_path is never inlined, and PostgreSQL before 18 parses and plans its body again in every
// transaction that calls it from PL/pgSQL; on that path every function is PL/pgSQL, which keeps
// its compiled body for the session (an immutable SQL function without arguments, such as
// notifier.sleep_lock_key(), is folded to a constant when its caller's plan is made, and passes).

let db: pg.Client;

beforeAll(async () => {
  db = await connect(await createTestDatabase());
  await createAwxSchema(db);
  await db.query("select notifier.attach_awx()");
});

/** Every notifier.* function named in the bodies of `roots`, and theirs: its language, or "constant". */
async function reachable(roots: string[]): Promise<Map<string, string>> {
  const seen = new Map<string, string>();
  let next = roots;
  while (next.length > 0) {
    const { rows } = await db.query<{ name: string; language: string; source: string }>(
      `select p.proname as name, p.prosrc as source,
              case when l.lanname = 'sql' and p.provolatile = 'i' and p.pronargs = 0 then 'constant' else l.lanname end as language
         from pg_proc p join pg_language l on l.oid = p.prolang
        where p.pronamespace = 'notifier'::regnamespace and p.proname = any ($1)`,
      [next],
    );
    next = [];
    for (const row of rows) {
      if (seen.has(row.name)) continue;
      seen.set(row.name, row.language);
      for (const call of row.source.matchAll(/\bnotifier\.(\w+)\s*\(/g)) {
        if (!seen.has(call[1]!)) next.push(call[1]!);
      }
    }
  }
  return seen;
}

test("a notifying transition calls only PL/pgSQL functions, from the write trigger of every attachment down", async () => {
  const { rows } = await db.query<{ name: string }>(
    `select 'tg_' || stem || '__write' as name from notifier.attachment_registry order by 1`);
  expect(rows.map((row) => row.name)).toEqual(["tg_awx__write", "tg_jobs__write"]);
  const functions = await reachable([...rows.map((row) => row.name), "tg_jobs__stamp_times"]);
  // the decision, the rows, the wake-up and the small helpers are all on the path
  for (const name of ["decide", "create_notifications", "wake_listeners", "is_final_status", "final_trigger_of", "subscription_trigger_of"]) {
    expect(functions.has(name), name).toBe(true);
  }
  const notPlpgsql = [...functions].filter(([, language]) => language !== "plpgsql" && language !== "constant").map(([name, language]) => `${name} (${language})`);
  expect(notPlpgsql).toEqual([]);
});
