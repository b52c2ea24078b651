import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../src/embedded.js";
import { urlForDatabase } from "../src/databaseUrl.js";
import { runMigrations } from "../src/migrate.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** A superuser connection string on the test server (any database). */
    adminUrl: string;
    /** A migrated database that each test file clones (CREATE DATABASE … TEMPLATE). */
    templateDatabase: string;
  }
}

/**
 * Uses TEST_DATABASE_URL (or DATABASE_URL) when set; otherwise starts an embedded PostgreSQL in
 * a temporary folder, so `npm test` needs nothing but `npm install`. Migrates one template
 * database that test files clone, so files run in parallel, each in a database of its own.
 */
export default async function setup(project: TestProject) {
  const givenUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  let stopServer = async () => {};
  let adminUrl: string;
  if (givenUrl) {
    adminUrl = givenUrl;
  } else {
    const folder = await mkdtemp(path.join(os.tmpdir(), "pg-job-notifier-test-"));
    const server = await startEmbeddedPostgres({
      dataDir: path.join(folder, "data"),
      persistent: false,
      // Durability is not under test here (crash tests start servers of their own).
      settings: { max_connections: 400, fsync: "off", synchronous_commit: "off", full_page_writes: "off" },
    }).catch(async (error: Error) => {
      await rm(folder, { recursive: true, force: true });
      throw error;
    });
    adminUrl = server.url;
    stopServer = async () => {
      await server.stop();
      await rm(folder, { recursive: true, force: true });
    };
  }

  const templateDatabase = `notifier_test_template_${process.pid}`;
  await adminQuery(adminUrl, `drop database if exists ${templateDatabase}`);
  await adminQuery(adminUrl, `create database ${templateDatabase}`);
  await runMigrations(urlForDatabase(adminUrl, templateDatabase));

  project.provide("adminUrl", adminUrl);
  project.provide("templateDatabase", templateDatabase);

  return async () => {
    await adminQuery(adminUrl, `drop database if exists ${templateDatabase} with (force)`);
    await stopServer();
  };
}

async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
