import net from "node:net";
import tls from "node:tls";

/**
 * A small IRC client (RFC 1459/2812) on node:net/node:tls: just what a notifier needs — connect,
 * register, join, send, confirm, quit. Chosen over a library (irc-framework, irc) because those
 * take no AbortSignal and report a PRIVMSG as "sent" once written, while a notifier must bound
 * every step by the attempt's signal and know which targets the server actually accepted.
 */

/** One parsed line: `:prefix COMMAND param param :trailing`. */
export interface IrcMessage {
  prefix: string | null;
  command: string;
  params: string[];
}

export interface IrcConnectOptions {
  host: string;
  port: number;
  /** Connect with TLS (certificates verified). */
  tls: boolean;
  /** Destroys the connection and rejects whatever is waiting when aborted. */
  signal: AbortSignal;
}

/** The server said no, or the connection ended; `reply` is the numeric or ERROR that said it. */
export class IrcError extends Error {
  override name = "IrcError";
  constructor(message: string, readonly reply: IrcMessage | null = null) {
    super(message);
  }
}

/** RFC 1459's smallest allowed nickname length, the safe bound before the server says its own. */
const MIN_MAX_NICK_LENGTH = 9;
/** How many other nicknames to try when the wanted one is in use. */
const NICK_RETRIES = 5;
/** Replies that refuse a JOIN (RFC 2812 §3.2.1). */
const JOIN_ERRORS = ["403", "405", "437", "471", "473", "474", "475", "476", "477"];
/** Replies that refuse a PRIVMSG (RFC 2812 §3.3.1). */
const PRIVMSG_ERRORS = ["401", "403", "404", "407", "411", "412", "413", "414"];
/** The "real name" the client registers with. */
const REALNAME = "pg-job-notifier";
/** A PRIVMSG line must fit the 512-byte limit with the prefix the server adds when relaying. */
const MAX_TEXT_BYTES = 400;
/**
 * The longest line taken from a server, in characters: 512 (RFC 1459) plus 8191 of IRCv3 message
 * tags. A longer one (or a line that never ends) fails the connection, so the receive buffer
 * holds at most this much.
 */
export const MAX_RECEIVED_LINE_CHARS = 8_703;

interface Waiter {
  match: (message: IrcMessage) => boolean;
  resolve: (message: IrcMessage) => void;
  reject: (error: Error) => void;
}

export function parseIrcLine(line: string): IrcMessage {
  let rest = line;
  let prefix: string | null = null;
  if (rest.startsWith(":")) {
    const space = rest.indexOf(" ");
    prefix = rest.slice(1, space < 0 ? undefined : space);
    rest = space < 0 ? "" : rest.slice(space + 1);
  }
  const trailingAt = rest.indexOf(" :");
  const trailing = rest.startsWith(":") ? rest.slice(1) : trailingAt >= 0 ? rest.slice(trailingAt + 2) : null;
  const head = rest.startsWith(":") ? "" : trailingAt >= 0 ? rest.slice(0, trailingAt) : rest;
  const words = head.split(" ").filter((word) => word !== "");
  const command = (words.shift() ?? "").toUpperCase();
  return { prefix, command, params: trailing === null ? words : [...words, trailing] };
}

/** Channel names start with one of these (RFC 2812 §1.3); anything else is a nickname. */
export function isChannel(target: string): boolean {
  return /^[#&+!]/.test(target);
}

/** Splits text into IRC-safe lines: no CR/LF/NUL, each at most MAX_TEXT_BYTES of UTF-8. */
export function ircLines(text: string): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split(/\r\n|\r|\n/)) {
    let current = "";
    let bytes = 0;
    for (const char of paragraph.replace(/\0/g, "")) {
      const size = Buffer.byteLength(char);
      if (bytes + size > MAX_TEXT_BYTES) {
        lines.push(current);
        current = "";
        bytes = 0;
      }
      current += char;
      bytes += size;
    }
    if (current !== "") lines.push(current);
  }
  return lines.length > 0 ? lines : [" "];
}

