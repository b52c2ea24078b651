import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { irc, type IrcConfiguration } from "../../src/types/irc.js";
import { DeliveryError } from "../../src/types/type.js";
import { rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { makeDelivery } from "../helpers/delivery.js";
import { startIrcServer, watchIrc, type IrcServer } from "../helpers/ngircd.js";
import { selfSignedCertificate } from "../helpers/selfSignedCert.js";
import { sendInChild } from "../helpers/sendInChild.js";

// Against a real IRC server (Debian's ngircd) with real clients watching.
let server: IrcServer;
beforeAll(async () => {
  server = await startIrcServer();
});

function configuration(overrides: Partial<IrcConfiguration> = {}): IrcConfiguration {
  return { server: server.host, port: server.port, nickname: "notifier", targets: ["#ops"], ...overrides };
}

describe("irc", () => {
  it("joins the channel and sends the message to a channel and a nickname", async () => {
    const watcher = await watchIrc(server, "watcher", ["#ops"]);
    const subject = "Job #42 'deploy web' successful: https://awx.example.com/jobs/job/42";
    const outcome = await irc.send(makeDelivery(configuration({ targets: ["#ops", "watcher"] }), { subject }));

    expect(outcome).toEqual({ recipients: "#ops, watcher", notificationsSent: 2, deliveredTargets: ["#ops", "watcher"] });
    const received = await watcher.waitFor(2, (m) => m.from === "notifier");
    expect(received).toEqual([
      { from: "notifier", target: "#ops", text: subject },
      { from: "notifier", target: "watcher", text: subject },
    ]);
  });

  it("takes another nickname when the wanted one is in use", async () => {
    const holder = await watchIrc(server, "busynick", ["#busy"]);
    await irc.send(makeDelivery(configuration({ nickname: "busynick", targets: ["#busy"] }), { subject: "from the other one" }));
    const [message] = await holder.waitFor(1, (m) => m.text === "from the other one");
    expect(message?.from).not.toBe("busynick");
    expect(message?.from).toBe("busynic_1");
  });

  it("fails only the unreachable target and a retry skips those already delivered", async () => {
    const watcher = await watchIrc(server, "ops2", ["#partial"]);
    const config = configuration({ targets: ["#partial", "latecomer"] });
    const first = irc.send(makeDelivery(config, { subject: "partial delivery" }));
    const error = await first.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).message).toMatch(/^irc: 1 of 2 targets failed: latecomer: 401 /);
    expect((error as DeliveryError).deliveredTargets).toEqual(["#partial"]);
    expect((error as DeliveryError).permanent).toBe(false);

    const latecomer = await watchIrc(server, "latecomer");
    const outcome = await irc.send(makeDelivery(config, { subject: "partial delivery", deliveredTargets: ["#partial"] }));
    expect(outcome.deliveredTargets).toEqual(["#partial", "latecomer"]);
    expect(outcome.notificationsSent).toBe(2);
    await latecomer.waitFor(1, (m) => m.text === "partial delivery");
    // The channel got it once, from the first attempt only.
    await watcher.waitFor(1, (m) => m.text === "partial delivery");
    // A later message, sent after the retry finished: once it is in, anything resent would be too.
    await irc.send(makeDelivery(configuration({ targets: ["#partial"] }), { subject: "marker" }));
    await watcher.waitFor(1, (m) => m.text === "marker");
    expect(watcher.received.filter((m) => m.text === "partial delivery")).toHaveLength(1);
  });

  it("refuses targets that would inject commands or shift parameters, delivering the others", async () => {
    const watcher = await watchIrc(server, "guarded", ["#guarded"]);
    const error = await irc.send(makeDelivery(configuration({ targets: ["bad\r\nQUIT :x", "#guarded", "two words"] }), { subject: "safe" }))
      .then(() => null, (e: unknown) => e as DeliveryError);
    expect(error!.message).toMatch(/^irc: 2 of 3 targets failed: /);
    expect(error!.message).toContain('"bad\\r\\nQUIT :x": PRIVMSG: a parameter contains a line break');
    expect(error!.message).not.toMatch(/[\r\n]/);
    expect(error!.message).toContain('"two words" is not a valid IRC name');
    expect(error!.deliveredTargets).toEqual(["#guarded"]);
    await watcher.waitFor(1, (m) => m.text === "safe");
  });

  it("splits long and multi-line messages into valid IRC lines", async () => {
    const watcher = await watchIrc(server, "longread", ["#long"]);
    const long = "x".repeat(450);
    await irc.send(makeDelivery(configuration({ targets: ["#long"] }), { subject: `first line\n${long}` }));
    const received = await watcher.waitFor(3, (m) => m.target === "#long");
    expect(received.map((m) => m.text)).toEqual(["first line", "x".repeat(400), "x".repeat(50)]);
  });
});

