import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

const PREFIX = "@@driver ";
export const DRIVER_SCRIPT = fileURLToPath(new URL("./driver.py", import.meta.url));

/** A long-lived Python process (driver.py) that runs the generated flows against Prefect. */
export class Driver {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private next = 1;
  private exited: string | null = null;

  constructor(python: string, options: { cwd: string; env: Record<string, string | undefined>; logFile: string }) {
    this.child = spawn(python, [DRIVER_SCRIPT], { cwd: options.cwd, env: options.env, stdio: ["pipe", "pipe", "pipe"] });
    const log = (line: string) => appendFileSync(options.logFile, line + "\n");
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      if (!line.startsWith(PREFIX)) return log(line);
      const reply = JSON.parse(line.slice(PREFIX.length)) as { id: number; ok: boolean; result?: unknown; error?: string; trace?: string };
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.ok) waiter?.resolve(reply.result);
      else waiter?.reject(new Error(`driver: ${reply.error}\n${reply.trace ?? ""}`));
    });
    createInterface({ input: this.child.stderr! }).on("line", log);
    this.child.once("exit", (code) => {
      this.exited = `the Prefect test driver exited with code ${code}; its log:\n${tailOf(options.logFile)}`;
      for (const w of this.pending.values()) w.reject(new Error(this.exited));
      this.pending.clear();
    });
  }

  request<T>(op: string, body: Record<string, unknown> = {}, timeoutMs = 600_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`timed out after ${timeoutMs / 1000}s waiting for the Prefect test driver to answer ${op}`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.child.stdin!.write(JSON.stringify({ id, op, ...body }) + "\n");
    });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    await gone;
    clearTimeout(timer);
  }
}

function tailOf(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-40).join("\n");
  } catch {
    return "(empty)";
  }
}
