/**
 * The ceiling: a plain undici client posting the same body the service sends to the same sink,
 * with a fixed number of requests in flight. Run as a child process (see child.ts).
 */
import { Agent, request } from "undici";
import { serveParent } from "./child.js";

serveParent({
  post: async ({ url, body, total, concurrency }) => {
    const dispatcher = new Agent({ keepAliveTimeout: 60_000 });
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < (total as number)) {
        const key = String(next++);
        const response = await request(url as string, {
          method: "POST",
          body: body as string,
          headers: { "content-type": "application/json", "idempotency-key": key },
          dispatcher,
        });
        await response.body.dump();
        if (response.statusCode !== 200) throw new Error(`sink answered ${response.statusCode}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency as number }, worker));
    const elapsedMs = performance.now() - started;
    await dispatcher.close();
    return { elapsedMs };
  },
});
