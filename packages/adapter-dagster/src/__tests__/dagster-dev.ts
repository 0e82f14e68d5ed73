/**
 * `dagster dev` for integration tests: start it on a project, wait (on conditions, with deadlines
 * a loaded machine meets) until its webserver answers and the code location has loaded, query its
 * GraphQL API, and stop its whole process group.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@baton/testing";
import { dagsterEnv } from "./dagster-harness.js";

/** The code location the tests' workspace file names (`dg dev` names it after the project: `code_location_name`). */
export const REPO = { repositoryName: "__repository__", repositoryLocationName: "baton" };
export const STARTUP_MS = 240_000;
export const REQUEST_MS = 180_000;

export interface DagsterDev {
  readonly child: ChildProcess;
  readonly url: string;
  log(): string;
  gql<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `dagster dev` (webserver, daemon, code server, run workers, Node steps) is one process group. */
export async function stopGroup(child: ChildProcess, graceMs = 20_000): Promise<void> {
  const pid = child.pid!;
  if (!groupAlive(pid)) return;
  process.kill(-pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pid) && Date.now() < deadline) await sleep(200);
  if (groupAlive(pid)) process.kill(-pid, "SIGKILL");
  while (groupAlive(pid)) await sleep(100);
}

async function gqlAt<T>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(REQUEST_MS),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (!res.ok || body.errors || !body.data) throw new Error(`GraphQL ${res.status}: ${JSON.stringify(body.errors ?? body)}\nquery: ${query}`);
  return body.data;
}

/** A `__typename`d GraphQL union member, or an error that shows what came back instead. */
export function expectType<T extends { __typename: string }>(value: T, typename: string, what: string): T {
  if (value.__typename !== typename) throw new Error(`${what}: expected ${typename}, got ${JSON.stringify(value)}`);
  return value;
}

/**
 * Spawns `dagster dev` on a built dg project at once (`onSpawn` receives it before the first
 * await, so an afterAll can always stop it), then waits until it is ready. A workspace file names
 * the location "baton" and loads `<module>.definitions` from the project's src/, as dg does.
 */
