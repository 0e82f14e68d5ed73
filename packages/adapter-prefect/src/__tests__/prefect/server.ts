import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "@baton/testing";

export interface PrefectServer {
  /** PREFECT_API_URL for clients, e.g. http://127.0.0.1:41234/api */
  readonly apiUrl: string;
  /** Variables every Prefect client process of the tests needs. */
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

/**
 * A real Prefect server on loopback with its own home and SQLite database, started once per test
 * file (start-up takes ~20 s on two cores). The recorder flushes often so task runs show up fast.
 */
export async function startPrefectServer(options: { prefect: string; dir: string; timeoutMs?: number }): Promise<PrefectServer> {
  mkdirSync(options.dir, { recursive: true });
  const port = await freePort();
  const home = join(options.dir, "home");
  const logFile = join(options.dir, "server.log");
  const clientEnv = {
    PREFECT_HOME: home,
    PREFECT_API_URL: `http://127.0.0.1:${port}/api`,
    PREFECT_SERVER_ANALYTICS_ENABLED: "false",
  };
  const env = {
    ...process.env,
    ...clientEnv,
    PREFECT_API_URL: "",
    PREFECT_SERVER_DATABASE_CONNECTION_URL: `sqlite+aiosqlite:///${join(options.dir, "prefect.db")}`,
    PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL: "0.2",
    PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: "0.2",
  };
  const out = openSync(logFile, "a");
  const child: ChildProcess = spawn(options.prefect, ["server", "start", "--host", "127.0.0.1", "--port", String(port), "--no-ui"], {
    env,
    stdio: ["ignore", out, out],
    detached: true, // its own process group, so stop() also ends the workers it starts
  });
  let exited: number | null = null;
  child.once("exit", (code) => (exited = code ?? -1));
  const stop = async () => {
    if (child.pid === undefined || exited !== null) return;
    const gone = new Promise<void>((r) => child.once("exit", () => r()));
    process.kill(-child.pid, "SIGTERM");
    const timer = setTimeout(() => exited === null && child.pid !== undefined && process.kill(-child.pid, "SIGKILL"), 10_000);
    await gone;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
  for (;;) {
    if (exited !== null) throw new Error(`prefect server exited with code ${exited} before it was healthy:\n${tail(logFile)}`);
    try {
      const response = await fetch(`${clientEnv.PREFECT_API_URL}/health`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`timed out waiting for the Prefect server to answer /api/health: no answer within ${(options.timeoutMs ?? 300_000) / 1000}s:\n${tail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { apiUrl: clientEnv.PREFECT_API_URL, env: clientEnv, stop };
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-30).join("\n");
  } catch {
    return "(no log)";
  }
}
