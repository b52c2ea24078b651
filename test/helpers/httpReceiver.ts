import { once, EventEmitter } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterFile } from "./afterFile.js";

export interface ReceivedRequest {
  method: string;
  /** Path and query, e.g. "/hooks/a?x=1". */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  receivedAt: number;
}

/** Decides the answer to one request; the default answers 200 with "ok". */
export type Responder = (request: ReceivedRequest) =>
  | { status: number; body?: string; headers?: Record<string, string>; delayMs?: number }
  | Promise<{ status: number; body?: string; headers?: Record<string, string>; delayMs?: number }>;

/**
 * A real HTTP server on 127.0.0.1 that records every request and answers through a replaceable
 * responder, so a test can make a receiver flaky, slow or dead. Closed after the file's tests.
 */
export class HttpReceiver extends EventEmitter {
  readonly requests: ReceivedRequest[] = [];
  responder: Responder = () => ({ status: 200, body: "ok" });
  private readonly server = http.createServer((req, res) => void this.handle(req, res));

  static async start(): Promise<HttpReceiver> {
    const receiver = new HttpReceiver();
    receiver.server.keepAliveTimeout = 60_000;
    receiver.server.listen(0, "127.0.0.1");
    await once(receiver.server, "listening");
    afterFile(() => receiver.close());
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once at least `count` requests (matching `filter`, if given) have arrived. */
  async waitForRequests(count: number, filter: (r: ReceivedRequest) => boolean = () => true, timeoutMs = 30_000): Promise<ReceivedRequest[]> {
    const matching = () => this.requests.filter(filter);
    const deadline = Date.now() + timeoutMs;
    while (matching().length < count) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(`expected ${count} requests, got ${matching().length} within ${timeoutMs} ms`);
      }
      await Promise.race([once(this, "request"), new Promise((resolve) => setTimeout(resolve, Math.min(remaining, 250)))]);
    }
    return matching();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: ReceivedRequest = {
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      body: Buffer.concat(chunks).toString("utf8"),
      receivedAt: Date.now(),
    };
    this.requests.push(request);
    this.emit("request", request);
    const answer = await this.responder(request);
    if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    if (res.destroyed) return;
    res.writeHead(answer.status, { "content-type": "text/plain", ...answer.headers });
    res.end(answer.body ?? "");
  }
}