describe("irc with a server password", () => {
  let locked: IrcServer;
  beforeAll(async () => {
    locked = await startIrcServer({ password: "irc-server-secret" });
  });

  it("sends PASS and delivers with the right password", async () => {
    const watcher = await watchIrc(locked, "guard", ["#locked"], "irc-server-secret");
    const config: IrcConfiguration = {
      server: locked.host, port: locked.port, nickname: "notifier", password: "irc-server-secret", targets: ["#locked"],
    };
    await irc.send(makeDelivery(config, { subject: "behind a password" }));
    await watcher.waitFor(1, (m) => m.text === "behind a password");
  });

  it("fails with a wrong password, saying what the server said, without showing the password", async () => {
    const config: IrcConfiguration = {
      server: locked.host, port: locked.port, nickname: "notifier", password: "wrong-password-value", targets: ["#locked"],
    };
    const error = await irc.send(makeDelivery(config)).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    // ngircd answers ERROR (not 464), which cannot be told from other closes: retried, not permanent.
    expect((error as DeliveryError).message).toMatch(/^irc: 127\.0\.0\.1:\d+: server closed the connection: .*password/i);
    expect((error as DeliveryError).message).not.toContain("wrong-password-value");
  });
});

describe("irc over TLS", () => {
  let secure: IrcServer;
  let caFile: string;
  beforeAll(async () => {
    const certificate = await selfSignedCertificate();
    secure = await startIrcServer({ tls: certificate });
    caFile = path.join(os.tmpdir(), `irc-ca-${process.pid}.pem`);
    await writeFile(caFile, certificate.cert);
  });
  afterAll(() => rm(caFile, { force: true }));

  it("delivers over TLS to a server whose certificate is trusted (NODE_EXTRA_CA_CERTS)", async () => {
    const watcher = await watchIrc(secure, "tlswatch", ["#secure"]);
    const result = await sendInChild({
      type: "irc",
      configuration: { server: "127.0.0.1", port: secure.tlsPort, nickname: "notifier", use_ssl: true, targets: ["#secure"] },
      subject: "over TLS",
      body: null,
    }, { NODE_EXTRA_CA_CERTS: caFile });
    expect(result).toEqual({ outcome: { recipients: "#secure", notificationsSent: 1, deliveredTargets: ["#secure"] } });
    await watcher.waitFor(1, (m) => m.text === "over TLS");
  });

  it("refuses a certificate it does not trust", async () => {
    const config: IrcConfiguration = { server: "127.0.0.1", port: secure.tlsPort!, nickname: "notifier", use_ssl: true, targets: ["#secure"] };
    const error = await irc.send(makeDelivery(config)).then(() => null, (e: unknown) => e as DeliveryError);
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error!.message).toMatch(/^irc: 127\.0\.0\.1:\d+: connection failed: .*certificate/);
  });
});

describe("irc against a server that never answers", () => {
  let silent: net.Server;
  beforeAll(async () => {
    silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  });
  afterAll(() => new Promise<void>((resolve) => silent.close(() => resolve())));

  it("gives up when the attempt's signal aborts", async () => {
    const { port } = silent.address() as net.AddressInfo;
    const controller = new AbortController();
    const sending = irc.send(makeDelivery({ server: "127.0.0.1", port, nickname: "n", targets: ["#x"] }, { signal: controller.signal }));
    controller.abort();
    const error = await sending.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).message).toBe(`irc: 127.0.0.1:${port}: timed out`);
    expect((error as DeliveryError).permanent).toBe(false);
  });

  it("does not connect at all when an earlier attempt reached every target", async () => {
    const { port } = silent.address() as net.AddressInfo;
    const outcome = await irc.send(makeDelivery({ server: "127.0.0.1", port, nickname: "n", targets: ["#x", "bob"] }, { deliveredTargets: ["bob", "#x"] }));
    expect(outcome).toEqual({ recipients: "#x, bob", notificationsSent: 2, deliveredTargets: ["bob", "#x"] });
  });

  it("keeps the password out of the error when the server echoes it back", async () => {
    const password = "echoed-password-value";
    const echoing = net.createServer((socket) => {
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => {
        if (chunk.startsWith("PASS ")) socket.write(`:srv 464 * :Password incorrect: ${chunk.split("\r\n")[0]}\r\n`);
      });
    });
    await new Promise<void>((resolve) => echoing.listen(0, "127.0.0.1", resolve));
    const { port } = echoing.address() as net.AddressInfo;
    try {
      const error = await irc.send(makeDelivery({ server: "127.0.0.1", port, nickname: "n", password, targets: ["#x"] }))
        .then(() => null, (e: unknown) => e);
      expect((error as DeliveryError).message).toBe(`irc: 127.0.0.1:${port}: server refused the connection: 464 Password incorrect: PASS :***`);
      expect((error as DeliveryError).permanent).toBe(true);
    } finally {
      await new Promise<void>((resolve) => echoing.close(() => resolve()));
    }
  });

  it("reports a refused connection as retryable", async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await irc.send(makeDelivery({ server: "127.0.0.1", port, nickname: "n", targets: ["#x"] }))
      .then(() => null, (e: unknown) => e);
    expect((error as DeliveryError).message).toMatch(/^irc: 127\.0\.0\.1:\d+: connection failed: .*ECONNREFUSED/);
    expect((error as DeliveryError).permanent).toBe(false);
  });
});
