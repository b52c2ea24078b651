import type pg from "pg";
import { beforeAll, describe, expect, test } from "vitest";
import { messagesSchema } from "../src/render/messages.js";
import { maskSecrets, MASK, notificationTypes } from "../src/types/index.js";
import { INTEGER_LIMIT, keyRowsOf, type KeyDeclaration, type KeyRow } from "../src/types/keys.js";
import { NOTIFICATION_TYPE_NAMES, type NotificationType } from "../src/types/type.js";
import { connect, createTestDatabase } from "./helpers/database.js";

// One declaration per type (`keys` in src/types/<type>.ts): the service's zod schema derives
// from it, and so do the rows of notifier.notification_type_keys that SQL checks templates
// against when they are written (generated into a migration by scripts/generate-type-keys.ts).
// These tests check that the database's rules and the service's agree on every type: the rows
// equal the declarations, and a corpus of valid and invalid configurations (and messages) is
// accepted or rejected identically by an INSERT into notifier.notification_templates and by the
// zod schema. Iterates the registry, so a new type is covered.

let db: pg.Client;
let dbRows: KeyRow[] = [];

beforeAll(async () => {
  db = await connect(await createTestDatabase());
  const { rows } = await db.query<KeyRow>(
    `select notification_type, key, value_type, required, secret, allowed_values,
            minimum::float8 as minimum, maximum::float8 as maximum, default_value
       from notifier.notification_type_keys order by notification_type, key`,
  );
  dbRows = rows;
});

const registered = Object.values(notificationTypes) as NotificationType[];

let counter = 0;
/** Whether SQL accepts a template: a real INSERT, with the write trigger's check. */
async function sqlAccepts(type: string, configuration: unknown, messages: unknown = null): Promise<boolean> {
  try {
    await db.query(
      "insert into notifier.notification_templates (name, notification_type, notification_configuration, messages) values ($1, $2, $3, $4)",
      [`agree-${counter++}`, type, JSON.stringify(configuration), messages === null ? null : JSON.stringify(messages)],
    );
    return true;
  } catch (error) {
    if ((error as { code?: string }).code !== "22023") throw error;
    return false;
  }
}

test("the registry has a module for each type, keyed by its name", () => {
  expect(Object.keys(notificationTypes).sort()).toEqual([...NOTIFICATION_TYPE_NAMES].sort());
  for (const [name, type] of Object.entries(notificationTypes)) expect(type!.name).toBe(name);
});

test("notifier.notification_type_keys holds exactly the types' declarations", () => {
  const declared = registered
    .flatMap((type) => keyRowsOf(type.name, type.keys))
    .sort((a, b) => a.notification_type.localeCompare(b.notification_type) || a.key.localeCompare(b.key));
  const inDatabase = [...dbRows].sort((a, b) => a.notification_type.localeCompare(b.notification_type) || a.key.localeCompare(b.key));
  // A committed migration is never edited or regenerated. When this fails after a declaration
  // changed, write a NEW migration with the rows of today's declarations:
  //   npx tsx scripts/generate-type-keys.ts migrations/committed/0000NN-type-keys-<why>.sql
  expect(inDatabase, "the database's key rows differ from the declarations: generate a new migration (see this test)").toEqual(declared);
});

/** A value of the declared type that both sides must accept. */
function validValue(declaration: KeyDeclaration): unknown {
  if (declaration.enumeration) return declaration.enumeration[0];
  switch (declaration.type) {
    case "string": return "http://127.0.0.1/x";
    case "integer": return declaration.minimum ?? 1;
    case "number": return Math.min(1.5, declaration.maximum ?? 1.5);
    case "boolean": return true;
    case "object": return { "X-Team": "ops", "X-Count": 2, "X-Flag": true };
    case "list": return ["#ops"];
  }
}

