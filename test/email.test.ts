import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from "smtp-server";
import { beforeAll, describe, expect, test } from "vitest";
import { email, type EmailConfiguration } from "../src/types/email.js";
import { DeliveryError, type Delivery } from "../src/types/type.js";
import { makeDelivery } from "./helpers/delivery.js";
import { selfSignedCertificate, type SelfSignedCertificate } from "./helpers/selfSignedCert.js";
import { sendInChild } from "./helpers/sendInChild.js";
import { afterFile } from "./helpers/afterFile.js";

const USER = "notifier";
const PASSWORD = "smtp-Pa55word!";
const SUBJECT = "Job #42 'deploy web' successful: https://awx.example.com/jobs/job/42";
const BODY = "Job #42 had status successful, view details at https://awx.example.com/jobs/job/42\n\n{\n    \"id\": 42\n}";

interface ReceivedMail {
  from: string;
  to: string[];
  user: string | undefined;
  secure: boolean;
  data: string;
}

/** A real SMTP server on loopback recording each accepted message; closed after the file. */
async function startSmtp(options: Partial<SMTPServerOptions> = {}) {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: options.key ? [] : ["STARTTLS"],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === USER && auth.password === PASSWORD) return callback(null, { user: auth.username });
      callback(new Error(`Invalid username or password for ${auth.username}`));
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user as string | undefined,
          secure: session.secure,
          data: Buffer.concat(chunks).toString("utf8"),
        });
        callback();
      });
    },
    ...options,
  });
  // Clients that refuse the certificate hang up mid-handshake: expected, not a test failure.
  server.on("error", () => {});
  server.listen(0, "127.0.0.1");
  await once(server.server, "listening");
  afterFile(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as net.AddressInfo).port, mails };
}

function configuration(port: number, overrides: Partial<EmailConfiguration> = {}): EmailConfiguration {
  return email.configurationSchema.parse({
    host: "127.0.0.1",
    port,
    username: USER,
    password: PASSWORD,
    sender: "awx@example.com",
    recipients: ["ops@example.com", "dev@example.com", "Boss <boss@example.com>"],
    timeout: 20,
    // Most tests speak to a plain-text server; "AUTH needs verified TLS" below tests without.
    allow_insecure_auth: true,
    ...overrides,
  });
}

function send(config: EmailConfiguration, overrides: Partial<Delivery<EmailConfiguration>> = {}) {
  return email.send(makeDelivery(config, { subject: SUBJECT, body: BODY, ...overrides }));
}

