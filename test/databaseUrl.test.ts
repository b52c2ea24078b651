import { appendFile, chown, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import {
  APPLICATION_NAMES, connectionConfig, connectionString, parseDatabaseUrl, slonikConnection, SSL_MODES, type SslMode,
} from "../src/databaseUrl.js";
import { createDatabasePool, createHotPathPool, sql } from "../src/db.js";
import { startEmbeddedPostgres, type EmbeddedServer } from "../src/embedded.js";
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
  it.each(SSL_MODES)("%s: is accepted and gives every connection the same TLS settings", async (mode) => {
    const migrateUrl = await connectionString(withMode(mode), APPLICATION_NAMES.migrate);
    const settings = {
      pool: (await slonikConnection(withMode(mode), APPLICATION_NAMES.pool)).ssl ?? false,
      listen: (await connectionConfig(withMode(mode), APPLICATION_NAMES.listen)).ssl ?? false,
      sleepLock: (await connectionConfig(withMode(mode), APPLICATION_NAMES.sleepLock)).ssl ?? false,
      // graphile-migrate hands its string to node-postgres, whose own parser decides.
      migrate: (new pg.Client({ connectionString: migrateUrl }) as unknown as { connectionParameters: pg.ClientConfig }).connectionParameters.ssl ?? false,
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
    const delivery = await createHotPathPool(url);
    afterFile(() => delivery.end());
    await delivery.query("select 1");
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
    expect(await names()).toEqual(expect.arrayContaining([APPLICATION_NAMES.pool, APPLICATION_NAMES.delivery, APPLICATION_NAMES.listen, APPLICATION_NAMES.sleepLock]));

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

describe("against a server with TLS", () => {
  let server: EmbeddedServer;
  let tlsCa: string;
  let otherCa: string;
  beforeAll(async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), "pg-job-notifier-tls-server-"));
    afterFile(() => rm(folder, { recursive: true, force: true }));
    const dataDir = path.join(folder, "data");
    // Made first without TLS, then given a key, a certificate for 127.0.0.1 and localhost, and a
    // second loopback address the certificate does not name.
    const made = await startEmbeddedPostgres({ dataDir, persistent: true });
    await made.stop();
    const certificate = await selfSignedCertificate();
    const owner = await stat(dataDir);
    for (const [file, content] of [["server.key", certificate.key], ["server.crt", certificate.cert]] as const) {
      await writeFile(path.join(dataDir, file), content, { mode: 0o600 });
      await chown(path.join(dataDir, file), owner.uid, owner.gid);
    }
    await appendFile(path.join(dataDir, "pg_hba.conf"), "\nhost all all 127.0.0.2/32 scram-sha-256\n");
    // Database tls_only refuses unencrypted connections (the first line that matches decides).
    const hba = path.join(dataDir, "pg_hba.conf");
    await writeFile(hba, `hostnossl tls_only all all reject\n${await readFile(hba, "utf8")}`);
    server = await startEmbeddedPostgres({
      dataDir, persistent: false, settings: { ssl: "on", listen_addresses: "127.0.0.1,127.0.0.2" },
    });
    afterFile(() => server.stop());
    await runMigrations(server.url); // the sleep lock's functions
    const setup = new pg.Client({ connectionString: server.url });
    await setup.connect();
    await setup.query("create database tls_only");
    await setup.end();
    await runMigrations(tlsUrl("require", { database: "tls_only" }));
    tlsCa = path.join(folder, "ca.pem");
    await writeFile(tlsCa, certificate.cert);
    otherCa = path.join(folder, "other-ca.pem");
    await writeFile(otherCa, (await selfSignedCertificate()).cert);
  });

  function tlsUrl(mode: string, options: { ca?: string; host?: string; database?: string } = {}): string {
    const target = new URL(server.url);
    if (options.host) target.hostname = options.host;
    if (options.database) target.pathname = `/${options.database}`;
    target.searchParams.set("sslmode", mode);
    if (options.ca) target.searchParams.set("sslrootcert", options.ca);
    return target.toString();
  }

  /** Whether each named connection of this server uses TLS, as pg_stat_ssl says. */
  async function tlsOfConnections(): Promise<Record<string, boolean>> {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        `select a.application_name, bool_and(s.ssl) as ssl from pg_stat_activity a join pg_stat_ssl s using (pid)
          where a.application_name like 'pg-job-notifier/%' group by 1`);
      return Object.fromEntries(rows.map((row) => [row.application_name, row.ssl]));
    } finally {
      await client.end();
    }
  }

  it.each([
    ["require", {}],
    ["require", { ca: "tls" }],
    ["verify-ca", { ca: "tls" }],
    ["verify-ca", { ca: "tls", host: "127.0.0.2" }],
    ["verify-full", { ca: "tls" }],
  ])("%s %j: every connection connects, over TLS", async (mode, options) => {
    const target = tlsUrl(mode, withCa(options));
    for (const [name, open] of Object.entries(opens)) await expect(open(target), name).resolves.toBeUndefined();
    // A pool kept open shows its TLS in pg_stat_ssl.
    const pool = await createDatabasePool(target, { maximumPoolSize: 1 });
    await pool.query(sql.unsafe`select 1`);
    expect((await tlsOfConnections())[APPLICATION_NAMES.pool]).toBe(true);
    await pool.end();
  });

  it.each([["disable", false], ["allow", false], ["prefer", true]] as const)(
    "%s: every connection connects, TLS %s (prefer: TLS when the server has it, as libpq)", async (mode, tls) => {
      const target = tlsUrl(mode);
      for (const [name, open] of Object.entries(opens)) await expect(open(target), name).resolves.toBeUndefined();
      const pool = await createDatabasePool(target, { maximumPoolSize: 1 });
      await pool.query(sql.unsafe`select 1`);
      expect((await tlsOfConnections())[APPLICATION_NAMES.pool]).toBe(tls);
      await pool.end();
    });

  it.each(["allow", "prefer"])("%s: every connection connects, over TLS, to a database that refuses plain connections", async (mode) => {
    const target = tlsUrl(mode, { database: "tls_only" });
    for (const [name, open] of Object.entries(opens)) await expect(open(target), name).resolves.toBeUndefined();
    const pool = await createDatabasePool(target, { maximumPoolSize: 1 });
    await pool.query(sql.unsafe`select 1`);
    expect((await tlsOfConnections())[APPLICATION_NAMES.pool]).toBe(true);
    await pool.end();
    await expect(opens.pool!(tlsUrl("disable", { database: "tls_only" }))).rejects.toThrow(/no encryption/);
  });

  it.each([
    ["verify-full", { ca: "other" }, /self[- ]signed certificate|unable to verify/],
    ["verify-ca", { ca: "other" }, /self[- ]signed certificate|unable to verify/],
    ["verify-full", { ca: "tls", host: "127.0.0.2" }, /does not match certificate's altnames/],
  ])("%s %j: every connection refuses the server, in one line", async (mode, options, reason) => {
    const target = tlsUrl(mode, withCa(options));
    for (const [name, open] of Object.entries(opens)) {
      const error = await open(target).then(() => null, (failure: Error) => failure);
      expect(error?.message, name).toMatch(reason);
      expect(error!.message.split("\n"), name).toHaveLength(1);
    }
  });

  /** it.each's table is built before beforeAll made the files: "tls" (the server's CA) and "other" name them. */
  function withCa(options: { ca?: string; host?: string }): { ca?: string; host?: string } {
    return { ...options, ca: options.ca === "tls" ? tlsCa : options.ca === "other" ? otherCa : undefined };
  }
});
