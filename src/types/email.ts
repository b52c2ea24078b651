import nodemailer from "nodemailer";
import { DEFAULT_MESSAGE, DEFAULT_TEXT_BODY } from "../render/defaults.js";
import { declareKeys, fromKeys, TIMEOUT_KEY, type ConfigurationOf } from "./keys.js";
import { abortReason, redact } from "./http.js";
import { DeliveryError, type NotificationType } from "./type.js";

/** AWX's default SMTP timeout, in seconds, when the template sets none. */
export const DEFAULT_EMAIL_TIMEOUT_SECONDS = 30;

/** AWX's email keys. */
const keys = declareKeys({
  host: { type: "string", required: true },
  /** By default 465 with use_ssl, 587 with use_tls, else 25. */
  port: { type: "integer", minimum: 1, maximum: 65_535 },
  username: { type: "string" },
  password: { type: "string", secret: true },
  /** STARTTLS, required: the send fails rather than go on in clear text. */
  use_tls: { type: "boolean", default: false },
  /** TLS from the first byte (SMTPS, usually port 465). */
  use_ssl: { type: "boolean", default: false },
  /**
   * Send AUTH (username and password) over a connection without verified TLS: a plain-text
   * relay on a trusted network. Off by default: the password would cross in clear.
   */
  allow_insecure_auth: { type: "boolean", default: false },
  sender: { type: "string", required: true },
  recipients: { type: "list", required: true },
  timeout: { ...TIMEOUT_KEY, default: DEFAULT_EMAIL_TIMEOUT_SECONDS },
});

export type EmailConfiguration = ConfigurationOf<typeof keys>;

/**
 * One email to all recipients (as AWX): subject = the message line, text body = the body.
 *
 * TLS: with use_tls or use_ssl the server certificate is verified against the system CAs (add an
 * internal CA with NODE_EXTRA_CA_CERTS), as AWX's Django backend does. With neither and no
 * username, STARTTLS is still used when the server offers it, unverified: never worse than the
 * clear text configured. With a username, AUTH is sent only after STARTTLS with a verified
 * certificate (nodemailer's requireTLS), unless allow_insecure_auth: a server offering no
 * STARTTLS fails the row at once, before the password is sent.
 */
export const email: NotificationType<EmailConfiguration> = {
  name: "email",
  ...fromKeys(keys),
  defaultMessages: { message: DEFAULT_MESSAGE, body: DEFAULT_TEXT_BODY },
  bodyFormat: "text",
  async send(delivery) {
    const config = delivery.configuration;
    const where = `SMTP ${config.host}:${smtpPort(config)}`;
    if (config.use_tls && config.use_ssl) {
      throw new DeliveryError(`${where}: use_tls (STARTTLS) and use_ssl (implicit TLS) are mutually exclusive`, { permanent: true });
    }
    const timeoutMs = (config.timeout ?? DEFAULT_EMAIL_TIMEOUT_SECONDS) * 1000;
    const encrypted = Boolean(config.use_tls || config.use_ssl);
    // Credentials only over verified TLS: STARTTLS is then required even when not configured.
    const authNeedsTls = Boolean(config.username) && !encrypted && !config.allow_insecure_auth;
    const transport = nodemailer.createTransport({
      host: config.host,
      port: smtpPort(config),
      secure: Boolean(config.use_ssl),
      requireTLS: Boolean(config.use_tls) || authNeedsTls,
      tls: { rejectUnauthorized: encrypted || authNeedsTls, servername: config.host },
      auth: config.username ? { user: config.username, pass: config.password ?? "" } : undefined,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      // The message is our own text: never let a template name files or URLs to attach.
      disableFileAccess: true,
      disableUrlAccess: true,
    });
    const secrets = emailSecrets(config);
    try {
      // nodemailer closes the connection when the signal aborts: a late reply cannot still deliver.
      const info = await transport.sendMail({
        from: config.sender,
        to: config.recipients,
        subject: delivery.subject,
        text: delivery.body ?? delivery.subject,
        headers: { "X-Notification-Id": delivery.notificationId },
        signal: delivery.signal,
      });
      const rejected = (info.rejected ?? []).map(String);
      const accepted = (info.accepted ?? []).map(String);
      return {
        recipients: accepted.join(", ") + (rejected.length ? ` (rejected: ${rejected.join(", ")})` : ""),
        notificationsSent: 1,
        deliveredTargets: [],
      };
    } catch (error) {
      if (authNeedsTls && isStarttlsRefused(error)) {
        throw new DeliveryError(
          `${where}: the server offers no STARTTLS and AUTH is never sent without verified TLS ` +
            "(set use_tls or use_ssl with a trusted certificate, or allow_insecure_auth: true)",
          { permanent: true },
        );
      }
      const reason = delivery.signal.aborted ? abortReason(delivery.signal) : ((error as Error).message ?? String(error));
      throw new DeliveryError(redact(`${where}: ${reason.replace(/\s+/g, " ").trim()}`, secrets));
    } finally {
      transport.close();
    }
  },
};

/** nodemailer's error when STARTTLS was required and the server refused or did not offer it. */
function isStarttlsRefused(error: unknown): boolean {
  const { code, command } = error as { code?: string; command?: string };
  return code === "ETLS" && command === "STARTTLS" && /^Error upgrading connection with STARTTLS/.test((error as Error).message);
}

function smtpPort(config: EmailConfiguration): number {
  return config.port ?? (config.use_ssl ? 465 : config.use_tls ? 587 : 25);
}

/** The password and the forms SMTP AUTH sends it in, should a server echo one back. */
function emailSecrets(config: EmailConfiguration): string[] {
  if (!config.password) return [];
  const user = config.username ?? "";
  return [
    Buffer.from(`\0${user}\0${config.password}`).toString("base64"),
    Buffer.from(config.password).toString("base64"),
    config.password,
  ];
}
