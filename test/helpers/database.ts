import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { urlForDatabase } from "../../src/databaseUrl.js";
import { afterFile } from "./afterFile.js";

/**
 * Creates a migrated database for the calling test file (a copy of the template made by the
 * global setup) and drops it after the file's tests. Returns its connection string.
 */
export async function createTestDatabase(): Promise<string> {
  return createDatabase(inject("templateDatabase"));
}

/** An empty database (nothing installed) for the calling test file, dropped after its tests. */
export async function createEmptyDatabase(): Promise<string> {
  return createDatabase("template0");
}

async function createDatabase(template: string): Promise<string> {
  const adminUrl = inject("adminUrl");
  const name = `notifier_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name} template ${template}`);
  } finally {
    await admin.end();
  }
  afterFile(async () => {
    const cleanup = new pg.Client({ connectionString: adminUrl });
    await cleanup.connect();
    await cleanup.query(`drop database if exists ${name} with (force)`);
    await cleanup.end();
  });
  return urlForDatabase(adminUrl, name);
}

/** A connected client that is closed after the file's tests. */
export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  afterFile(() => client.end());
  return client;
}
