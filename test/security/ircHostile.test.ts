import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { irc } from "../../src/types/irc.js";
import { DeliveryError } from "../../src/types/type.js";
import { connect, createTestDatabase } from "../helpers/database.js";
import { makeDelivery } from "../helpers/delivery.js";
import { HttpReceiver } from "../helpers/httpReceiver.js";
import { startIrcServer, watchIrc } from "../helpers/ngircd.js";
import { ServiceProcess, addWebhook, exitOf, rowsOf, runJob } from "../helpers/service.js";

// A hostile IRC server on loopback: whatever bytes it sends, the client fails that attempt with
// a DeliveryError and never throws from its socket handler (which would end the process).

/** A server that greets every client with `greeting` (or calls it with the socket). */
async function hostileServer(greeting: string | ((socket: net.Socket) => void)): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    if (typeof greeting === "string") socket.write(greeting);
    else greeting(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { port: (server.address() as net.AddressInfo).port, close };
}

const servers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const close of servers) await close();
});

async function sendTo(greeting: string | ((socket: net.Socket) => void)): Promise<DeliveryError> {
  const server = await hostileServer(greeting);
  servers.push(server.close);
  const error = await irc.send(makeDelivery({ server: "127.0.0.1", port: server.port, nickname: "n", targets: ["#x"] },
    { signal: AbortSignal.timeout(10_000) })).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

describe("irc client against a hostile server", () => {
  it("answers a PING with a stray carriage return instead of throwing", async () => {
    // The PONG it owes cannot carry the CR: the line is taken as ending there, and the next one read.
    const error = await sendTo("PING :x\r\r\n:srv 465 n :You are banned\r\n");
    expect(error.message).toMatch(/465 You are banned/);
  });

  it("answers a PING carrying a NUL instead of throwing", async () => {
    const error = await sendTo("PING :a\0b\r\n:srv 465 n :banned\r\n");
    expect(error.message).toMatch(/465 banned/);
  });

  it("fails the attempt when a line never ends (bounded receive buffer)", async () => {
    const error = await sendTo((socket) => {
      const chunk = "A".repeat(64 * 1024);
      const flood = () => { while (socket.writable && socket.write(chunk)); };
      socket.on("drain", flood);
      flood();
    });
    expect(error.message).toMatch(/line longer than \d+ characters/);
  });

  it("fails the attempt on endless lines without a welcome when the signal fires", async () => {
    const server = await hostileServer((socket) => {
      const lines = ":srv NOTICE * :spam\r\n".repeat(2000);
      const flood = () => { while (socket.writable && socket.write(lines)); };
      socket.on("drain", flood);
      flood();
    });
    servers.push(server.close);
    const controller = new AbortController();
    const sending = irc.send(makeDelivery({ server: "127.0.0.1", port: server.port, nickname: "n", targets: ["#x"] }, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 200);
    const error = await sending.then(() => null, (e: unknown) => e);
    expect((error as DeliveryError).message).toBe(`irc: 127.0.0.1:${server.port}: timed out`);
  });

  it("still delivers through a real ngircd", async () => {
    const real = await startIrcServer();
    const watcher = await watchIrc(real, "hostwatch", ["#ok"]);
    await irc.send(makeDelivery({ server: real.host, port: real.port, nickname: "notifier", targets: ["#ok"] }, { subject: "fine" }));
    await watcher.waitFor(1, (m) => m.text === "fine");
  });
});

describe("the service against a hostile IRC server", () => {
  let db: pg.Client;
  let databaseUrl: string;
  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    db = await connect(databaseUrl);
  });

  it("keeps running and delivering other rows while an IRC server sends poison lines", async () => {
    const poison = await hostileServer((socket) => {
      socket.write("PING :x\r\r\n");
      socket.write("PING :a\0b\r\n");
      socket.write("B".repeat(1024 * 1024));
    });
    servers.push(poison.close);
    const receiver = await HttpReceiver.start();
    await addWebhook(db, "hook", { url: `${receiver.url}/hook` }, { triggers: ["success"] });
    const { rows } = await db.query(
      `insert into notifier.notification_templates (name, notification_type, notification_configuration)
       values ('poison irc', 'irc', $1) returning id`,
      [JSON.stringify({ server: "127.0.0.1", port: poison.port, nickname: "n", targets: ["#x"], timeout: 5 })],
    );
    await db.query("insert into notifier.subscriptions (notification_template_id, trigger) values ($1, 'success')", [rows[0].id]);

    const service = await ServiceProcess.start({ databaseUrl });
    const first = await runJob(db, "first job");
    await receiver.waitForRequests(1);
    // The IRC row's attempt ends with an error, recorded; the process is still up.
    const deadline = Date.now() + 30_000;
    let ircRow;
    while (!(ircRow = (await rowsOf(db, "job_id = $1 and error is not null", [first]))[0])) {
      expect(service.running, service.output).toBe(true);
      if (Date.now() > deadline) throw new Error(`no IRC error recorded:\n${service.output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(ircRow.error).toMatch(/^irc: 127\.0\.0\.1:\d+: /);
    // And later jobs are still delivered.
    await runJob(db, "second job");
    await receiver.waitForRequests(2);
    expect(service.running).toBe(true);
    service.kill();
    expect((await service.waitForExit()).code).toBe(0);
  });
});

describe("the service's last-resort handler", () => {
  it.each(["throw", "reject"])("logs one line and exits 1 on an uncaught error (%s)", async (how) => {
    const fixture = path.join(import.meta.dirname, "..", "fixtures", "uncaughtError.ts");
    const { code, stdout, stderr } = await exitOf(spawn(process.execPath, ["--import", "tsx", fixture, how], { stdio: ["ignore", "pipe", "pipe"] }));
    expect(code, stderr).toBe(1);
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!);
    expect(line.level).toBe(60);
    expect(line.msg).toMatch(new RegExp(`^uncaught exception: Error: thrown second line: exiting$|^unhandled rejection: Error: rejected second line: exiting$`));
    expect(stderr).toBe("");
  });
});
