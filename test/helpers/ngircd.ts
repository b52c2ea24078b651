import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort } from "../../src/embedded.js";
import { IrcConnection, type IrcMessage } from "../../src/types/ircClient.js";
import { afterFile } from "./afterFile.js";

/** Debian's ngircd binary (`apt-get install ngircd`; .ci/run installs it when missing). */
const NGIRCD = "/usr/sbin/ngircd";

export interface IrcServer {
  host: string;
  port: number;
  /** The TLS port, when started with a certificate. */
  tlsPort?: number;
  stop(): Promise<void>;
}

function ngircdInstalled(): boolean {
  return spawnSync(NGIRCD, ["--version"], { stdio: "ignore" }).status === 0;
}

/**
 * Starts a real ngircd on a free loopback port from a config written to a temporary folder
 * (`-n`: in the foreground, as a child of the test), and waits until it accepts connections.
 * `password` sets the server password clients must send with PASS; `tls` (PEM key and
 * certificate) opens a TLS port too. Stopped after the file's tests.
 */
export async function startIrcServer(options: { password?: string; tls?: { key: string; cert: string } } = {}): Promise<IrcServer> {
  if (!ngircdInstalled()) throw new Error(`${NGIRCD} is missing: apt-get install ngircd (.ci/run installs it)`);
  const folder = await mkdtemp(path.join(os.tmpdir(), "ngircd-"));
  // ngircd drops root privileges to "nobody", which must still read its config.
  await chmod(folder, 0o755);
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : undefined;
  if (options.tls) {
    await writeFile(path.join(folder, "key.pem"), options.tls.key, { mode: 0o644 });
    await writeFile(path.join(folder, "cert.pem"), options.tls.cert, { mode: 0o644 });
  }
  const config = path.join(folder, "ngircd.conf");
  await writeFile(config, [
    "[Global]",
    "Name = irc.test.local",
    "Info = pg-job-notifier test server",
    "AdminInfo1 = test", "AdminInfo2 = test", "AdminEMail = test@localhost",
    "Listen = 127.0.0.1",
    `Ports = ${port}`,
    "MotdPhrase = test",
    ...(options.password ? [`Password = ${options.password}`] : []),
    "[Limits]",
    "MaxConnectionsIP = 0",
    "[Options]",
    "PAM = no",
    "Ident = no",
    "DNS = no",
    ...(options.tls
      ? ["[SSL]", `CertFile = ${path.join(folder, "cert.pem")}`, `KeyFile = ${path.join(folder, "key.pem")}`, `Ports = ${tlsPort}`]
      : []),
    "",
  ].join("\n"), { mode: 0o644 });
  const output: string[] = [];
  const child: ChildProcess = spawn(NGIRCD, ["-n", "-f", config], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.on("data", (chunk) => output.push(String(chunk)));
  child.stderr?.on("data", (chunk) => output.push(String(chunk)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
    await rm(folder, { recursive: true, force: true });
  };
  afterFile(stop);
  const deadline = Date.now() + 30_000;
  while (!(await accepts(port)) || (tlsPort !== undefined && !(await accepts(tlsPort)))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`ngircd did not start on port ${port}:\n${output.join("")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { host: "127.0.0.1", port, tlsPort, stop };
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => { socket.destroy(); resolve(true); });
    socket.once("error", () => resolve(false));
  });
}

/** A PRIVMSG as a watching client received it. */
export interface ReceivedPrivmsg {
  from: string;
  target: string;
  text: string;
}

/**
 * A real IRC client registered as `nickname` and joined to `channels`, recording every PRIVMSG
 * it receives (to those channels or to itself). Quits after the file's tests.
 */
export async function watchIrc(server: IrcServer, nickname: string, channels: string[] = [], password?: string) {
  const controller = new AbortController();
  const connection = await IrcConnection.connect({ host: server.host, port: server.port, tls: false, signal: controller.signal });
  const received: ReceivedPrivmsg[] = [];
  connection.onMessage((message: IrcMessage) => {
    if (message.command !== "PRIVMSG") return;
    received.push({ from: (message.prefix ?? "").split("!")[0] ?? "", target: message.params[0] ?? "", text: message.params[1] ?? "" });
  });
  await connection.register({ nickname, password });
  for (const channel of channels) await connection.join(channel);
  const quit = async () => {
    const timer = setTimeout(() => controller.abort(), 5_000);
    await connection.quit();
    clearTimeout(timer);
  };
  afterFile(quit);
  return {
    nickname: connection.nickname,
    received,
    quit,
    /** Resolves once `count` PRIVMSGs matching `filter` have arrived (polls; 30 s at most). */
    async waitFor(count: number, filter: (m: ReceivedPrivmsg) => boolean = () => true): Promise<ReceivedPrivmsg[]> {
      const deadline = Date.now() + 30_000;
      while (received.filter(filter).length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} messages, got ${JSON.stringify(received)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return received.filter(filter);
    },
  };
}
