import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { Writable } from "node:stream";
import { createLogger } from "../../src/logger.js";
import { maskUrl } from "../../src/redact.js";
import { maskSecrets, MASK } from "../../src/types/index.js";
import { webhook } from "../../src/types/webhook.js";
import { DeliveryError } from "../../src/types/type.js";
import { makeDelivery } from "../helpers/delivery.js";
import { launchChromium } from "../helpers/browser.js";
import { connect, createTestDatabase } from "../helpers/database.js";
import { HttpReceiver } from "../helpers/httpReceiver.js";
import { addWebhook, runCli, runJob, ServiceProcess, waitUntilSettled } from "../helpers/service.js";

// Secrets carried in a URL (user info, query, a hook's path token) against a receiver that
// echoes everything it got back in its 404 page, and everywhere a configuration is shown.

const PATH_TOKEN = "kq3b8e7zfjgx5y1rwtdn9ahmpc";
const LETTERS_TOKEN = "abcdefghijklmnopqrstuvwxyzab";
const QUERY_SECRET = "query-secret-value-0042";
const URL_PASSWORD = "url-password-0042";
const SECRETS = [PATH_TOKEN, LETTERS_TOKEN, QUERY_SECRET, URL_PASSWORD];

let databaseUrl: string;
let db: pg.Client;
let receiver: HttpReceiver;

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  db = await connect(databaseUrl);
  receiver = await HttpReceiver.start();
  // Express's answer to an unknown route, plus everything else a careless receiver could echo.
  receiver.responder = (request) => ({
    status: 404,
    body: `<pre>Cannot POST ${request.url}</pre> auth=${request.headers.authorization} ${decodeURIComponent(request.url)}`,
  });
});

function expectNoSecret(where: string, text: string): void {
  for (const secret of SECRETS) expect(text, `${where} shows ${secret}`).not.toContain(secret);
}

describe("maskUrl", () => {
  it("masks user info, query values and token-like path segments, keeping the rest readable", () => {
    expect(maskUrl(`https://ops:${URL_PASSWORD}@hooks.example.com/hooks/${PATH_TOKEN}?token=${QUERY_SECRET}&channel=ops`))
      .toBe("https://********@hooks.example.com/hooks/…?token=********&channel=********");
    expect(maskUrl("https://chat.example.com/hooks/abcdefghijklmnopqrstuvwxyzab")).toBe("https://chat.example.com/hooks/…");
    expect(maskUrl("https://discord.com/api/webhooks/123456789012345678/x")).toBe("https://discord.com/api/webhooks/…/x");
    expect(maskUrl("https://awx.example.com/api/v2/job_templates/7")).toBe("https://awx.example.com/api/v2/job_templates/7");
    expect(maskUrl("not a url")).toBe("not a url");
  });
});

describe("the logger", () => {
  it("masks URLs in messages and fields, and hook URL keys", () => {
    let written = "";
    const destination = new Writable({ write(chunk, _encoding, done) { written += String(chunk); done(); } });
    const logger = createLogger({ level: "info", pretty: false, destination });
    const hook = `https://ops:${URL_PASSWORD}@chat.example.com/hooks/${PATH_TOKEN}?token=${QUERY_SECRET}`;
    logger.info({ error: `POST ${hook} failed`, nested: { target: hook }, mattermost_url: hook }, `sending to ${hook}`);
    expect(written).toContain("https://********@chat.example.com/hooks/…?token=********");
    expectNoSecret("a log line", written);
  });
});

describe("a hook URL whose secrets a receiver echoes", () => {
  it("keeps them out of the recorded error, the logs, templates list/show, explain --json and the web view", async () => {
    const hookUrl = `${receiver.url.replace("//", `//ops:${URL_PASSWORD}@`)}/hooks/${PATH_TOKEN}/${LETTERS_TOKEN}?token=${QUERY_SECRET}`;
    await addWebhook(db, "echoing hook", { url: hookUrl }, { triggers: ["success"] });
    const service = await ServiceProcess.start({ databaseUrl, env: { NOTIFIER_MAX_ATTEMPTS: "1" } });
    const jobId = await runJob(db, "leaky job");
    const [row] = await waitUntilSettled(db);
    expect(row!.status).toBe("failed");
    expect(row!.error, row!.error!).toMatch(/HTTP 404: <pre>Cannot POST \/hooks\//);
    expectNoSecret("the recorded error", row!.error!);

    const env = { DATABASE_URL: databaseUrl };
    for (const args of [["templates", "list"], ["templates", "list", "--json"], ["templates", "show", "echoing hook"],
      ["explain", String(jobId), "--json"], ["explain", String(jobId)], ["notifications", "list", "--status", "failed"]]) {
      const result = await runCli(args, env);
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(0);
      expectNoSecret(args.join(" "), result.stdout + result.stderr);
    }

    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      await page.goto(service.httpUrl);
      const content = await page.content();
      expect(content).toContain("echoing hook");
      expectNoSecret("the web view", content);
    } finally {
      await browser.close();
    }
    service.kill();
    await service.waitForExit();
    expectNoSecret("the service's output", service.output);
  });
});

describe("credential headers the name pattern used to miss", () => {
  const headers = {
    "X-Credential": "cred-secret-0042",
    "X-Hook": "Bearer hdr-secret-0042",
    "X-Jwt": "jwt-secret-0042",
    "X-Team": "ops",
  };

  it("are masked where a configuration is shown", () => {
    const masked = maskSecrets("webhook", { url: "http://127.0.0.1/x", headers }) as { headers: Record<string, string> };
    expect(masked.headers).toEqual({ "X-Credential": MASK, "X-Hook": MASK, "X-Jwt": MASK, "X-Team": "ops" });
  });

  it("are blotted out of an error when a receiver echoes them", async () => {
    const echo = await HttpReceiver.start();
    echo.responder = ({ headers: h }) => ({ status: 400, body: `${h["x-team"]} ${h["x-credential"]} ${h["x-hook"]} ${h["x-jwt"]}` });
    const error = await webhook.send(makeDelivery({ url: `${echo.url}/h`, headers }, { body: "{}" })).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    const message = (error as DeliveryError).message;
    expect(message).toContain("ops");
    for (const secret of ["cred-secret-0042", "hdr-secret-0042", "jwt-secret-0042"]) expect(message).not.toContain(secret);
  });
});
