import { once } from "node:events";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { HttpAddress } from "../config.js";
import type { Logger } from "../logger.js";
import { HttpAccess } from "../web/access.js";

/**
 * Handles a request it recognises and returns true, or returns false to let the next handler
 * try. Extra handlers (a web view…) are mounted with `routes` or `addRoute`; /healthz and /metrics
 * come first.
 */
export type RouteHandler = (request: IncomingMessage, response: ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface HttpServerConfig {
  address: HttpAddress;
  /** 200 on /healthz when true, 503 otherwise. */
  isHealthy: () => boolean;
  registry: Registry;
  routes?: RouteHandler[];
  /** Required on every route but /healthz (see web/access.ts); null: open (loopback only). */
  accessToken?: string | null;
}

export interface HttpServerHandle {
  /** Where it listens, e.g. http://127.0.0.1:9187 */
  url: string;
  address: HttpAddress;
  addRoute(handler: RouteHandler): void;
  close(): Promise<void>;
}

export async function startHttpServer(config: HttpServerConfig, logger: Logger): Promise<HttpServerHandle> {
  const routes: RouteHandler[] = [healthRoute(config.isHealthy), metricsRoute(config.registry), ...(config.routes ?? [])];
  const access = new HttpAccess(config.accessToken ?? null);
  let port = config.address.port;
  const server = http.createServer(async (request, response) => {
    try {
      const url = new URL(request.url ?? "/", "http://localhost");
      if (url.pathname !== "/healthz" && access.answer(access.check(request, port), request, response)) return;
      for (const route of routes) if (await route(request, response, url)) return;
      send(response, 404, "text/plain; charset=utf-8", "not found\n");
    } catch (error) {
      // The path only: a query may carry the access token (?token=…).
      logger.error({ error: (error as Error).message, path: (request.url ?? "/").split("?")[0] }, "HTTP handler failed");
      if (!response.headersSent) send(response, 500, "text/plain; charset=utf-8", "internal error\n");
      else response.destroy();
    }
  });
  server.listen(config.address.port, config.address.host);
  await Promise.race([once(server, "listening"), once(server, "error").then(([error]) => Promise.reject(error))]);
  ({ port } = server.address() as AddressInfo);
  const host = config.address.host;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  logger.info({ url }, "HTTP server listening (GET /healthz, GET /metrics)");
  return {
    url,
    address: { host, port },
    addRoute: (handler) => void routes.push(handler),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function healthRoute(isHealthy: () => boolean): RouteHandler {
  return (request, response, url) => {
    if (url.pathname !== "/healthz" || request.method !== "GET") return false;
    const healthy = isHealthy();
    send(response, healthy ? 200 : 503, "application/json", JSON.stringify({ status: healthy ? "ok" : "unavailable" }) + "\n");
    return true;
  };
}

function metricsRoute(registry: Registry): RouteHandler {
  return async (request, response, url) => {
    if (url.pathname !== "/metrics" || request.method !== "GET") return false;
    send(response, 200, registry.contentType, await registry.metrics());
    return true;
  };
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  response.end(body);
}
