import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import {
  APPLICATION_NAMES, connectionConfig, connectionString, parseDatabaseUrl, slonikConnection, SSL_MODES, type SslMode,
} from "../src/databaseUrl.js";
import { createDatabasePool, sql } from "../src/db.js";
import { createLogger } from "../src/logger.js";
import { runMigrations } from "../src/migrate.js";
import { Listener } from "../src/services/listener.js";
import { SleepLock } from "../src/services/sleepLock.js";
import { afterFile } from "./helpers/afterFile.js";
import { connect, createTestDatabase } from "./helpers/database.js";
import { selfSignedCertificate } from "./helpers/selfSignedCert.js";
import { runCli } from "./helpers/service.js";

// Issue 11 item 10: DATABASE_URL is parsed once (src/databaseUrl.ts) and every connection the
// product opens (slonik pool, LISTEN, sleep lock, graphile-migrate) gets the same TLS settings for
// each libpq sslmode, and an application_name of its own. The test server has no TLS, so the
// modes that require TLS must fail with one clear line on every connection.

const NO_TLS = "The server does not support SSL connections";

let url: string;
let admin: pg.Client;
let caFile: string;

beforeAll(async () => {
  url = await createTestDatabase();
  admin = await connect(url);
  const folder = await mkdtemp(path.join(os.tmpdir(), "pg-job-notifier-tls-"));
  afterFile(() => rm(folder, { recursive: true, force: true }));
  caFile = path.join(folder, "ca.pem");
  await writeFile(caFile, (await selfSignedCertificate()).cert);
});

function withMode(mode: SslMode): string {
  const withSsl = new URL(url);
  withSsl.searchParams.set("sslmode", mode);
  if (mode === "verify-ca" || mode === "verify-full") withSsl.searchParams.set("sslrootcert", caFile);
  return withSsl.toString();
}

/** Opens (and closes) each kind of connection the product opens on `databaseUrl`. */
const opens: Record<string, (databaseUrl: string) => Promise<void>> = {
  async pool(databaseUrl) {
    const pool = await createDatabasePool(databaseUrl, { maximumPoolSize: 1 });
    await pool.end();
  },
  async listen(databaseUrl) {
    const listener = new Listener({ databaseUrl, pollIntervalSeconds: 60 }, createLogger({ level: "silent" }), () => {});
    try {
      await listener.start();
    } finally {
      await listener.stop();
    }
  },
  async "sleep-lock"(databaseUrl) {
    // The sleep lock opens its session on the first sleep() and calls back once it settled.
    let settled!: () => void;
    const rechecked = new Promise<void>((resolve) => (settled = resolve));
    const failures: string[] = [];
    const logger = createLogger({ level: "silent" });
    logger.warn = ((fields: { error?: string }) => failures.push(fields.error ?? "")) as typeof logger.warn;
    const lock = new SleepLock(databaseUrl, logger, () => settled());
    lock.sleep();
    await rechecked;
    await lock.close();
    if (failures.length > 0) throw new Error(failures.join("; "));
  },
  async migrate(databaseUrl) {
    await runMigrations(databaseUrl);
  },
};