/** Values of a key that both sides must reject, with what is wrong with each. */
function invalidValues(declaration: KeyDeclaration): [string, unknown][] {
  const wrongType: [string, unknown][] = [["a number", 5], ["a string", "5"], ["a list", ["a"]], ["an object", { a: 1 }], ["a boolean", false]];
  const sameType = {
    string: ["a string"], integer: ["a number"], number: ["a number"], boolean: ["a boolean"], object: ["an object"], list: ["a list"],
  }[declaration.type];
  const cases = wrongType.filter(([what]) => !sameType.includes(what));
  switch (declaration.type) {
    case "string":
      if (declaration.enumeration) cases.push(["not one of the enumeration", "PATCH"], ["in the wrong case", declaration.enumeration[0]!.toLowerCase()]);
      if (declaration.required) cases.push(["empty", ""]);
      break;
    case "integer": {
      const minimum = declaration.minimum ?? -INTEGER_LIMIT;
      const maximum = declaration.maximum ?? INTEGER_LIMIT;
      cases.push(["not whole", 1.5], ["below the minimum", minimum - 1], ["above the maximum", maximum + 1]);
      break;
    }
    case "number":
      cases.push(["zero", 0], ["negative", -1]);
      if (declaration.maximum !== undefined) cases.push(["above the maximum", declaration.maximum + 1]);
      break;
    case "object":
      cases.push(["a nested object value", { "X-A": { b: 1 } }], ["a list value", { "X-A": ["b"] }], ["a null value", { "X-A": null }]);
      break;
    case "list":
      cases.push(["[\"\"]", [""]], ["a non-string item", ["#ops", 1]], ["a null item", [null]], ["a nested list", [["#ops"]]]);
      if (declaration.required) cases.push(["empty", []]);
      break;
  }
  return cases;
}

/** Values of a key that both sides must accept besides validValue: the edges of its rules. */
function edgeValues(declaration: KeyDeclaration): [string, unknown][] {
  switch (declaration.type) {
    case "string":
      return declaration.enumeration ? declaration.enumeration.map((value) => [value, value]) : declaration.required ? [] : [["empty", ""]];
    case "integer":
      return [["the minimum", declaration.minimum ?? -INTEGER_LIMIT], ["the maximum", declaration.maximum ?? INTEGER_LIMIT]];
    case "number":
      return [["tiny", 0.001], ...(declaration.maximum !== undefined ? [["the maximum", declaration.maximum] as [string, unknown]] : [])];
    case "object":
      return [["empty", {}]];
    case "list":
      return declaration.required ? [["two items", ["a", "b"]]] : [["empty", []]];
    default:
      return [["false", false]];
  }
}

describe.each(registered.map((type) => [type.name, type] as const))("%s", (name, type) => {
  const keys = Object.entries(type.keys);
  const required = Object.fromEntries(keys.filter(([, d]) => d.required).map(([key, d]) => [key, validValue(d)]));
  const everything = Object.fromEntries(keys.map(([key, d]) => [key, validValue(d)]));

  test("the database and the service accept and reject the same configurations", async () => {
    const cases: [string, Record<string, unknown>, boolean][] = [
      ["only the required keys", required, true],
      ["every key", everything, true],
      ["an unknown key", { ...required, no_such_key: "x" }, false],
      ["a key in the wrong case", { ...required, [`${keys[0]![0].toUpperCase()}_`]: "x" }, false],
    ];
    for (const [key, declaration] of keys) {
      for (const [what, value] of invalidValues(declaration)) cases.push([`${key} ${what}`, { ...everything, [key]: value }, false]);
      for (const [what, value] of edgeValues(declaration)) cases.push([`${key} ${what}`, { ...everything, [key]: value }, true]);
      if (declaration.required) {
        const { [key]: _, ...missing } = required;
        cases.push([`${key} missing`, missing, false], [`${key} null`, { ...required, [key]: null }, false]);
      } else {
        cases.push([`${key} null (absent)`, { ...required, [key]: null }, true]);
      }
    }
    const disagreements: string[] = [];
    for (const [what, configuration, accepted] of cases) {
      const sql = await sqlAccepts(name, configuration);
      const zod = type.configurationSchema.safeParse(configuration).success;
      if (sql !== accepted || zod !== accepted) disagreements.push(`${what}: expected ${accepted}, SQL ${sql}, zod ${zod}`);
    }
    expect(disagreements).toEqual([]);
    expect(cases.length).toBeGreaterThan(10);
  });

  test("maskSecrets hides every secret key and nothing else", () => {
    const masked = maskSecrets(name, everything) as Record<string, unknown>;
    for (const [key, declaration] of keys) {
      if (declaration.secret) expect(masked[key], key).toBe(MASK);
      else if (declaration.type !== "object") expect(masked[key], key).toEqual(everything[key]);
    }
  });
});

