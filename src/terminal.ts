/**
 * Text printed on an operator's terminal comes partly from elsewhere — job names from the host,
 * errors quoted from receivers — and a terminal obeys what it prints: ANSI/OSC sequences (clear
 * the screen, retitle the window, fake colours), a carriage return that overwrites the line, bidi
 * overrides that show text in another order. Every command prints through here.
 */

/**
 * C0 controls but tab and newline, DEL, C1 controls, and the bidi controls (ALM, LRM, RLM,
 * U+202A–U+202E embeddings and overrides, U+2066–U+2069 isolates).
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with every unsafe character written as a visible `\uXXXX`. Inside JSON text this is the
 * same string once parsed (those characters only occur inside strings), so JSON output stays
 * valid and equal.
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Writes to stdout, escaped for the terminal. */
export function writeOut(text: string): void {
  process.stdout.write(terminalSafe(text));
}

/** Writes to stderr, escaped for the terminal. */
export function writeErr(text: string): void {
  process.stderr.write(terminalSafe(text));
}
