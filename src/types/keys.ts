import { z } from "zod";
import { MAX_TIMER_SECONDS } from "../config.js";

/**
 * A notification type's configuration keys, declared once (as AWX's `init_parameters`): the zod
 * schema the service checks with, the secrets it masks and redacts, and the rows of
 * notifier.notification_type_keys that SQL checks templates against when they are written are
 * all derived from it (the rows by scripts/generate-type-keys.ts, into a migration).
 *
 * The rules, the same on both sides (notifier.validate_notification_configuration):
 * - a key the type does not declare is rejected; an absent key and JSON null mean the same;
 * - a required key must be present and not null; a required string or list must not be empty;
 * - `string`: a JSON string, one of `enumeration` when given;
 * - `integer`: a whole JSON number within [minimum, maximum] (by default ±(2^53−1), what a
 *   JavaScript number holds exactly);
 * - `number`: a JSON number greater than 0 and at most `maximum` when given;
 * - `boolean`: true or false;
 * - `object`: a JSON object whose values are strings, numbers or booleans (HTTP headers);
 * - `list`: a JSON array of non-empty strings.
 */
export type KeyValueType = "string" | "integer" | "number" | "boolean" | "object" | "list";

export interface KeyDeclaration {
  readonly type: KeyValueType;
  readonly required?: boolean;
  /** The value can carry a credential: masked in every output, never logged (CONTRACT §4). */
  readonly secret?: boolean;
  /** What the type uses when the key is absent (documentation; the type applies it). */
  readonly default?: string | number | boolean;
  /** `string` keys: the values allowed. */
  readonly enumeration?: readonly [string, ...string[]];
  /** `integer` keys: inclusive lower bound. */
  readonly minimum?: number;
  /** `integer` and `number` keys: inclusive upper bound. */
  readonly maximum?: number;
}

export type KeyDeclarations = Readonly<Record<string, KeyDeclaration>>;

/** The bounds of an integer key without its own: what a JavaScript number holds exactly. */
export const INTEGER_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * `timeout`: seconds one attempt may take, at most what a timer holds (MAX_TIMER_SECONDS); the
 * service's default applies when absent.
 */
export const TIMEOUT_KEY = { type: "number", maximum: MAX_TIMER_SECONDS } as const satisfies KeyDeclaration;

/** Declares a type's keys, keeping their literal types for ConfigurationOf. */
export function declareKeys<const Keys extends KeyDeclarations>(keys: Keys): Keys {
  return keys;
}

type ValueOf<D extends KeyDeclaration> = D["type"] extends "string"
  ? D extends { enumeration: readonly (infer E)[] } ? E : string
  : D["type"] extends "integer" | "number" ? number
  : D["type"] extends "boolean" ? boolean
  : D["type"] extends "object" ? Record<string, string | number | boolean>
  : string[];

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The configuration a declaration accepts (optional keys may be absent or null). */
export type ConfigurationOf<Keys extends KeyDeclarations> = Simplify<
  { -readonly [K in keyof Keys as Keys[K] extends { required: true } ? K : never]: ValueOf<Keys[K]> } &
  { -readonly [K in keyof Keys as Keys[K] extends { required: true } ? never : K]?: ValueOf<Keys[K]> | null }
>;

function valueSchema(declaration: KeyDeclaration): z.ZodTypeAny {
  const required = declaration.required ?? false;
  switch (declaration.type) {
    case "string":
      if (declaration.enumeration) return z.enum(declaration.enumeration);
      return required ? z.string().min(1) : z.string();
    case "integer":
      return z.number().int()
        .min(declaration.minimum ?? -INTEGER_LIMIT)
        .max(declaration.maximum ?? INTEGER_LIMIT);
    case "number": {
      const positive = z.number().positive().finite();
      return declaration.maximum === undefined ? positive : positive.max(declaration.maximum);
    }
    case "boolean":
      return z.boolean();
    case "object":
      return z.record(z.union([z.string(), z.number(), z.boolean()]));
    case "list": {
      const list = z.array(z.string().min(1));
      return required ? list.min(1) : list;
    }
  }
}

/** The zod schema of a declaration: strict (unknown keys are rejected), null meaning absent. */
export function configurationSchemaOf<const Keys extends KeyDeclarations>(keys: Keys): z.ZodType<ConfigurationOf<Keys>> {
  const shape: Record<string, z.ZodTypeAny> = {};
  for (const [key, declaration] of Object.entries(keys)) {
    const schema = valueSchema(declaration);
    shape[key] = declaration.required ? schema : schema.nullish();
  }
  return z.object(shape).strict() as unknown as z.ZodType<ConfigurationOf<Keys>>;
}

/** The keys of a declaration whose values are secrets. */
export function secretKeysOf(keys: KeyDeclarations): string[] {
  return Object.entries(keys).filter(([, declaration]) => declaration.secret).map(([key]) => key);
}

/** One row of notifier.notification_type_keys, as SQL stores a declaration. */
export interface KeyRow {
  notification_type: string;
  key: string;
  value_type: KeyValueType;
  required: boolean;
  secret: boolean;
  allowed_values: string[] | null;
  minimum: number | null;
  maximum: number | null;
  default_value: string | number | boolean | null;
}

/** The notification_type_keys rows of one type's declaration (integers get the default bounds). */
export function keyRowsOf(notificationType: string, keys: KeyDeclarations): KeyRow[] {
  return Object.entries(keys).map(([key, declaration]) => ({
    notification_type: notificationType,
    key,
    value_type: declaration.type,
    required: declaration.required ?? false,
    secret: declaration.secret ?? false,
    allowed_values: declaration.enumeration ? [...declaration.enumeration] : null,
    minimum: declaration.minimum ?? (declaration.type === "integer" ? -INTEGER_LIMIT : null),
    maximum: declaration.maximum ?? (declaration.type === "integer" ? INTEGER_LIMIT : null),
    default_value: declaration.default ?? null,
  }));
}

/** What a type module spreads into its NotificationType: the declaration and what derives from it. */
export function fromKeys<const Keys extends KeyDeclarations>(keys: Keys): {
  keys: Keys;
  configurationSchema: z.ZodType<ConfigurationOf<Keys>>;
  secretKeys: string[];
} {
  return { keys, configurationSchema: configurationSchemaOf(keys), secretKeys: secretKeysOf(keys) };
}
