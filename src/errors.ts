/** Bad usage or configuration: the CLI prints one line naming the setting and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The requested operation failed (not found, refused, unreachable): exit 1. */
export class OperationError extends Error {
  override name = "OperationError";
}

/**
 * The SQLSTATE of a database error, through the driver's wrappers (slonik keeps pg's error as its
 * cause), or undefined for an error that carries none.
 */
export function sqlState(error: unknown): string | undefined {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