describe("every sslmode", () => {
  it.each(SSL_MODES)("%s: is accepted and gives every connection the same TLS settings", (mode) => {
    const settings = {
      pool: slonikConnection(withMode(mode), APPLICATION_NAMES.pool).ssl ?? false,
      listen: connectionConfig(withMode(mode), APPLICATION_NAMES.listen).ssl ?? false,
      sleepLock: connectionConfig(withMode(mode), APPLICATION_NAMES.sleepLock).ssl ?? false,
      // graphile-migrate hands its string to node-postgres, whose own parser decides.
      migrate: (new pg.Client({ connectionString: connectionString(withMode(mode), APPLICATION_NAMES.migrate) }) as unknown as { connectionParameters: pg.ClientConfig }).connectionParameters.ssl ?? false,
    };
    const shape = (ssl: unknown) =>
      ssl === false || ssl === undefined ? "no TLS" : {
        verifiesChain: (ssl as { rejectUnauthorized?: boolean }).rejectUnauthorized !== false,
        verifiesHost: (ssl as { checkServerIdentity?: unknown }).checkServerIdentity === undefined,
        hasCa: Boolean((ssl as { ca?: unknown }).ca),
      };
    const expected = {
      disable: "no TLS", allow: "no TLS", prefer: "no TLS",
      require: { verifiesChain: false, verifiesHost: true, hasCa: false },
      "verify-ca": { verifiesChain: true, verifiesHost: false, hasCa: true },
      "verify-full": { verifiesChain: true, verifiesHost: true, hasCa: true },
    }[mode];
    for (const ssl of Object.values(settings)) expect(shape(ssl)).toEqual(expected);
  });

  it.each(["disable", "allow", "prefer"] as const)("%s: every connection connects to a server without TLS", async (mode) => {
    for (const [name, open] of Object.entries(opens)) await expect(open(withMode(mode)), name).resolves.toBeUndefined();
  });

  it.each(["require", "verify-ca", "verify-full"] as const)("%s: every connection refuses a server without TLS, saying so", async (mode) => {
    for (const [name, open] of Object.entries(opens)) {
      await expect(open(withMode(mode)), name).rejects.toThrow(NO_TLS);
    }
  });

  it("verify-full on the command line: one line saying the server has no TLS, not a stack or a ZodError", async () => {
    for (const command of [["listen"], ["migrate"], ["templates", "list"]]) {
      const { code, stderr } = await runCli(command, { DATABASE_URL: withMode("verify-full") });
      expect(code, command.join(" ")).toBe(1);
      expect(stderr.trim().split("\n"), command.join(" ")).toEqual([expect.stringContaining(NO_TLS)]);
    }
  });

  it("rejects a bad TLS setting at parse time with one line naming it", async () => {
    const bad = (search: string) => `${url}?${search}`;
    expect(() => parseDatabaseUrl(bad("sslmode=verify"))).toThrow(
      "DATABASE_URL sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full");
    expect(() => parseDatabaseUrl(bad("sslmode=verify-ca"))).toThrow("DATABASE_URL sslmode=verify-ca needs sslrootcert");
    expect(() => parseDatabaseUrl(bad("sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"))).toThrow(
      "DATABASE_URL sslrootcert: cannot read /nonexistent/ca.pem (ENOENT)");
    expect(() => parseDatabaseUrl(bad(`sslmode=require&sslcert=${caFile}`))).toThrow("DATABASE_URL sslcert and sslkey must be given together");
    const { code, stderr } = await runCli(["listen"], { DATABASE_URL: bad("sslmode=verify") });
    expect(code).toBe(2);
    expect(stderr.trim().split("\n")).toHaveLength(1);
  });
});

describe("application_name", () => {
  it("names each connection in pg_stat_activity", async () => {
    const pool = await createDatabasePool(url, { maximumPoolSize: 1 });
    afterFile(() => pool.end());
    await pool.query(sql.unsafe`select 1`);
    const listener = new Listener({ databaseUrl: url, pollIntervalSeconds: 60 }, createLogger({ level: "silent" }), () => listener.idle());
    afterFile(() => listener.stop());
    await listener.start();
    const names = async () =>
      (await admin.query("select distinct application_name from pg_stat_activity where datname = current_database() order by 1"))
        .rows.map((row) => row.application_name);
    // The pool keeps its connection; the listener's sleep lock is taken once it is idle.
    const deadline = Date.now() + 20_000;
    while (!(await names()).includes(APPLICATION_NAMES.sleepLock) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await names()).toEqual(expect.arrayContaining([APPLICATION_NAMES.pool, APPLICATION_NAMES.listen, APPLICATION_NAMES.sleepLock]));

    // graphile-migrate's connection: held up behind a lock on its ledger, so it waits where
    // pg_stat_activity shows it.
    const blocker = await connect(url);
    await blocker.query("begin");
    await blocker.query("lock table graphile_migrate.migrations in access exclusive mode");
    const migrating = runMigrations(url);
    const waiting = async () =>
      (await admin.query(
        "select count(*)::int as n from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'",
        [APPLICATION_NAMES.migrate],
      )).rows[0].n;
    const lockDeadline = Date.now() + 20_000;
    while ((await waiting()) === 0 && Date.now() < lockDeadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await waiting()).toBe(1);
    await blocker.query("rollback");
    await migrating;
  });
});
