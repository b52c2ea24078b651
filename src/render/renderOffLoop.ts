import { Worker } from "node:worker_threads";
import { RenderError, RENDER_LIMITS, renderNotification } from "./render.js";

type RenderInput = Parameters<typeof renderNotification>[0];
type Rendered = Awaited<ReturnType<typeof renderNotification>>;

/** Worker threads rendering custom messages at once: one slow template leaves the other free. */
export const RENDER_WORKERS = 2;
/**
 * A render that has not answered by then is stopped by terminating its thread: liquidjs checks
 * its own time limit only between nodes, so one filter call can outlast it.
 */
export const RENDER_HARD_LIMIT_MS = RENDER_LIMITS.renderMs * 2;

interface Job {
  input: RenderInput;
  resolve: (rendered: Rendered) => void;
  reject: (error: Error) => void;
}

interface RenderThread {
  worker: Worker;
  ready: Promise<void>;
  busy: Job | null;
}

/**
 * Renders a row's messages. The types' default messages are the product's own and render in
 * tens of microseconds: on this thread. A custom message is the operator's template: it renders
 * in a worker thread with a hard time limit, so a template that hits a limit costs only its own
 * row, never the sends, lease extensions and /healthz of the others (CONTRACT §5).
 */
export async function renderOffLoop(input: RenderInput): Promise<Rendered> {
  if (input.template.messages == null) return renderNotification(input);
  return pool.render(input);
}

class RenderPool {
  private readonly threads: RenderThread[] = [];
  private readonly waiting: Job[] = [];

  render(input: RenderInput): Promise<Rendered> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    while (this.waiting.length > 0) {
      let thread = this.threads.find((candidate) => candidate.busy === null);
      if (!thread && this.threads.length < RENDER_WORKERS) thread = this.spawn();
      if (!thread) return;
      this.run(thread, this.waiting.shift()!);
    }
  }

  private spawn(): RenderThread {
    const worker = new Worker(new URL("./renderWorker.mjs", import.meta.url));
    // An idle pool must not keep the process alive.
    worker.unref();
    const ready = new Promise<void>((resolve) => worker.once("message", () => resolve()));
    const thread: RenderThread = { worker, ready, busy: null };
    worker.on("error", (error) => this.retire(thread, new RenderError(`rendering failed: ${error.message}`)));
    worker.on("exit", () => this.retire(thread, new RenderError("rendering failed: the render thread exited")));
    this.threads.push(thread);
    return thread;
  }

  private run(thread: RenderThread, job: Job): void {
    thread.busy = job;
    void thread.ready.then(() => {
      if (thread.busy !== job) return;
      try {
        thread.worker.postMessage({ input: job.input });
      } catch {
        // Input a thread cannot be given (not structured-cloneable): render it here instead.
        thread.busy = null;
        renderNotification(job.input).then(job.resolve, job.reject);
        this.next();
        return;
      }
      const timer = setTimeout(() => {
        this.retire(thread, new RenderError(
          `template "${job.input.template.name}": rendering took longer than ${RENDER_HARD_LIMIT_MS} ms and was stopped`));
      }, RENDER_HARD_LIMIT_MS);
      thread.worker.once("message", (answer: { ok: boolean; rendered?: Rendered; render?: boolean; message?: string }) => {
        clearTimeout(timer);
        if (thread.busy !== job) return;
        thread.busy = null;
        if (answer.ok) job.resolve(answer.rendered!);
        else job.reject(answer.render ? new RenderError(answer.message) : new Error(answer.message));
        this.next();
      });
    });
  }

  /** Stops a thread (stuck, or dead), failing the render it had; a new one starts when needed. */
  private retire(thread: RenderThread, error: Error): void {
    const index = this.threads.indexOf(thread);
    if (index < 0) return;
    this.threads.splice(index, 1);
    const job = thread.busy;
    thread.busy = null;
    void thread.worker.terminate();
    job?.reject(error);
    this.next();
  }
}

const pool = new RenderPool();
