// Test and benchmark support (not part of the published API): a private Airflow home and a driver process.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { buildTarget, corePythonWheel, type BuildResult } from "@baton/core/build";
import { ensurePythonEnv, type HarnessEnvironment, type PythonEnv } from "@baton/testing";
import { adapter, airflowPythonWheel } from "../adapter.js";
import type { AirflowOptions } from "../options.js";

const run = promisify(execFile);

export const packageDir = fileURLToPath(new URL("../../", import.meta.url));
export const requirementsFile = join(packageDir, "python", "requirements-test.txt");
const driverFile = join(packageDir, "python", "harness", "driver.py");


/** The pinned Airflow environment with the Baton wheels installed (created once by uv, then reused). */
export function airflowPython(): PythonEnv {
  return ensurePythonEnv({ name: "airflow", requirements: requirementsFile, wheels: [corePythonWheel(), airflowPythonWheel()] });
}

/** The testing package: its node_modules hold what the fixture definitions import. */
const fixtureProject = dirname(createRequire(import.meta.url).resolve("@baton/testing/package.json"));

/** `baton airflow build` of the conformance fixtures into `outDir`, through core's buildTarget. */
export function buildFixture(environment: HarnessEnvironment, outDir: string, rawOptions: Readonly<Record<string, unknown>> = {}): Promise<BuildResult<AirflowOptions>> {
  return buildTarget(adapter, {
    projectRoot: fixtureProject,
    definitionsFile: environment.fixtureModule,
    exportName: environment.exportName,
    outDir,
    // The store the suite chose (a folder, or s3://… on moto); never storageDir, which s3 runs keep empty.
    storage: environment.storage,
    rawOptions,
  });
}

/**
 * An Airflow installation of its own: AIRFLOW_HOME in `root`, SQLite, no examples, the given
 * DAGs folder. The environment passes no Baton or fixture variables: the DAGs get storage and
 * resources through the adapter's options, Connections and Variables.
 */