export async function startDagsterDev(
  project: { outDir: string; module: string },
  env: Record<string, string>,
  port: number,
  onSpawn: (dev: DagsterDev) => void = () => undefined,
  /** Where `dagster dev` runs (default the project folder); outside it, a rebuild can swap the folder under it. */
  cwd: string = project.outDir,
): Promise<DagsterDev> {
  const child = spawn(dagsterEnv().bin("dagster"), ["dev", "-w", writeWorkspace(project), "-p", String(port), "-h", "127.0.0.1"], {
    cwd,
    env: { ...process.env, ...env, PYTHONUNBUFFERED: "1" },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return watchDagsterDev(child, port, REPO.repositoryLocationName, "dagster dev", onSpawn);
}

/** A workspace file that names the location "baton" and loads `<module>.definitions` from the project's src/, as dg does. */
export function writeWorkspace(project: { outDir: string; module: string }): string {
  const workspace = join(mkdtempSync(join(tmpdir(), "baton-dagster-ws-")), "workspace.yaml");
  const entry = { module_name: `${project.module}.definitions`, working_directory: join(project.outDir, "src"), location_name: REPO.repositoryLocationName };
  writeFileSync(workspace, `load_from:\n  - python_module: ${JSON.stringify(entry)}\n`);
  return workspace;
}

/**
 * A DAGSTER_HOME whose runs go through the QueuedRunCoordinator (the daemon dequeues and launches
 * them from its own code server), with its SQLite storage created once by `dagster instance
 * migrate`, as an operator does before a webserver and a daemon share it: both creating a fresh
 * schema at once can leave two alembic heads.
 */
export function queuedInstance(home: string): void {
  mkdirSync(home, { recursive: true });
  writeFileSync(
    join(home, "dagster.yaml"),
    ["run_coordinator:", "  module: dagster._core.run_coordinator", "  class: QueuedRunCoordinator", "  config:", "    dequeue_interval_seconds: 1", "telemetry:", "  enabled: false", ""].join("\n"),
  );
  execFileSync(dagsterEnv().bin("dagster"), ["instance", "migrate"], { env: { ...process.env, DAGSTER_HOME: home }, stdio: "pipe", timeout: 300_000 });
}

/** `dagster-webserver` alone (no daemon) on a workspace file, ready once it has loaded the location. */
export async function startWebserver(workspace: string, env: Record<string, string>, port: number, onSpawn: (dev: DagsterDev) => void = () => undefined): Promise<DagsterDev> {
  const child = spawn(dagsterEnv().bin("dagster-webserver"), ["-w", workspace, "-h", "127.0.0.1", "-p", String(port)], {
    env: { ...env, PYTHONUNBUFFERED: "1" },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return watchDagsterDev(child, port, REPO.repositoryLocationName, "dagster-webserver", onSpawn);
}

export interface DagsterDaemon {
  readonly child: ChildProcess;
  log(): string;
}

/** `dagster-daemon run` on a workspace file (its own code server, with `env`), once its daemons have started. */
export async function startDaemon(workspace: string, env: Record<string, string>, onSpawn: (daemon: DagsterDaemon) => void = () => undefined): Promise<DagsterDaemon> {
  const child = spawn(dagsterEnv().bin("dagster-daemon"), ["run", "-w", workspace], { env: { ...env, PYTHONUNBUFFERED: "1" }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keep = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-60_000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  process.once("exit", () => {
    if (child.pid && groupAlive(child.pid)) process.kill(-child.pid, "SIGKILL");
  });
  const daemon = { child, log: () => log };
  onSpawn(daemon);
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`dagster-daemon exited (${child.exitCode}) before it started:\n${log}`);
      return /daemon.*(started|running)|Instance is configured with the following daemons/i.test(log);
    },
    { timeoutMs: STARTUP_MS, intervalMs: 500, what: "dagster-daemon to start its daemons" },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n--- dagster-daemon output (tail) ---\n${log}`);
  });
  return daemon;
}

/** Waits until a started `dagster dev` / `dg dev` answers and has loaded `location`. */
export async function watchDagsterDev(child: ChildProcess, port: number, location: string, what: string, onSpawn: (dev: DagsterDev) => void = () => undefined): Promise<DagsterDev> {
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-30_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  // Last resort if the worker dies without afterAll: never leave a webserver behind.
  process.once("exit", () => {
    if (child.pid && groupAlive(child.pid)) process.kill(-child.pid, "SIGKILL");
  });
  const url = `http://127.0.0.1:${port}`;
  const started: DagsterDev = { child, url, log: () => log, gql: (query, variables) => gqlAt(url, query, variables) };
  onSpawn(started);

  const fail = (why: string) => new Error(`${what} ${why}\n--- ${what} output (tail) ---\n${log}`);
  const exited = () => {
    if (child.exitCode !== null || child.signalCode !== null) throw fail(`exited (${child.exitCode ?? child.signalCode}) before it was ready`);
  };
  try {
    // 1. the webserver answers
    await waitFor(
      async () => {
        exited();
        return fetch(`${url}/server_info`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.ok, () => false);
      },
      { timeoutMs: STARTUP_MS, intervalMs: 500, what: `${what}'s webserver to answer on ${url}/server_info` },
    );
    // 2. the code location has loaded
    await waitFor(
      async () => {
        exited();
        const { workspaceOrError } = await started.gql<{
          workspaceOrError: { __typename: string; locationEntries?: { name: string; loadStatus: string; locationOrLoadError: { __typename: string; message?: string } | null }[] };
        }>(`{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }`);
        const entry = workspaceOrError.locationEntries?.find((e) => e.name === location);
        if (entry?.locationOrLoadError?.__typename === "PythonError") throw fail(`could not load the code location ${location}: ${entry.locationOrLoadError.message}`);
        return entry?.loadStatus === "LOADED" && entry.locationOrLoadError?.__typename === "RepositoryLocation";
      },
      { timeoutMs: STARTUP_MS, intervalMs: 500, what: `${what} to load the code location ${location}` },
    );
  } catch (e) {
    throw fail((e as Error).message);
  }
  return started;
}
