import { execFile } from "node:child_process";
import path from "node:path";
import { PACKAGE_ROOT } from "../../src/migrate.js";

const CLI = path.join(PACKAGE_ROOT, "bin", "pg-job-notifier");

export interface CliResult {
  /** The exit code (0 ok, 1 operation failed, 2 bad usage). */
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `bin/pg-job-notifier` to completion with `args`, against `databaseUrl`
 * (DATABASE_URL), and returns its exit code and output. Never throws on a non-zero exit.
 */
export async function runCli(databaseUrl: string, args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      CLI,
      args,
      { cwd: PACKAGE_ROOT, env: { ...process.env, DATABASE_URL: databaseUrl, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") return reject(error);
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}
