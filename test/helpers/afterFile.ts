import { afterAll } from "vitest";

/**
 * Cleanups to run after the calling test file's tests, newest first. Helpers register here
 * because vitest silently ignores an afterAll() called inside a beforeAll or a test — where most
 * resources are made. This module's own afterAll is registered when a test file first imports
 * it, while the file is collected, so it always runs.
 */
const cleanups: Array<() => unknown> = [];

afterAll(async () => {
  for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) await cleanup();
});

export function afterFile(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}
