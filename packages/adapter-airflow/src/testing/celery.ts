// Test support (not published): a small Airflow 3 deployment on one machine with the CeleryExecutor:
// Redis as the broker, the API server, the scheduler, the DAG processor and Celery workers, each a
// process of its own with its own AIRFLOW_HOME, working directory and DAGs folder.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { corePythonWheel } from "@baton/core/build";
import { ensurePythonEnv, freePort, processAlive, waitFor, type PythonEnv, type WaitForOptions } from "@baton/testing";
import { airflowPythonWheel } from "../adapter.js";
import { packageDir } from "./airflow.js";

export const celeryRequirements = join(packageDir, "python", "requirements-celery.txt");

/** Airflow with the Celery provider and Redis client, the Baton wheels and the S3 readers (created once by uv). */
export function celeryPython(): PythonEnv {
  return ensurePythonEnv({ name: "airflow-celery", requirements: celeryRequirements, wheels: [corePythonWheel(), airflowPythonWheel()] });
}

/** One child process with its output in a log file; stopped with its whole process group. */
export class Service {
  private exitCode: number | null | undefined;
  private constructor(
    readonly name: string,
    readonly logFile: string,
    private readonly child: ChildProcess,
  ) {
    child.once("exit", (code, signal) => (this.exitCode = code ?? (signal ? -1 : 0)));
    // A command that cannot start (not installed): an exit with the reason in the log, not an unhandled error.
    child.once("error", (e) => {
      appendFileSync(logFile, `${name}: could not start: ${e.message}\n`);
      this.exitCode = -1;
    });
  }

  static start(name: string, command: string, args: readonly string[], options: { cwd: string; env: Record<string, string>; logFile: string }): Service {
    const log = openSync(options.logFile, "a");
    // detached: a process group of its own, so stop() also ends the children it forks (Celery's pool, task runners).
    const child = spawn(command, [...args], { cwd: options.cwd, env: options.env, stdio: ["ignore", log, log], detached: true });
    closeSync(log);
    // A test process that ends without its afterAll (a crash, a timeout) leaves no server behind.
    process.once("exit", () => {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    });
    return new Service(name, options.logFile, child);
  }

  get exited(): boolean {
    return this.exitCode !== undefined;
  }

  get code(): number | null | undefined {
    return this.exitCode;
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : "";
  }

  /** The end of its log, for a failing test's message. */
  tail(chars = 4000): string {
    return `--- ${this.name} (${this.logFile})${this.exited ? `, exited ${this.exitCode}` : ""}\n${this.log().slice(-chars)}`;
  }

  /** SIGTERM to the group, SIGKILL to what is left after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    const signal = (s: NodeJS.Signals) => {
      try {
        process.kill(-pid, s);
      } catch {
        // the group is gone
      }
    };
    signal("SIGTERM");
    try {
      await waitFor(() => !processAlive(pid), { what: `${this.name} to stop`, timeoutMs: graceMs, intervalMs: 200 });
    } catch {
      // it did not stop in time
    }
    signal("SIGKILL");
  }
}

/** `redis-server` (Debian's package) on a free loopback port, no persistence; answers PING before this returns. */
export async function startRedis(root: string): Promise<{ url: string; service: Service }> {
  const port = await freePort();
  mkdirSync(root, { recursive: true });
  const service = Service.start("redis", "redis-server", ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--dir", root], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    logFile: join(root, "redis.log"),
  });
  await waitFor(
    () => service.exited || ping(port),
    { what: `redis-server to answer PING on 127.0.0.1:${port}` },
  );
  if (service.exited) throw new Error(`redis-server exited (Debian's package redis-server; scripts/setup.sh --with-python installs it):\n${service.tail()}`);
  return { url: `redis://127.0.0.1:${port}`, service };
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
    socket.once("data", (d) => {
      socket.destroy();
      resolve(d.toString().startsWith("+PONG"));
    });
    socket.once("error", () => resolve(false));
  });
}