async function failure(sending: Promise<unknown>): Promise<DeliveryError> {
  const error = await sending.then(
    () => null,
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  const { message } = error as DeliveryError;
  expect(message).not.toContain(PASSWORD);
  expect(message).not.toContain(Buffer.from(`\0${USER}\0${PASSWORD}`).toString("base64"));
  return error as DeliveryError;
}

function expectDelivered(mail: ReceivedMail | undefined, secure: boolean) {
  expect(mail).toMatchObject({
    from: "awx@example.com",
    to: ["ops@example.com", "dev@example.com", "boss@example.com"],
    user: USER,
    secure,
  });
  const [head = "", ...rest] = mail!.data.split("\r\n\r\n");
  const headers = head.replace(/\r\n[ \t]+/g, " ");
  expect(headers).toContain(`Subject: ${SUBJECT}`);
  expect(headers).toMatch(/^X-Notification-Id: 1001$/im);
  expect(headers).toContain("To: ops@example.com, dev@example.com, Boss <boss@example.com>");
  // quoted-printable: soft line breaks only, the body being ASCII without "=".
  expect(rest.join("\r\n\r\n").replace(/=\r\n/g, "").replace(/\r\n/g, "\n")).toContain(BODY);
}

let certificate: SelfSignedCertificate;
let caEnv: Record<string, string>;
let folder: string;

beforeAll(async () => {
  certificate = await selfSignedCertificate();
  folder = await mkdtemp(path.join(os.tmpdir(), "email-test-"));
  const caFile = path.join(folder, "ca.pem");
  await writeFile(caFile, certificate.cert);
  // How an operator trusts an internal CA: Node reads it at start, hence a child process.
  caEnv = { NODE_EXTRA_CA_CERTS: caFile };
  return () => rm(folder, { recursive: true, force: true });
});

describe("plain SMTP", () => {
  test("one message to several recipients, with AUTH", async () => {
    const smtp = await startSmtp();
    const outcome = await send(configuration(smtp.port));
    expect(outcome).toEqual({
      recipients: "ops@example.com, dev@example.com, boss@example.com",
      notificationsSent: 1,
      deliveredTargets: [],
    });
    expect(smtp.mails).toHaveLength(1);
    expectDelivered(smtp.mails[0], false);
  });

  test("STARTTLS is used when offered, even with a certificate no one vouches for (no AUTH)", async () => {
    const smtp = await startSmtp({ key: certificate.key, cert: certificate.cert });
    await send(configuration(smtp.port, { username: null, password: null, allow_insecure_auth: null }));
    expect(smtp.mails[0]).toMatchObject({ user: false, secure: true });
  });

  test("without a username no AUTH is attempted", async () => {
    const smtp = await startSmtp();
    await send(configuration(smtp.port, { username: null, password: null }));
    expect(smtp.mails[0]).toMatchObject({ user: undefined, to: ["ops@example.com", "dev@example.com", "boss@example.com"] });
  });
});

describe("use_tls (STARTTLS required)", () => {
  test("upgrades and delivers when the certificate is trusted", async () => {
    const smtp = await startSmtp({ key: certificate.key, cert: certificate.cert });
    const result = await sendInChild({ type: "email", configuration: configuration(smtp.port, { use_tls: true }), subject: SUBJECT, body: BODY }, caEnv);
    expect(result.error).toBeUndefined();
    expect(smtp.mails).toHaveLength(1);
    expectDelivered(smtp.mails[0], true);
  });

  test("refuses a certificate that is not trusted", async () => {
    const smtp = await startSmtp({ key: certificate.key, cert: certificate.cert });
    const error = await failure(send(configuration(smtp.port, { use_tls: true })));
    expect(error.message).toMatch(/^SMTP 127\.0\.0\.1:\d+: .*self-signed certificate/);
    expect(smtp.mails).toHaveLength(0);
  });

  test("never falls back to clear text when the server offers no STARTTLS", async () => {
    const smtp = await startSmtp();
    const error = await failure(send(configuration(smtp.port, { use_tls: true })));
    expect(error.message).toMatch(/^SMTP 127\.0\.0\.1:\d+: .*STARTTLS/);
    expect(smtp.mails).toHaveLength(0);
  });
});

describe("use_ssl (implicit TLS)", () => {
  test("delivers over TLS from the first byte when the certificate is trusted", async () => {
    const smtp = await startSmtp({ secure: true, key: certificate.key, cert: certificate.cert });
    const result = await sendInChild({ type: "email", configuration: configuration(smtp.port, { use_ssl: true }), subject: SUBJECT, body: BODY }, caEnv);
    expect(result.error).toBeUndefined();
    expectDelivered(smtp.mails[0], true);
  });

  test("refuses a certificate that is not trusted", async () => {
    const smtp = await startSmtp({ secure: true, key: certificate.key, cert: certificate.cert });
    const error = await failure(send(configuration(smtp.port, { use_ssl: true })));
    expect(error.message).toMatch(/self-signed certificate/);
    expect(smtp.mails).toHaveLength(0);
  });

  test("use_tls with use_ssl is a permanent configuration error", async () => {
    const error = await failure(send(configuration(25, { use_tls: true, use_ssl: true })));
    expect(error).toMatchObject({ permanent: true, message: "SMTP 127.0.0.1:25: use_tls (STARTTLS) and use_ssl (implicit TLS) are mutually exclusive" });
  });
});

describe("rejections and timeouts", () => {
  test("a wrong password fails without showing it", async () => {
    const smtp = await startSmtp();
    const error = await failure(send(configuration(smtp.port, { password: `${PASSWORD}-wrong` })));
    expect(error.message).toMatch(/^SMTP 127\.0\.0\.1:\d+: Invalid login: 535 Invalid username or password for notifier$/);
    expect(error.message).not.toContain(`${PASSWORD}-wrong`);
    expect(error.permanent).toBe(false);
  });

  test("a server that rejects the recipients fails with its reply", async () => {
    const smtp = await startSmtp({
      onRcptTo(address, _session, callback) {
        const rejection = Object.assign(new Error(`no such user ${address.address}`), { responseCode: 550 });
        callback(rejection);
      },
    });
    const error = await failure(send(configuration(smtp.port)));
    expect(error.message).toMatch(/^SMTP 127\.0\.0\.1:\d+: .*recipients were rejected.*550 no such user/);
  });

  test("some rejected recipients are recorded, the others get it", async () => {
    const smtp = await startSmtp({
      onRcptTo(address, _session, callback) {
        callback(address.address.startsWith("dev@") ? Object.assign(new Error("mailbox full"), { responseCode: 552 }) : null);
      },
    });
    const outcome = await send(configuration(smtp.port));
    expect(outcome.recipients).toBe("ops@example.com, boss@example.com (rejected: dev@example.com)");
    expect(smtp.mails[0]!.to).toEqual(["ops@example.com", "boss@example.com"]);
  });

  test("a server rejecting the message fails with its reply", async () => {
    const smtp = await startSmtp({
      onData(stream, _session, callback) {
        stream.resume();
        stream.on("end", () => callback(Object.assign(new Error("message refused by policy"), { responseCode: 554 })));
      },
    });
    const error = await failure(send(configuration(smtp.port)));
    expect(error.message).toMatch(/^SMTP 127\.0\.0\.1:\d+: .*554 message refused by policy/);
  });

  test("the attempt's signal ends a server that never greets", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket)).listen(0, "127.0.0.1");
    await once(silent, "listening");
    try {
      const port = (silent.address() as net.AddressInfo).port;
      // A template timeout far beyond the test's: only the abort can end this.
      const error = await failure(send(configuration(port, { timeout: 600 }), { signal: AbortSignal.timeout(300) }));
      expect(error.message).toBe(`SMTP 127.0.0.1:${port}: timed out`);
      // and the connection is closed, so nothing can still be delivered on it
      await Promise.all(sockets.map((socket) => (socket.closed ? undefined : once(socket, "close"))));
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  test("so does the template's timeout", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket)).listen(0, "127.0.0.1");
    await once(silent, "listening");
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const error = await failure(send(configuration(port, { timeout: 0.3 })));
      expect(error.message).toMatch(new RegExp(`^SMTP 127\\.0\\.0\\.1:${port}: .*(timeout|Greeting never received)`, "i"));
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

describe("AUTH needs verified TLS", () => {
  /** onAuth that records every AUTH the server received (the password reached it). */
  function recordingAuth() {
    const received: string[] = [];
    const onAuth: SMTPServerOptions["onAuth"] = (auth, _session, callback) => {
      received.push(`${auth.username}:${auth.password}`);
      callback(null, { user: auth.username });
    };
    return { received, onAuth };
  }

  test("a server offering no STARTTLS gets no AUTH: one clear permanent error", async () => {
    const auth = recordingAuth();
    const smtp = await startSmtp({ onAuth: auth.onAuth });
    const error = await failure(send(configuration(smtp.port, { allow_insecure_auth: null })));
    expect(error.permanent).toBe(true);
    expect(error.message).toBe(
      `SMTP 127.0.0.1:${smtp.port}: the server offers no STARTTLS and AUTH is never sent without verified TLS ` +
        "(set use_tls or use_ssl with a trusted certificate, or allow_insecure_auth: true)",
    );
    expect(auth.received).toEqual([]);
    expect(smtp.mails).toHaveLength(0);
  });

  test("a STARTTLS certificate no one vouches for gets no AUTH", async () => {
    const auth = recordingAuth();
    const smtp = await startSmtp({ key: certificate.key, cert: certificate.cert, onAuth: auth.onAuth });
    const error = await failure(send(configuration(smtp.port, { allow_insecure_auth: null })));
    expect(error.message).toMatch(/^SMTP 127\.0\.0\.1:\d+: .*self-signed certificate/);
    expect(auth.received).toEqual([]);
    expect(smtp.mails).toHaveLength(0);
  });

  test("a trusted STARTTLS certificate gets AUTH and the message", async () => {
    const smtp = await startSmtp({ key: certificate.key, cert: certificate.cert });
    const result = await sendInChild({ type: "email", configuration: configuration(smtp.port, { allow_insecure_auth: null }), subject: SUBJECT, body: BODY }, caEnv);
    expect(result.error).toBeUndefined();
    expectDelivered(smtp.mails[0], true);
  });
});
