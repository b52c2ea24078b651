// A worker thread that renders custom messages for src/render/renderOffLoop.ts, so a slow or
// hostile template stalls this thread, never the service's event loop. Plain JavaScript: the
// service runs its TypeScript through tsx, which a worker has to register for itself.
import { parentPort } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
const { renderNotification, RenderError } = await import("./render.ts");

parentPort.on("message", async ({ input }) => {
  try {
    parentPort.postMessage({ ok: true, rendered: await renderNotification(input) });
  } catch (error) {
    parentPort.postMessage({ ok: false, render: error instanceof RenderError, message: error instanceof Error ? error.message : String(error) });
  }
});
parentPort.postMessage({ ready: true });
