import {
  createPool,
  sql,
  createTypeParserPreset,
  SchemaValidationError,
  type DatabasePool,
  type Interceptor,
} from "slonik";
import pg from "pg";
import { APPLICATION_NAMES, connectionConfig, slonikConnection } from "./databaseUrl.js";

export { sql } from "slonik";
export type { CommonQueryMethods, DatabasePool } from "slonik";

/** A timestamp column ("n.sent_at") as epoch milliseconds (NULL stays NULL), whatever type parsers the pool has. */
export const epochMs = (column: string) =>
  sql.fragment`(extract(epoch from ${sql.identifier(column.split("."))}) * 1000)::float8`;

/** A timestamp column ("n.sent_at") as ISO 8601 text in UTC, to the second (NULL stays NULL). */
export const utcIsoText = (column: string) =>
  sql.fragment`to_char(${sql.identifier(column.split("."))} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`;

/** Connections the service needs: claims, completions, lease extensions, the sweeper, metrics. */
export const DEFAULT_POOL_SIZE = 6;

export interface DatabaseOptions {
  /** Largest number of open connections (default DEFAULT_POOL_SIZE). */
  maximumPoolSize?: number;
}

/**
 * Makes `sql.type(zodSchema)` check (and transform) every row; slonik does nothing with the
 * schema unless an interceptor applies it.
 */
const resultParserInterceptor: Interceptor = {
  name: "result-parser",
  transformRow: (context, query, row) => {
    if (!context.resultParser) return row;
    const parsed = context.resultParser.safeParse(row);
    if (!parsed.success) throw new SchemaValidationError(query, row, parsed.error.issues);
    return parsed.data as typeof row;
  },
};

/**
 * A slonik pool on `url`. bigint columns arrive as JavaScript numbers (ids and counts stay far
 * below 2^53; cast to text where an id leaves the process). Connections are not reset between
 * uses (the service keeps no session state), which saves a round trip per query. TLS and
 * application_name as for every connection (src/databaseUrl.ts).
 */
export async function createDatabasePool(url: string, options: DatabaseOptions = {}): Promise<DatabasePool> {
  const connection = await slonikConnection(url, APPLICATION_NAMES.pool);
  const pool = await createPool(connection.uri, {
    ...(connection.ssl ? { ssl: connection.ssl } : {}),
    interceptors: [resultParserInterceptor],
    maximumPoolSize: options.maximumPoolSize ?? DEFAULT_POOL_SIZE,
    idleTimeout: 60_000,
    resetConnection: async () => {},
    typeParsers: [
      ...createTypeParserPreset().filter((parser) => parser.name !== "int8"),
      { name: "int8", parse: (value: string) => Number(value) },
    ],
  });
  // slonik also emits every query error on the pool; the caller gets it as a rejection already,
  // and an unhandled 'error' event would end the process.
  pool.on("error", () => {});
  return pool;
}

/** What the delivery hot path's statements run on: a plain `pg` pool (or one client, in tests). */
export type HotPathDb = Pick<pg.Pool, "query">;

/** Connections of the hot-path pool: a claim, a batch of outcomes and a lease extension at once. */
export const HOT_PATH_POOL_SIZE = 3;

/** bigint (int8) columns as JavaScript numbers, as in the slonik pool; every other type as pg parses it. */
const hotPathTypes = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * The delivery hot path's own pool (claims, outcomes, lease extensions and releases): plain `pg`
 * with named statements, prepared once per connection, and none of slonik's per-query work (its
 * interceptors, tracing spans and value serialisers cost about 7 % of the service's CPU per row
 * in a profile of the delivery benchmark). Same login and TLS as the pool, its own application_name.
 */
export async function createHotPathPool(url: string): Promise<pg.Pool> {
  const pool = new pg.Pool({
    ...(await connectionConfig(url, APPLICATION_NAMES.delivery)),
    max: HOT_PATH_POOL_SIZE,
    idleTimeoutMillis: 60_000,
    types: hotPathTypes,
  });
  // An idle connection that fails is dropped by the pool; the next query opens another.
  pool.on("error", () => {});
  return pool;
}
