import type pg from "pg";
import { z } from "zod";
import { beforeAll, describe, expect, test } from "vitest";
import { maskSecrets, MASK, notificationTypes } from "../src/types/index.js";
import { NOTIFICATION_TYPE_NAMES, type NotificationType } from "../src/types/type.js";
import { connect, createTestDatabase } from "./helpers/database.js";

// Every registered type's zod schema must agree with notifier.notification_type_keys, the rows
// SQL checks templates against when they are written: otherwise a template SQL accepted would
// fail at send time, or the other way round. Iterates the registry, so new types are covered.

interface KeyRow {
  key: string;
  value_type: "string" | "integer" | "number" | "boolean" | "object" | "list";
  required: boolean;
  secret: boolean;
  allowed_values: string[] | null;
}

let db: pg.Client;
const keyRows = new Map<string, KeyRow[]>();

beforeAll(async () => {
  db = await connect(await createTestDatabase());
  const { rows } = await db.query<KeyRow & { notification_type: string }>(
    "select notification_type, key, value_type, required, secret, allowed_values from notifier.notification_type_keys order by key",
  );
  for (const row of rows) keyRows.set(row.notification_type, [...(keyRows.get(row.notification_type) ?? []), row]);
});

const registered = Object.values(notificationTypes) as NotificationType[];

/** The z.object of a configuration schema, under any refinements. */
function objectSchema(schema: z.ZodTypeAny): z.AnyZodObject {
  let current = schema;
  while (current instanceof z.ZodEffects) current = current.innerType();
  if (!(current instanceof z.ZodObject)) throw new Error("a configuration schema must be a z.object");
  return current;
}

/** The type of values a key accepts, in notification_type_keys' terms. */
function valueType(field: z.ZodTypeAny): string {
  let inner = field;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable || inner instanceof z.ZodDefault || inner instanceof z.ZodEffects) {
    inner = inner instanceof z.ZodEffects ? inner.innerType() : inner._def.innerType;
  }
  if (inner instanceof z.ZodString || inner instanceof z.ZodEnum) return "string";
  if (inner instanceof z.ZodNumber) return inner.isInt ? "integer" : "number";
  if (inner instanceof z.ZodBoolean) return "boolean";
  if (inner instanceof z.ZodRecord || inner instanceof z.ZodObject) return "object";
  if (inner instanceof z.ZodArray) return "list";
  return inner.constructor.name;
}

/** A value of the key's type that both sides must accept. */
function validValue(row: KeyRow): unknown {
  if (row.allowed_values) return row.allowed_values[0];
  return { string: "http://127.0.0.1/x", integer: 1, number: 1.5, boolean: true, object: { a: "b" }, list: ["http://127.0.0.1/x"] }[row.value_type];
}

/** A value of the wrong type that both sides must reject. */
function invalidValue(row: KeyRow): unknown {
  return { string: 5, integer: 1.5, number: "1", boolean: "yes", object: ["a"], list: "a" }[row.value_type];
}

function validConfiguration(rows: KeyRow[], only: (row: KeyRow) => boolean): Record<string, unknown> {
  return Object.fromEntries(rows.filter(only).map((row) => [row.key, validValue(row)]));
}

async function sqlAccepts(type: string, configuration: unknown): Promise<boolean> {
  try {
    await db.query("select notifier.validate_notification_template($1, $2::jsonb, null)", [type, JSON.stringify(configuration)]);
    return true;
  } catch {
    return false;
  }
}

test("the registry has a module for each type SQL knows, keyed by its name", () => {
  expect(Object.keys(notificationTypes).sort()).toEqual([...keyRows.keys()].sort());
  for (const [name, type] of Object.entries(notificationTypes)) {
    expect(type!.name).toBe(name);
    expect(NOTIFICATION_TYPE_NAMES).toContain(name);
    expect(keyRows.has(name), `notification_type_keys has rows for ${name}`).toBe(true);
  }
});

describe.each(registered.map((type) => [type.name, type] as const))("%s", (name, type) => {
  const rows = () => keyRows.get(name) ?? [];
  const shape = () => objectSchema(type.configurationSchema).shape as Record<string, z.ZodTypeAny>;

  test("declares exactly the keys, required keys, value types and secrets of notification_type_keys", () => {
    const sorted = (keys: string[]) => [...keys].sort();
    expect(sorted(Object.keys(shape()))).toEqual(sorted(rows().map((row) => row.key)));
    expect(sorted(Object.keys(shape()).filter((key) => !shape()[key]!.isOptional()))).toEqual(
      sorted(rows().filter((row) => row.required).map((row) => row.key)),
    );
    expect(Object.fromEntries(Object.entries(shape()).map(([key, field]) => [key, valueType(field)]))).toEqual(
      Object.fromEntries(rows().map((row) => [row.key, row.value_type])),
    );
    expect(sorted([...type.secretKeys])).toEqual(sorted(rows().filter((row) => row.secret).map((row) => row.key)));
  });

  test("enumerations allow the same values", () => {
    for (const row of rows().filter((r) => r.allowed_values)) {
      let field = shape()[row.key]!;
      while (field instanceof z.ZodOptional || field instanceof z.ZodNullable) field = field._def.innerType;
      expect(field, row.key).toBeInstanceOf(z.ZodEnum);
      expect([...(field as z.ZodEnum<[string, ...string[]]>).options].sort()).toEqual([...row.allowed_values!].sort());
    }
  });

  test("accepts and rejects the same configurations as SQL", async () => {
    const verdicts = async (configuration: Record<string, unknown>) => ({
      sql: await sqlAccepts(name, configuration),
      zod: type.configurationSchema.safeParse(configuration).success,
    });
    const required = validConfiguration(rows(), (row) => row.required);
    const everything = validConfiguration(rows(), () => true);
    const cases: [string, Record<string, unknown>, boolean][] = [
      ["only the required keys", required, true],
      ["every key", everything, true],
      ["an unknown key", { ...required, no_such_key: "x" }, false],
    ];
    for (const row of rows()) {
      cases.push([`${row.key} of the wrong type`, { ...everything, [row.key]: invalidValue(row) }, false]);
      if (row.required) {
        const { [row.key]: _, ...missing } = required;
        cases.push([`${row.key} missing`, missing, false]);
        cases.push([`${row.key} null`, { ...required, [row.key]: null }, false]);
        if (row.value_type === "string" || row.value_type === "list") {
          cases.push([`${row.key} empty`, { ...required, [row.key]: row.value_type === "list" ? [] : "" }, false]);
        }
      } else {
        cases.push([`${row.key} null (absent)`, { ...required, [row.key]: null }, true]);
      }
      if (row.value_type === "number") cases.push([`${row.key} not positive`, { ...everything, [row.key]: 0 }, false]);
    }
    for (const [what, configuration, accepted] of cases) {
      expect(await verdicts(configuration), `${name}: ${what}`).toEqual({ sql: accepted, zod: accepted });
    }
  });

  test("maskSecrets hides every secret key and nothing else", () => {
    const configuration = validConfiguration(rows(), () => true);
    const masked = maskSecrets(name, configuration) as Record<string, unknown>;
    for (const row of rows()) {
      if (row.secret) expect(masked[row.key], row.key).toBe(MASK);
      else if (row.value_type !== "object") expect(masked[row.key], row.key).toEqual(configuration[row.key]);
    }
  });
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