test("the database and the service accept and reject the same messages", async () => {
  const part = { message: "{{ job.name }}", body: "b" };
  const cases: [string, unknown, boolean][] = [
    ["none", null, true],
    ["every trigger", { started: part, success: part, error: part, canceled: part }, true],
    ["nulls", { started: null, error: { message: null, body: null }, workflow_approval: null }, true],
    ["only a message", { canceled: { message: "x" } }, true],
    ["every approval state", { workflow_approval: { running: part, approved: part, denied: part, timed_out: part } }, true],
    ["an approval state null", { workflow_approval: { denied: null } }, true],
    ["an empty object", {}, true],
    ["not an object", "x", false],
    ["a list", [part], false],
    ["an unknown trigger", { finished: part }, false],
    ["approval as a trigger key", { approval: part }, false],
    ["an unknown part", { error: { subject: "x" } }, false],
    ["a part not a string", { error: { body: { a: 1 } } }, false],
    ["a message not an object", { success: "text" }, false],
    ["canceled not an object", { canceled: ["x"] }, false],
    ["workflow_approval not an object", { workflow_approval: "x" }, false],
    ["an unknown approval state", { workflow_approval: { pending: part } }, false],
    ["a trigger inside workflow_approval", { workflow_approval: { error: part } }, false],
    ["an approval message not an object", { workflow_approval: { approved: "x" } }, false],
    ["an approval part not a string", { workflow_approval: { timed_out: { message: 1 } } }, false],
    ["an unknown approval part", { workflow_approval: { running: { text: "x" } } }, false],
  ];
  const disagreements: string[] = [];
  for (const [what, messages, accepted] of cases) {
    const sql = await sqlAccepts("webhook", { url: "http://127.0.0.1/x" }, messages);
    const zod = messagesSchema.safeParse(messages).success;
    if (sql !== accepted || zod !== accepted) disagreements.push(`${what}: expected ${accepted}, SQL ${sql}, zod ${zod}`);
  }
  expect(disagreements).toEqual([]);
});

test("maskSecrets also hides secret-looking entries of nested objects (webhook headers)", () => {
  const masked = maskSecrets("webhook", {
    url: "https://hooks.example.com/x",
    password: "pw",
    username: "me",
    headers: { Authorization: "Bearer abc", "X-Api-Key": "k", "X-Team": "ops" },
  });
  expect(masked).toEqual({
    url: "https://hooks.example.com/x",
    password: MASK,
    username: "me",
    headers: { Authorization: MASK, "X-Api-Key": MASK, "X-Team": "ops" },
  });
  // An unknown type: names that look secret are hidden.
  expect(maskSecrets("fax", { token: "t", number: "1" })).toEqual({ token: MASK, number: "1" });
});

test("every key that carries a credential is declared secret, hook URLs included", () => {
  const secrets = Object.fromEntries(registered.map((type) => [type.name, [...type.secretKeys].sort()]));
  expect(secrets).toMatchObject({
    mattermost: ["mattermost_url"],
    rocketchat: ["rocketchat_url"],
    teams: ["teams_url"],
    awssns: ["aws_secret_access_key", "aws_session_token"],
    slack: ["token"],
    pagerduty: ["service_key", "token"],
  });
});