export interface ClusterOptions {
  readonly python: PythonEnv;
  /** Everything lives below this folder: the shared SQLite DB and one folder per process. */
  readonly root: string;
  /**
   * "CeleryExecutor" (default): tasks run on the Celery `workers`, through `brokerUrl`. "LocalExecutor":
   * the scheduler runs them itself (a supervisor and a task process per task, as on one machine) and
   * there are no workers or broker.
   */
  readonly executor?: "CeleryExecutor" | "LocalExecutor";
  readonly brokerUrl?: string;
  /** The DAGs folder (a copy of the build) of the scheduler, the DAG processor and the API server. */
  readonly dagsFolder: string;
  /** Per worker: its name (also its task instances' hostname), its own DAGs folder, and extra environment (its secrets). */
  readonly workers: readonly { readonly name: string; readonly dagsFolder: string; readonly env?: Readonly<Record<string, string>> }[];
  /** The environment every process starts from (PATH, HOME, ...; no Airflow or Baton variables). */
  readonly baseEnv: Readonly<Record<string, string>>;
}

/** A module whose function Airflow's [core] hostname_callable names: the worker's own name, not the machine's. */
const HOSTNAME_MODULE = `import os\n\n\ndef hostname() -> str:\n    return os.environ["BATON_TEST_WORKER_NAME"]\n`;

export class AirflowCluster {
  readonly services: Service[] = [];
  apiUrl = "";
  private token = "";
  private central: { dir: string; env: Record<string, string> } | undefined;
  // Every process of the cluster shares these: the execution API's tokens and the encrypted DB fields.
  private readonly jwtSecret = randomBytes(32).toString("hex");
  private readonly fernetKey = `${randomBytes(32).toString("base64url")}=`;

  constructor(readonly options: ClusterOptions) {}

  /** The configuration shared by every process: one DB, one broker, one JWT secret and Fernet key. */
  private shared(apiPort: number): Record<string, string> {
    const o = this.options;
    const celery = (o.executor ?? "CeleryExecutor") === "CeleryExecutor";
    if (celery && !o.brokerUrl) throw new Error("the CeleryExecutor needs a brokerUrl");
    return {
      ...o.baseEnv,
      AIRFLOW__CORE__EXECUTOR: o.executor ?? "CeleryExecutor",
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${join(o.root, "airflow.db")}`,
      ...(celery
        ? {
            AIRFLOW__CELERY__BROKER_URL: `${o.brokerUrl}/0`,
            AIRFLOW__CELERY__RESULT_BACKEND: `${o.brokerUrl}/1`,
            AIRFLOW__CELERY__WORKER_CONCURRENCY: "1",
          }
        : {}),
      AIRFLOW__CORE__EXECUTION_API_SERVER_URL: `http://127.0.0.1:${apiPort}/execution/`,
      AIRFLOW__API__BASE_URL: `http://127.0.0.1:${apiPort}`,
      AIRFLOW__API__WORKERS: "1",
      AIRFLOW__API_AUTH__JWT_SECRET: this.jwtSecret,
      AIRFLOW__CORE__FERNET_KEY: this.fernetKey,
      AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS: "True",
      AIRFLOW__CORE__LOAD_EXAMPLES: "False",
      // The schedule and sensor DAGs stay paused; the test unpauses the DAGs it triggers.
      AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION: "True",
      AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL: "5",
      AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL: "5",
      BATON_NODE: process.execPath,
      PYTHONUNBUFFERED: "1",
    };
  }

  private folder(name: string): string {
    const dir = join(this.options.root, name);
    mkdirSync(join(dir, "home"), { recursive: true });
    return dir;
  }

  private env(shared: Record<string, string>, dir: string, dagsFolder: string, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
    return { ...shared, AIRFLOW_HOME: join(dir, "home"), AIRFLOW__CORE__DAGS_FOLDER: dagsFolder, AIRFLOW__LOGGING__BASE_LOG_FOLDER: join(dir, "logs"), ...extra };
  }

  private launch(name: string, args: string[], env: Record<string, string>, cwd: string): Service {
    const service = Service.start(name, this.options.python.bin("airflow"), args, { cwd, env, logFile: join(cwd, `${name}.log`) });
    this.services.push(service);
    return service;
  }

