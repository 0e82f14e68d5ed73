import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import type { AdapterCommand } from "@baton/core/build";
import type { PrefectOptions } from "./options.js";

/**
 * `baton prefect dev --out DIR [--python PYTHON] [--port 4200]`: core builds into DIR, then this
 * serves it. PYTHON needs the folder's requirements.txt installed (default $BATON_PREFECT_PYTHON or python3).
 */
export const devCommand: AdapterCommand<PrefectOptions> = {
  description: "build, then start a local Prefect server and serve every deployment of the build (--python PYTHON, --port 4200)",
  async run(context) {
    let values: { python?: string; port?: string };
    try {
      ({ values } = parseArgs({ args: [...context.args], options: { python: { type: "string" }, port: { type: "string" } } }));
    } catch (e) {
      context.err(`baton prefect dev: ${(e as Error).message}\n`);
      return 2;
    }
    const port = Number(values.port ?? 4200);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) {
      context.err(`baton prefect dev: --port ${values.port} is not a TCP port\n`);
      return 2;
    }
    const python = values.python ?? process.env.BATON_PREFECT_PYTHON ?? "python3";
    return serveLocally({ projectDir: context.outDir, python, port, log: context.out });
  },
};

export interface DevServerOptions {
  /** The build folder (flows.py inside). */
  readonly projectDir: string;
  /** A Python with the folder's requirements.txt installed. */
  readonly python: string;
  readonly port: number;
  readonly log: (text: string) => void;
}

/**
 * A local Prefect server (its home and SQLite database outside the build folder, which the next build replaces) and
 * `python flows.py` serving every deployment against it, until Ctrl-C.
 */
export async function serveLocally(o: DevServerOptions): Promise<number> {
  // Next to the build, not in it: a rebuild replaces the folder, the runs history stays.
  const home = process.env.PREFECT_HOME ?? `${o.projectDir.replace(/\/+$/, "")}.prefect`;
  mkdirSync(home, { recursive: true });
  const api = `http://127.0.0.1:${o.port}/api`;
  const env = { ...process.env, PREFECT_HOME: home, PREFECT_API_URL: api, BATON_NODE: process.env.BATON_NODE ?? process.execPath };
  const children: ChildProcess[] = [];
  // The runner first (it pauses its deployments through the API), then the server.
  let stopping: Promise<void> | undefined;
  const stopAll = () => (stopping ??= (async () => {
    for (const c of [...children].reverse()) await stop(c, c === children[0] ? "SIGTERM" : "SIGINT");
  })());
  process.once("SIGINT", () => void stopAll());
  process.once("SIGTERM", () => void stopAll());
  // The UI asks /ui-settings where the API is: prefect 3.9.1 answers PREFECT_SERVER_UI_API_URL, else
  // PREFECT_API_URL, else http://PREFECT_SERVER_API_HOST:PREFECT_SERVER_API_PORT/api (settings/models/root.py),
  // and `--port` sets none of them (cli/server.py), so without this the UI would call port 4200.
  const uiApi = process.env.PREFECT_SERVER_UI_API_URL ?? process.env.PREFECT_UI_API_URL ?? api;
  const serverEnv = { ...env, PREFECT_API_URL: "", PREFECT_SERVER_UI_API_URL: uiApi };
  const server = spawn(o.python, ["-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", String(o.port)], { env: serverEnv, stdio: "inherit", detached: true });
  children.push(server);
  for (let i = 0; ; i++) {
    if (server.exitCode !== null) return server.exitCode || 1;
    if ((await fetch(`${api}/health`).then((r) => r.ok).catch(() => false)) === true) break;
    if (i > 600) {
      await stopAll();
      o.log(`the Prefect server did not start within 2 minutes\n`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  o.log(`Prefect UI: http://127.0.0.1:${o.port}  (serving the deployments of ${o.projectDir}; Ctrl-C stops)\n`);
  const serve = spawn(o.python, ["flows.py"], { cwd: o.projectDir, env, stdio: "inherit", detached: true });
  children.push(serve);
  const code = await new Promise<number>((r) => serve.once("exit", (c) => r(c ?? 0)));
  await stopAll();
  return code;
}

/** Signal a detached child's process group; kill it if it has not exited after 15 s. */
async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  process.kill(-child.pid, signal);
  const timer = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, "SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}
