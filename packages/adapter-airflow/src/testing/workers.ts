// Test support (not published): the warm step workers a test's Airflow started, found from their sockets.
import { existsSync, readdirSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";

/** The pid a worker's socket answers with (its hello frame, core's worker/frames.ts); undefined if none answers. */
export function workerPid(socketPath: string, timeoutMs = 5_000): Promise<number | undefined> {
  return new Promise((resolve) => {
    let buffer = "";
    const socket = connect(socketPath);
    const done = (pid: number | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(pid);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      const end = buffer.indexOf("\n");
      if (end < 0) return;
      try {
        const pid = (JSON.parse(buffer.slice(0, end)) as { hello?: { pid?: unknown } }).hello?.pid;
        done(typeof pid === "number" ? pid : undefined);
      } catch {
        done(undefined);
      }
    });
    socket.on("error", () => done(undefined));
    socket.on("end", () => done(undefined));
  });
}

/** The pids of the workers listening in `dir` (BATON_WORKER_DIR). */
export async function runningWorkers(dir: string): Promise<number[]> {
  if (!existsSync(dir)) return [];
  const sockets = readdirSync(dir).filter((f) => f.endsWith(".sock"));
  const pids = await Promise.all(sockets.map((f) => workerPid(join(dir, f))));
  return pids.filter((p): p is number => p !== undefined);
}

/**
 * SIGTERM to every worker listening in `dir`: they run in sessions of their own, so stopping Airflow
 * leaves them up until they idle out. Only workers of this test's own folder.
 */
export async function stopWorkers(dir: string): Promise<void> {
  for (const pid of await runningWorkers(dir)) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
}
