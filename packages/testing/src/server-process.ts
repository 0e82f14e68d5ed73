import { spawn, type ChildProcess } from "node:child_process";
import { openSync } from "node:fs";
import { processAlive } from "./process.js";
import { waitFor } from "./wait.js";

export interface ServerProcessOptions {
  /** Names the server in errors and waits ("moto_server", "the Iceberg REST catalog"). */
  readonly what: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here; errors point at it. */
  readonly logFile: string;
  /** Where it answers, for the messages. */
  readonly url: string;
  /** True once the server answers; polled until then (or until the process exits). */
  readonly ready: () => Promise<boolean>;
}

export interface ServerProcess {
  readonly child: ChildProcess;
  /** SIGTERM, then SIGKILL if it has not exited within 30 s. */
  stop(): Promise<void>;
}

/**
 * A test server in a child process, started and awaited until it answers. A server that exits first
 * fails at once with its log; one left running when the test process exits is killed.
 */
export async function startServerProcess(o: ServerProcessOptions): Promise<ServerProcess> {
  const out = openSync(o.logFile, "a");
  const child = spawn(o.command, o.args, { stdio: ["ignore", out, out], env: o.env });
  let exited = false;
  child.once("exit", () => (exited = true));
  const stopNow = () => {
    if (!exited && child.pid !== undefined && processAlive(child.pid)) child.kill("SIGKILL");
  };
  process.once("exit", stopNow);
  // An exit ends the wait at once (waitFor treats a throwing condition as "not yet").
  await waitFor(async () => exited || (await o.ready()), { what: `${o.what} to answer on ${o.url} (log: ${o.logFile})` });
  if (exited) throw new Error(`${o.what} exited before answering (see ${o.logFile})`);
  return {
    child,
    stop: async () => {
      process.removeListener("exit", stopNow);
      if (exited || child.pid === undefined) return;
      child.kill("SIGTERM");
      await waitFor(() => exited || !processAlive(child.pid!), { what: `${o.what} (pid ${child.pid}) to exit`, timeoutMs: 30_000 }).catch(() => child.kill("SIGKILL"));
    },
  };
}
