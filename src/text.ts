/**
 * Strings the service writes to PostgreSQL come from receivers, mail and IRC servers and job data:
 * text and jsonb refuse a NUL character and a lone UTF-16 surrogate (a pair split by a cut), and
 * one such value would fail the whole batch statement it is in (CONTRACT §5.10).
 */

declare global {
  // ES2024 (Node 20): the compiler's library here is ES2022.
  interface String {
    isWellFormed(): boolean;
    toWellFormed(): string;
  }
}

/** `value` as PostgreSQL text accepts it: NUL shown as "\0", lone surrogates as U+FFFD. */
export function storableText(value: string): string {
  const wellFormed = value.isWellFormed() ? value : value.toWellFormed();
  return wellFormed.includes("\0") ? wellFormed.replaceAll("\0", "\\0") : wellFormed;
}

/** The first `max` code points of `value` (never half of a surrogate pair), "…" when cut. */
export function sliceCodePoints(value: string, max: number): string {
  // Fast path: short enough in UTF-16 units is short enough in code points.
  if (value.length <= max) return value;
  let taken = 0;
  let end = 0;
  for (const point of value) {
    if (taken === max) return `${value.slice(0, end)}…`;
    taken++;
    end += point.length;
  }
  return value;
}
