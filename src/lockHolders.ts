import type pg from "pg";

/**
 * Who made a DDL command give up at its lock timeout, in words for its one-line error. Reads
 * pg_locks and pg_stat_activity only (never a query's text, which may hold secrets).
 */

const HOLDER = "format('pid %s, %s for %ss', a.pid, a.state, coalesce(round(extract(epoch from now() - a.xact_start))::text, '?'))";

/**
 * The relations among `names` (schema-qualified; unknown names are ignored) that other sessions
 * hold locks on, e.g. "notifier.jobs (locked by pid 4242, idle in transaction for 63s)".
 */
export async function lockHolders(client: pg.ClientBase, names: readonly string[]): Promise<string[]> {
  const { rows } = await client.query<{ relation: string; holders: string }>(
    `select c.oid::regclass::text as relation, string_agg(distinct ${HOLDER}, '; ') as holders
       from unnest($1::text[]) as name
       join pg_catalog.pg_class c on c.oid = to_regclass(name)
       join pg_catalog.pg_locks l on l.relation = c.oid and l.granted
       join pg_catalog.pg_stat_activity a on a.pid = l.pid
      where l.pid <> pg_backend_pid()
        and c.relkind in ('r', 'p', 'v', 'm', 'f')  -- tables and views, not their indexes
        and c.relnamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
      group by c.oid
      order by 1`,
    [names],
  );
  return rows.map((row) => `${row.relation} (locked by ${row.holders})`);
}

/** The session of this database holding the oldest snapshot (what a concurrent index build waits for), or null. */
export async function oldestSnapshotHolder(client: pg.ClientBase): Promise<string | null> {
  const { rows: [oldest] } = await client.query<{ holder: string }>(
    `select ${HOLDER} as holder from pg_catalog.pg_stat_activity a
      where a.datname = current_database() and a.pid <> pg_backend_pid() and a.backend_xmin is not null
      order by pg_catalog.age(a.backend_xmin) desc limit 1`,
  );
  return oldest?.holder ?? null;
}
