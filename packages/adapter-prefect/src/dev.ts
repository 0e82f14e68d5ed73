import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export interface DevServerOptions {
  /** The built project folder (flows.py inside). */
  readonly projectDir: string;
  /** A Python with prefect==3.9.1 installed. */
  readonly python: string;
  readonly port: number;
  readonly log: (text: string) => void;
}

/**
 * `baton prefect dev`: a local Prefect server (home and SQLite database in <project>/.prefect) and
 * `python flows.py` serving every deployment against it, until Ctrl-C.
 */
export async function serveLocally(o: DevServerOptions): Promise<number> {
  const home = join(o.projectDir, ".prefect");
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
  const server = spawn(o.python, ["-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", String(o.port)], { env: { ...env, PREFECT_API_URL: "" }, stdio: "inherit", detached: true });
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