export function airflowEnvironment(root: string, dagsFolder: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith("AIRFLOW") || k.startsWith("BATON_") || k.startsWith("FIXTURE_") || k.startsWith("ICEBERG_") || k.startsWith("VITEST") || k === "NODE_OPTIONS" || k === "DEV") continue;
    env[k] = v;
  }
  return {
    ...env,
    AIRFLOW_HOME: join(root, "home"),
    AIRFLOW__CORE__DAGS_FOLDER: dagsFolder,
    AIRFLOW__CORE__LOAD_EXAMPLES: "False",
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${join(root, "home", "airflow.db")}`,
    AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION: "True",
    // Connection passwords and Variables are stored encrypted, as in any real deployment.
    AIRFLOW__CORE__FERNET_KEY: `${randomBytes(32).toString("base64url")}=`,
    // The Node that runs the tests runs the steps too.
    BATON_NODE: process.execPath,
    PYTHONUNBUFFERED: "1",
  };
}

/** Deadlines for the driver, generous enough for a busy 2-core machine (a dag.test() run of many tasks). */
export const DRIVER_START_MS = 180_000;
export const DRIVER_REQUEST_MS = 480_000;
const MIGRATE_MS = 300_000;

/** `airflow db migrate` into a fresh home (once per suite). */
export async function migrate(python: PythonEnv, env: Record<string, string>): Promise<void> {
  mkdirSync(env.AIRFLOW_HOME!, { recursive: true });
  try {
    await run(python.bin("airflow"), ["db", "migrate"], { env, maxBuffer: 64 * 1024 * 1024, timeout: MIGRATE_MS, killSignal: "SIGKILL" });
  } catch (e) {
    const err = e as { stderr?: string; message: string; killed?: boolean };
    const why = err.killed ? `it did not finish within ${MIGRATE_MS / 1000} s` : err.message;
    throw new Error(`airflow db migrate failed: ${why}\n${(err.stderr ?? "").slice(-4000)}`, { cause: e });
  }
}

interface Reply {
  readonly id?: number;
  readonly ok?: boolean;
  readonly result?: unknown;
  readonly error?: string;
  readonly trace?: string;
  readonly ready?: boolean;
}

/**
 * One long-lived Python process with Airflow imported (importing Airflow takes seconds): JSON
 * requests on its stdin, replies on fd 3, Airflow's own logs to `logFile`.
 */
export class AirflowDriver {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited: Error | undefined;

  constructor(
    private readonly python: PythonEnv,
    private readonly env: Record<string, string>,
    readonly logFile: string,
  ) {}

  async start(): Promise<void> {
    mkdirSync(dirname(this.logFile), { recursive: true });
    const log = openSync(this.logFile, "a");
    const child = spawn(this.python.python, [driverFile], { env: this.env, stdio: ["pipe", log, log, "pipe"] });
    closeSync(log);
    this.child = child;
    const replies = createInterface({ input: child.stdio[3] as NodeJS.ReadableStream });
    const ready = new Promise<void>((resolve, reject) => {
      replies.on("line", (line) => {
        const reply = JSON.parse(line) as Reply;
        if (reply.ready) return resolve();
        const waiter = reply.id !== undefined ? this.pending.get(reply.id) : undefined;
        if (!waiter) return;
        this.pending.delete(reply.id!);
        if (reply.ok) waiter.resolve(reply.result);
        else waiter.reject(new Error(`Airflow driver: ${reply.error}\n${reply.trace ?? ""}`));
      });
      child.on("exit", (code) => {
        this.exited = new Error(`the Airflow driver exited with code ${code}; its log:\n${this.logTail()}`);
        reject(this.exited);
        for (const w of this.pending.values()) w.reject(this.exited);
        this.pending.clear();
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${DRIVER_START_MS / 1000} s waiting for the Airflow driver to import Airflow and say it is ready; its log:\n${this.logTail()}`)), DRIVER_START_MS);
    });
    try {
      await Promise.race([ready, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One request; its reply must come within `timeoutMs` (default DRIVER_REQUEST_MS, generous for a
   * loaded 2-core machine), else the promise rejects saying which request it waited for, with the log.
   */
  request<T>(op: string, args: Record<string, unknown> = {}, timeoutMs = DRIVER_REQUEST_MS): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    const started = Date.now();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        const what = `${op} ${JSON.stringify(args).slice(0, 200)}`;
        reject(new Error(`timed out after ${Math.round((Date.now() - started) / 1000)} s waiting for the Airflow driver to answer ${what}; its log:\n${this.logTail()}`));
      }, timeoutMs);
      const settle = <V>(f: (v: V) => void) => (v: V) => {
        clearTimeout(timer);
        f(v);
      };
      this.pending.set(id, { resolve: settle(resolve as (v: unknown) => void), reject: settle(reject) });
      this.child!.stdin!.write(JSON.stringify({ id, op, ...args }) + "\n");
    });
  }

  /** Send `signal` to the driver process (it runs `dag.test()` tasks in-process: it is their task runner). */
  signal(signal: NodeJS.Signals): void {
    this.child!.kill(signal);
  }

  logTail(chars = 6000): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8").slice(-chars) : "(no log)";
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const done = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.stdin!.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await done;
    clearTimeout(timer);
  }
}

export interface TaskReport {
  readonly state: string | null;
  readonly tryNumber: number;
  readonly displayName?: string;
  readonly xcom?: Record<string, any>;
}

export interface DagTestReport {
  readonly runId: string;
  readonly state: string;
  readonly dataIntervalStart: string | null;
  readonly dataIntervalEnd: string | null;
  readonly tasks: Record<string, TaskReport>;
  /** The run's asset events (Airflow's `asset_event` rows), in order. */
  readonly materializations: readonly { readonly asset: string; readonly partitionKey: string | null; readonly extra: Record<string, unknown> | null; readonly taskId: string }[];
  /** Every metadata-DB row about the run, one `table: {json}` line each. */
  readonly recordsText: string;
}
