/** Bad usage or configuration: the CLI prints one line naming the setting and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The requested operation failed (not found, refused, unreachable): exit 1. */
export class OperationError extends Error {
  override name = "OperationError";
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