export class IrcConnection {
  /** The nickname the server accepted (it may differ from the wanted one). */
  nickname = "";
  private readonly waiters = new Set<Waiter>();
  private buffered = "";
  private closedError: Error | null = null;
  private pingCounter = 0;
  private readonly listeners = new Set<(message: IrcMessage) => void>();

  private constructor(private readonly socket: net.Socket, private readonly signal: AbortSignal) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.receive(chunk));
    socket.on("error", (error) => this.fail(new IrcError(`connection failed: ${error.message}`)));
    socket.on("close", () => this.fail(new IrcError("connection closed by the server")));
    const onAbort = () => {
      this.fail(new IrcError("timed out"));
      socket.destroy();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("close", () => signal.removeEventListener("abort", onAbort));
  }

  /** Opens the TCP (or TLS) connection; resolves once it is established. */
  static async connect(options: IrcConnectOptions): Promise<IrcConnection> {
    if (options.signal.aborted) throw new IrcError("timed out");
    const socket = options.tls
      ? tls.connect({ host: options.host, port: options.port, servername: net.isIP(options.host) ? undefined : options.host })
      : net.connect({ host: options.host, port: options.port });
    const connection = new IrcConnection(socket, options.signal);
    // A waiter that nothing matches: it only carries a connect error or an abort.
    const failed = connection.next(() => false);
    const established = new Promise<void>((resolve) => socket.once(options.tls ? "secureConnect" : "connect", () => resolve()));
    await Promise.race([established, failed]);
    connection.waiters.clear();
    return connection;
  }

  /** Calls `listener` with every message received (e.g. PRIVMSGs for a watching client). */
  onMessage(listener: (message: IrcMessage) => void): void {
    this.listeners.add(listener);
  }

  /** Writes one command; the last parameter is sent as trailing (it may contain spaces). */
  send(command: string, ...params: string[]): void {
    // Nothing from a template may end the line or shift the parameters: no command injection.
    params.forEach((param, index) => {
      if (/[\r\n\0]/.test(param)) throw new IrcError(`${command}: a parameter contains a line break`);
      if (index < params.length - 1 && (param === "" || param.includes(" ") || param.startsWith(":"))) {
        throw new IrcError(`${command}: "${param}" is not a valid IRC name`);
      }
    });
    const last = params.length > 0 ? ` :${params[params.length - 1]}` : "";
    const middle = params.slice(0, -1).map((param) => ` ${param}`).join("");
    this.socket.write(`${command}${middle}${last}\r\n`);
  }

  /**
   * Resolves with the next message matching `match`. Replies arrive in later ticks, so a waiter
   * registered right after the command is sent (same tick) cannot miss its answer.
   */
  next(match: (message: IrcMessage) => boolean): Promise<IrcMessage> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: (message) => {
          this.waiters.delete(waiter);
          resolve(message);
        },
        reject,
      };
      this.waiters.add(waiter);
    });
  }

  /**
   * Registers (PASS, NICK, USER) and waits for the welcome (001). A nickname in use (433) is
   * retried with a numeric suffix, shortened to 9 characters if the server finds it too long (432).
   */
  async register(options: { nickname: string; password?: string | undefined }): Promise<void> {
    const wanted = options.nickname;
    if (options.password) this.send("PASS", options.password);
    let candidate = wanted;
    let suffix = "";
    let inUse = 0;
    for (let retry = 0; ; retry++) {
      this.send("NICK", candidate);
      if (retry === 0) this.send("USER", wanted, "0", "*", REALNAME);
      const answer = await this.next((m) => ["001", "432", "433", "436", "464", "465"].includes(m.command));
      if (answer.command === "001") {
        this.nickname = answer.params[0] ?? candidate;
        return;
      }
      const text = answer.params[answer.params.length - 1] ?? "";
      if (answer.command === "464" || answer.command === "465") {
        throw new IrcError(`server refused the connection: ${answer.command} ${text}`, answer);
      }
      if (answer.command === "432" && candidate !== wanted && candidate.length > MIN_MAX_NICK_LENGTH) {
        // The suffixed nickname is too long for this server: shorten it and try again.
        candidate = wanted.slice(0, MIN_MAX_NICK_LENGTH - suffix.length) + suffix;
        continue;
      }
      if (answer.command === "432" || inUse >= NICK_RETRIES) {
        throw new IrcError(`nickname "${candidate}" refused: ${answer.command} ${text}`, answer);
      }
      suffix = `_${++inUse}`;
      candidate = `${wanted}${suffix}`;
    }
  }

  /**
   * Sends `command` and confirms the server processed it: a PING follows, and since a server
   * handles one client's lines in order, any error numeric about `subject` arrives before the
   * PONG. Rejects with that error.
   */
  private async confirmed(subject: string, errorNumerics: readonly string[], command: string, ...params: string[]): Promise<void> {
    const token = `confirm-${++this.pingCounter}`;
    this.send(command, ...params);
    this.send("PING", token);
    const answer = await this.next((m) =>
      (m.command === "PONG" && m.params[m.params.length - 1] === token) ||
      (errorNumerics.includes(m.command) && (m.params[1] ?? "").toLowerCase() === subject.toLowerCase()));
    if (answer.command !== "PONG") {
      throw new IrcError(`${answer.command} ${answer.params[answer.params.length - 1] ?? ""}`, answer);
    }
  }

  /** Joins a channel, confirmed by the server. */
  async join(channel: string): Promise<void> {
    await this.confirmed(channel, JOIN_ERRORS, "JOIN", channel);
  }

  /** Sends text to a channel or nickname (several lines if needed), each confirmed by the server. */
  async privmsg(target: string, text: string): Promise<void> {
    for (const line of ircLines(text)) await this.confirmed(target, PRIVMSG_ERRORS, "PRIVMSG", target, line);
  }

  /** Says goodbye and closes; never throws. */
  async quit(message = "bye"): Promise<void> {
    if (this.closedError) return;
    const closed = new Promise<void>((resolve) => this.socket.once("close", () => resolve()));
    try {
      this.send("QUIT", message);
      this.socket.end();
    } catch {
      this.socket.destroy();
    }
    // Bounded by the attempt's signal, which destroys the socket when it fires.
    await closed;
  }

  /** Closes at once. */
  destroy(): void {
    this.socket.destroy();
  }

  /**
   * Runs in the socket's "data" handler, where a throw would be uncaught and end the process:
   * whatever the server sends, a problem fails this connection (and so this attempt) instead.
   */
  private receive(chunk: string): void {
    try {
      this.takeLines(chunk);
    } catch (error) {
      this.abandon(new IrcError(`unusable data from the server: ${(error as Error).message}`));
    }
  }

  private takeLines(chunk: string): void {
    // CR LF ends a line (RFC 1459 §2.3); a lone CR or LF is taken as an end too, never as content.
    const lines = (this.buffered + chunk).split(/\r\n|\r|\n/);
    this.buffered = lines.pop() ?? "";
    for (const raw of lines) {
      if (this.closedError) return;
      if (raw.length > MAX_RECEIVED_LINE_CHARS) return this.tooLong();
      // NUL is not allowed in a message: dropped, so nothing echoed back (PONG) can carry it.
      const line = raw.replace(/\0/g, "");
      if (line === "") continue;
      const message = parseIrcLine(line);
      if (message.command === "PING") this.send("PONG", ...message.params);
      if (message.command === "ERROR") {
        this.fail(new IrcError(`server closed the connection: ${message.params[0] ?? ""}`, message));
      }
      for (const listener of this.listeners) listener(message);
      for (const waiter of [...this.waiters]) if (waiter.match(message)) waiter.resolve(message);
    }
    if (this.buffered.length > MAX_RECEIVED_LINE_CHARS) this.tooLong();
  }

  private tooLong(): void {
    this.buffered = "";
    this.abandon(new IrcError(`the server sent a line longer than ${MAX_RECEIVED_LINE_CHARS} characters`));
  }

  /** Fails whatever waits and closes the connection. */
  private abandon(error: Error): void {
    this.fail(error);
    this.socket.destroy();
  }

  private fail(error: Error): void {
    if (this.closedError) return;
    this.closedError = this.signal.aborted ? new IrcError("timed out") : error;
    for (const waiter of this.waiters) waiter.reject(this.closedError);
    this.waiters.clear();
  }
}
