import { randomBytes } from "node:crypto";
import os from "node:os";
import type { ServiceConfig } from "../config.js";
import { createDatabasePool, createHotPathPool, type DatabasePool } from "../db.js";
import { OperationError } from "../errors.js";
import { createLogger, type Logger } from "../logger.js";
import { createMetrics, type ServiceMetrics } from "../metrics.js";
import { readHealth } from "../sql/readHealth.js";
import { isDeliveryPaused } from "../sql/setDeliveryPaused.js";
import { setWrapupGrace } from "../sql/setWrapupGrace.js";
import { closeHttpPools } from "../types/http.js";
import { requiredToken } from "../web/access.js";
import { createWebView } from "../web/webView.js";
import { AttachmentWatch } from "./attachmentWatch.js";
import { Deliverer } from "./deliverer.js";
import { startHttpServer, type HttpServerHandle, type RouteHandler } from "./httpServer.js";
import { Listener } from "./listener.js";
import { Purger } from "./purger.js";
import { Sweeper } from "./sweeper.js";

export interface NotifierServiceOptions {
  /** Default: a logger at config.logLevel on stdout. */
  logger?: Logger;
  /** Extra HTTP handlers mounted after /healthz and /metrics (needs config.http). */
  routes?: RouteHandler[];
}

export interface NotifierService {
  /** This process's name in notifications.locked_by. */
  worker: string;
  logger: Logger;
  db: DatabasePool;
  metrics: ServiceMetrics;
  /** The HTTP server when config.http is set. */
  http: HttpServerHandle | null;
  /** Connected, listening, the last database operation succeeded, and no attachment is broken. */
  isHealthy(): boolean;
  /** Graceful stop (idempotent): stop claiming, finish or release in-flight sends, close everything. */
  stop(): Promise<void>;
}

/**
 * Starts the delivery service: a LISTEN connection with a fallback poll, the deliverer, the
 * wrapup sweeper, the retention purger, and the optional HTTP server. Throws when the database
 * cannot be reached at start (a later outage is ridden out).
 */
export async function startNotifierService(config: ServiceConfig, options: NotifierServiceOptions = {}): Promise<NotifierService> {
  // Refuse a non-loopback address without a token before connecting anything.
  const accessToken = config.http ? requiredToken(config.http.host, config.httpToken ?? undefined) : null;
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const worker = `${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const db = await createDatabasePool(config.databaseUrl).catch((error: Error) => {
    throw new OperationError(`cannot connect to DATABASE_URL: ${error.message}`);
  });
  if (config.wrapupGraceSeconds !== null) {
    // One grace for the whole database (every sweep reads it): the setting replaces it there.
    const grace = await setWrapupGrace(db, config.wrapupGraceSeconds).catch(async (error: Error) => {
      await db.end();
      throw new OperationError(`cannot set notifier.settings.wrapup_grace from NOTIFIER_WRAPUP_GRACE: ${error.message}`);
    });
    logger.info({ previousSeconds: grace.previousSeconds, seconds: grace.seconds },
      "wrapup grace of the database set from NOTIFIER_WRAPUP_GRACE (notifier.settings.wrapup_grace)");
  }
  const metrics = createMetrics(() => readHealth(db), () => isDeliveryPaused(db));
  const hotPath = await createHotPathPool(config.databaseUrl);
  const deliverer = new Deliverer(hotPath, { ...config, worker }, logger, metrics);
  const listener = new Listener(config, logger, () => deliverer.wake());
  deliverer.onClaimed = (idle) => (idle ? listener.idle() : listener.busy());
  const sweeper = new Sweeper(db, { intervalSeconds: config.sweepIntervalSeconds }, logger);
  const purger = new Purger(db, {
    intervalSeconds: config.purgeIntervalSeconds,
    retentionSeconds: config.retentionSeconds,
    failedRetentionSeconds: config.failedRetentionSeconds,
  }, logger);
  const attachments = new AttachmentWatch(db, { intervalSeconds: config.attachmentCheckSeconds }, logger);
  const isHealthy = () => listener.listening && deliverer.databaseReachable && attachments.healthy;
  let http: HttpServerHandle | null = null;
  try {
    await attachments.start();
    await listener.start();
    if (config.http) {
      const routes = [createWebView({ db }), ...(options.routes ?? [])];
      http = await startHttpServer({ address: config.http, isHealthy, registry: metrics.registry, routes, accessToken }, logger);
    }
  } catch (error) {
    await attachments.stop();
    await listener.stop();
    await hotPath.end();
    await db.end();
    throw error;
  }
  deliverer.start();
  await sweeper.start();
  await purger.start();
  logger.info({ worker, concurrency: config.concurrency, lease: config.leaseSeconds, http: http?.url ?? null }, "delivery service started");

  let stopping: Promise<void> | null = null;
  const stop = async () => {
    logger.info("stopping: no new claims, finishing sends in flight");
    await sweeper.stop();
    await purger.stop();
    await attachments.stop();
    await deliverer.stop(config.shutdownGraceSeconds * 1000);
    await listener.stop();
    await http?.close();
    await closeHttpPools();
    await hotPath.end();
    await db.end();
    logger.info("stopped");
  };
  return {
    worker, logger, db, metrics, http, isHealthy,
    stop: () => (stopping ??= stop()),
  };
}
