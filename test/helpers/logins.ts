import { randomBytes } from "node:crypto";
import type pg from "pg";
import { afterFile } from "./afterFile.js";
import { connect } from "./database.js";

/**
 * A login role (cluster-wide, so uniquely named: notifier_test_<label>_<random>) that is a member
 * of `groupRole` only, dropped after the file's tests. Returns a client logged in as it, on the
 * database of `url`, whose superuser `admin` creates and drops the role.
 */
export async function loginAs(admin: pg.Client, url: string, groupRole: string, label = "login"): Promise<pg.Client> {
  return connect(await loginUrl(admin, url, groupRole, label));
}

/** The connection string of a new login role as loginAs() makes it. */
export async function loginUrl(admin: pg.Client, url: string, groupRole: string, label = "login"): Promise<string> {
  const name = `notifier_test_${label}_${randomBytes(4).toString("hex")}`;
  const password = randomBytes(12).toString("hex");
  await admin.query(`create role ${name} login password '${password}' in role ${groupRole}`);
  afterFile(async () => {
    await admin.query(`drop owned by ${name}`);
    await admin.query(`drop role ${name}`);
  });
  const login = new URL(url);
  login.username = name;
  login.password = password;
  return login.toString();
}
