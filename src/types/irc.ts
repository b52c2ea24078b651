import { DEFAULT_MESSAGE } from "../render/defaults.js";
import { declareKeys, fromKeys, TIMEOUT_KEY, type ConfigurationOf } from "./keys.js";
import { redact } from "./http.js";
import { IrcConnection, IrcError, isChannel } from "./ircClient.js";
import { deliverToEachTarget, pendingTargets } from "./targets.js";
import { DeliveryError, type NotificationType } from "./type.js";

const keys = declareKeys({
  server: { type: "string", required: true },
  port: { type: "integer", required: true, minimum: 1, maximum: 65_535 },
  nickname: { type: "string", required: true },
  password: { type: "string", secret: true },
  /** TLS with the server's certificate verified (AWX does not verify; we do). */
  use_ssl: { type: "boolean", default: false },
  /** Channels (#chan) and nicknames. */
  targets: { type: "list", required: true },
  timeout: TIMEOUT_KEY,
});

export type IrcConfiguration = ConfigurationOf<typeof keys>;

/** How long to wait for the server to close after QUIT before closing ourselves. */
const QUIT_GRACE_MS = 2_000;

/**
 * IRC (AWX's irc type): connects (TLS when use_ssl), registers — PASS when a password is set,
 * a suffixed nickname when the wanted one is in use — joins the channel targets and sends the
 * message to every target, each confirmed by the server, then quits. Targets an earlier attempt
 * reached are skipped.
 */
export const irc: NotificationType<IrcConfiguration> = {
  name: "irc",
  ...fromKeys(keys),
  defaultMessages: { message: DEFAULT_MESSAGE, body: null },
  bodyFormat: "text",
  async send(delivery) {
    const config = delivery.configuration;
    const where = `${config.server}:${config.port}`;
    // Every target already has it (an earlier attempt got them all): report that, connect to nothing.
    if (pendingTargets(config.targets, delivery.deliveredTargets).length === 0) {
      return deliverToEachTarget({ type: "irc", targets: config.targets, delivery, send: async () => {} });
    }
    let connection: IrcConnection | undefined;
    try {
      connection = await IrcConnection.connect({
        host: config.server, port: config.port, tls: config.use_ssl ?? false, signal: delivery.signal,
      });
      await connection.register({ nickname: config.nickname, password: config.password ?? undefined });
    } catch (error) {
      connection?.destroy();
      const refused = error instanceof IrcError && ["432", "464", "465"].includes(error.reply?.command ?? "");
      // The server's own words are quoted: a server echoing the PASS line must not leak it.
      throw new DeliveryError(redact(`irc: ${where}: ${(error as Error).message}`, [config.password ?? ""]), {
        deliveredTargets: delivery.deliveredTargets, permanent: refused, cause: error,
      });
    }
    const open = connection;
    try {
      return await deliverToEachTarget({
        type: "irc",
        targets: config.targets,
        delivery,
        send: async (target) => {
          if (isChannel(target)) await open.join(target);
          await open.privmsg(target, delivery.subject);
        },
      });
    } finally {
      const timer = setTimeout(() => open.destroy(), QUIT_GRACE_MS);
      await open.quit("notification sent");
      clearTimeout(timer);
    }
  },
};
