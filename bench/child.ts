import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

/**
 * A benchmark helper in a process of its own (the sink, the plain HTTP client, graphile-worker),
 * so that it never shares an event loop — or a CPU scheduling slot — with what it measures.
 * Parent and child talk over Node's IPC channel: the parent sends `{ id, command, ...args }`,
 * the child answers `{ id, result }` or `{ id, error }`.
 */
export class BenchChild {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  private constructor(readonly process: ChildProcess, readonly name: string) {
    process.on("message", (message: { id: number; result?: unknown; error?: string }) => {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.error !== undefined) waiter.reject(new Error(`${name}: ${message.error}`));
      else waiter.resolve(message.result);
    });
    process.on("exit", (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${name} exited (code ${code})`));
      this.pending.clear();
    });
  }

  /** Starts `bench/<module>.ts` through tsx and waits for its `ready` message. */
  static async start(module: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<BenchChild> {
    const file = fileURLToPath(new URL(`./${module}.ts`, import.meta.url));
    const child = fork(file, args, { execArgv: ["--import", "tsx"], env: { ...process.env, ...env }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const [message] = (await Promise.race([once(child, "message"), once(child, "exit").then(() => [undefined])])) as [unknown];
    if ((message as { ready?: boolean } | undefined)?.ready !== true) throw new Error(`bench child ${module} did not start`);
    return new BenchChild(child, module);
  }

  call<T>(command: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.process.send({ id, command, ...args });
    });
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = once(this.process, "exit");
    this.process.kill("SIGTERM");
    await exited;
  }
}

/** The child side: serves commands from the parent, then says it is ready. */
export function serveParent(handlers: Record<string, (args: Record<string, unknown>) => unknown>): void {
  process.on("message", async (message: { id: number; command: string } & Record<string, unknown>) => {
    const handler = handlers[message.command];
    try {
      if (!handler) throw new Error(`unknown command ${message.command}`);
      process.send!({ id: message.id, result: await handler(message) });
    } catch (error) {
      process.send!({ id: message.id, error: (error as Error).message });
    }
  });
  process.on("SIGTERM", () => process.exit(0));
  process.send!({ ready: true });
}

/** Milliseconds on the system-wide monotonic clock (CLOCK_MONOTONIC), comparable across processes. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