  /** db migrate, then every process; returns once the API answers and every worker said it is ready. */
  async start(): Promise<void> {
    const o = this.options;
    const apiPort = await freePort();
    const shared = this.shared(apiPort);
    const central = this.folder("central");
    const centralEnv = this.env(shared, central, o.dagsFolder);
    this.central = { dir: central, env: centralEnv };
    const migrate = this.launch("db-migrate", ["db", "migrate"], centralEnv, central);
    await waitFor(() => migrate.exited, { what: "airflow db migrate", timeoutMs: 300_000, intervalMs: 500 });
    if (migrate.code !== 0) throw new Error(`airflow db migrate failed:\n${migrate.tail()}`);
    this.services.splice(this.services.indexOf(migrate), 1);

    this.launch("api-server", ["api-server", "--host", "127.0.0.1", "--port", String(apiPort), "--workers", "1"], centralEnv, central);
    this.launch("scheduler", ["scheduler"], centralEnv, central);
    this.launch("dag-processor", ["dag-processor"], centralEnv, central);
    const workers = o.workers.map((w) => {
      const dir = this.folder(w.name);
      const pythonPath = join(dir, "py");
      mkdirSync(pythonPath, { recursive: true });
      writeFileSync(join(pythonPath, "baton_test_worker_name.py"), HOSTNAME_MODULE);
      const env = this.env(shared, dir, w.dagsFolder, {
        ...w.env,
        PYTHONPATH: pythonPath,
        BATON_TEST_WORKER_NAME: w.name,
        AIRFLOW__CORE__HOSTNAME_CALLABLE: "baton_test_worker_name.hostname",
      });
      // Its own Celery node name; no log server (two on one host would want the same port).
      return this.launch(w.name, ["celery", "worker", "--celery-hostname", `${w.name}@%h`, "--concurrency", "1", "--skip-serve-logs"], env, dir);
    });
    this.apiUrl = `http://127.0.0.1:${apiPort}`;
    await this.until(
      async () => {
        const res = await fetch(`${this.apiUrl}/auth/token`);
        if (!res.ok) return false;
        this.token = ((await res.json()) as { access_token: string }).access_token;
        return true;
      },
      { what: `the Airflow API server on ${this.apiUrl} to hand out a token`, timeoutMs: 300_000, intervalMs: 1000 },
    );
    await this.until(
      () => workers.every((w) => /@\S+ ready\./.test(w.log())),
      { what: "both Celery workers to say they are ready", timeoutMs: 300_000, intervalMs: 1000 },
    );
  }

  /**
   * waitFor, but a process of the cluster that exited ends the wait at once with its log (waitFor
   * itself counts a throwing condition as "not yet"); a deadline that passes quotes every log.
   */
  async until<T>(condition: () => T | Promise<T>, options: WaitForOptions): Promise<Exclude<T, undefined | null | false>> {
    const exited = Symbol("exited");
    const value = await waitFor(async () => (this.services.some((s) => s.exited) ? exited : condition()), options).catch((e: Error) => {
      throw new Error(`${e.message}\n${this.logs()}`);
    });
    if (value === exited) throw new Error(`Airflow processes exited while waiting for ${options.what}:\n${this.services.filter((s) => s.exited).map((s) => s.tail()).join("\n")}`);
    return value as Exclude<T, undefined | null | false>;
  }

  /** One call to Airflow's public REST API (api/v2); a non-2xx answer throws with its body. */
  async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.apiUrl}/api/v2${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} /api/v2${path}: ${res.status} ${text.slice(0, 2000)}`);
    return JSON.parse(text) as T;
  }

  /** One `airflow <args>` command as an operator runs it on the central machine; throws with its output unless it exits 0. */
  async cli(args: readonly string[]): Promise<string> {
    const { dir, env } = this.central!;
    const service = Service.start(`airflow ${args[0]}`, this.options.python.bin("airflow"), args, { cwd: dir, env, logFile: join(dir, `cli-${randomBytes(4).toString("hex")}.log`) });
    await waitFor(() => service.exited, { what: `airflow ${args.join(" ")}`, timeoutMs: 300_000, intervalMs: 500 });
    if (service.code !== 0) throw new Error(`airflow ${args.join(" ")} failed:\n${service.tail()}`);
    return service.log();
  }

  logs(): string {
    return this.services.map((s) => s.tail()).join("\n");
  }

  async stop(): Promise<void> {
    // Workers first (no task starts while the rest goes down), then the central processes.
    const workers = this.services.filter((s) => this.options.workers.some((w) => w.name === s.name));
    await Promise.all(workers.map((s) => s.stop()));
    await Promise.all(this.services.filter((s) => !workers.includes(s)).map((s) => s.stop()));
  }
}
