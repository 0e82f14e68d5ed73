import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { buildTarget, corePythonWheel, type BuildResult } from "@baton/core/build";
import { ensurePythonEnv, startedMarker, type HarnessEnvironment, type HarnessRun, type HarnessTick, type PythonEnv, type RuntimeHarness, stopWorkers } from "@baton/testing";
import { adapter, dagsterWheel } from "../adapter.js";
import { moduleName } from "../project.js";

export const packageDir = fileURLToPath(new URL("../../", import.meta.url));
const stepBin = join(packageDir, adapter.runtime.stepBin);
const driverPath = fileURLToPath(new URL("./driver.py", import.meta.url));
const ANSWER = "@@driver ";


/** The pinned Dagster from python/requirements-test.txt with the baton-core and baton-dagster wheels (cached by uv). */
export function dagsterEnv(): PythonEnv {
  return ensurePythonEnv({ name: "dagster", requirements: join(packageDir, "python", "requirements-test.txt"), wheels: [corePythonWheel(), dagsterWheel()] });
}

export function assertBuilt(): void {
  if (!existsSync(stepBin)) {
    throw new Error(`${stepBin} is missing: build the package first (pnpm --filter @baton/adapter-dagster build)`);
  }
}

export type DagsterProject = BuildResult<unknown> & { readonly module: string };

let fixtureRoot: string | undefined;

/**
 * A project for the test definitions, as a user's would be: its node_modules holds what they
 * import (@baton/core, nodejs-polars, apache-arrow, @baton/iceberg, from @baton/testing's install) and this adapter
 * (the step package), linked to the installed packages, which the build copies into its runtime.
 */
export function fixtureProject(): string {
  if (fixtureRoot) return fixtureRoot;
  const root = mkdtempSync(join(tmpdir(), "baton-dagster-fixtures-"));
  const testing = dirname(require.resolve("@baton/testing/package.json"));
  const packages: Record<string, string> = { "@baton/adapter-dagster": packageDir };
  for (const name of ["@baton/core", "nodejs-polars", "apache-arrow"]) packages[name] = realpathSync(join(testing, "node_modules", name));
  // The iceberg fixtures' catalog resource (icebergCatalog), with its DuckDB engine under it.
  const iceberg = join(testing, "node_modules", "@baton", "iceberg");
  if (existsSync(iceberg)) packages["@baton/iceberg"] = realpathSync(iceberg);
  for (const [name, dir] of Object.entries(packages)) {
    mkdirSync(dirname(join(root, "node_modules", name)), { recursive: true });
    symlinkSync(dir, join(root, "node_modules", name), "dir");
  }
  const dependencies = Object.fromEntries(Object.keys(packages).map((n) => [n, "*"]));
  writeFileSync(join(root, "package.json"), JSON.stringify({ name: "dagster-fixtures", private: true, type: "module", dependencies }, null, 2));
  fixtureRoot = root;
  return root;
}
const require = createRequire(import.meta.url);

/** examples/customer-metrics: a real project (its node_modules has this adapter as a devDependency). */
export const exampleDir = join(packageDir, "..", "..", "examples", "customer-metrics");

/** `baton dagster build` of the example, as a user runs it in the example's folder. */
export async function buildExample(outDir: string, storage: string | null = null): Promise<DagsterProject> {
  assertBuilt();
  const result = await buildTarget(adapter, { projectRoot: exampleDir, definitionsFile: "src/definitions.ts", outDir, storage });
  return { ...result, module: moduleName(result.input.projectName) };
}

/** `baton dagster build` of a compiled definitions module (core's buildTarget with this adapter). */
export async function buildProject(definitionsFile: string, outDir: string, exportName = "default"): Promise<DagsterProject> {
  assertBuilt();
  const result = await buildTarget(adapter, { projectRoot: fixtureProject(), definitionsFile, exportName, outDir });
  return { ...result, module: moduleName(result.input.projectName) };
}

/**
 * One long-lived Python process (driver.py) holding the loaded code location and a Dagster
 * instance; each request is one JSON line in, one JSON line out.
 */
export class DagsterDriver {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly answers: ((line: string) => void)[] = [];
  private stderr = "";

  constructor(python: string, env: Readonly<Record<string, string>>, cwd: string) {
    this.child = spawn(python, [driverPath], { cwd, env: { ...process.env, ...env, PYTHONUNBUFFERED: "1" } });
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      if (line.startsWith(ANSWER)) this.answers.shift()?.(line.slice(ANSWER.length));
    });
    // Dagster logs and Node's own output go to stderr/stdout; keep the tail for error messages.
    this.child.stderr.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
    });
  }

  request<T>(payload: Record<string, unknown>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the Dagster driver exited (${code}):\n${this.stderr}`));
      this.child.once("exit", onExit);
      this.answers.push((line) => {
        this.child.off("exit", onExit);
        const answer = JSON.parse(line) as { result?: T; error?: string; trace?: string };
        if (answer.error !== undefined) reject(new Error(`${answer.error}\n${answer.trace ?? ""}`));
        else resolve(answer.result as T);
      });
      this.child.stdin.write(JSON.stringify(payload) + "\n");
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.stdin.end();
    await exited;
  }
}

/** Build the fixture project into workDir and start a driver on it; `env` adds to the suite's variables. */
export async function startDagster(environment: HarnessEnvironment, env: Readonly<Record<string, string>> = {}): Promise<{ driver: DagsterDriver; project: DagsterProject }> {
  const python = dagsterEnv().python;
  const project = await buildProject(environment.fixtureModule, join(environment.workDir, "project"), environment.exportName);
  const home = join(environment.workDir, "dagster-home");
  const driver = new DagsterDriver(python, { ...environment.env, ...env, DAGSTER_HOME: home }, project.outDir);
  await driver.request({ op: "load", project: project.outDir, module: project.module, home });
  return { driver, project };
}

function markerOf(environment: HarnessEnvironment, asset: string): string | null {
  try {
    return startedMarker(environment, asset);
  } catch {
    return null;
  }
}

export interface DagsterHarnessOptions {
  /** The runtime's name in the report (default "dagster"). */
  readonly name?: string;
  /** Variables for the code location and every step it starts (e.g. BATON_WORKER=off). */
  readonly env?: Readonly<Record<string, string>>;
}

export function dagsterHarness(options: DagsterHarnessOptions = {}): RuntimeHarness {
  let driver: DagsterDriver | undefined;
  let env: HarnessEnvironment | undefined;
  /** This run's own warm workers' folder: short (a Unix socket path has at most 107 bytes), outside workDir. */
  let workers: string | undefined;
  return {
    name: options.name ?? "dagster",
    async setup(environment) {
      env = environment;
      workers = mkdtempSync(join(tmpdir(), "bw-"));
      ({ driver } = await startDagster(environment, { BATON_WORKER_DIR: workers, BATON_WORKER_IDLE_SECONDS: "60", ...options.env }));
    },
    // Cancellation: `dagster asset materialize` SIGTERMed once the asset's started marker exists.
    materialize: (request) =>
      driver!.request<HarnessRun>({
        op: "materialize",
        ...request,
        ...(request.cancelAfterStart ? { startedMarker: markerOf(env!, request.cancelAfterStart) } : {}),
      }),
    // Only these checks: a run of a job selecting just their AssetCheckKeys (driver.py, checks).
    runChecks: (request) => driver!.request<HarnessRun>({ op: "checks", ...request }),
    scheduleTick: (name, at) => driver!.request<HarnessTick>({ op: "schedule", name, at: at.toISOString() }),
    sensorTick: (name, cursor) => driver!.request<HarnessTick>({ op: "sensor", name, cursor }),
    async teardown() {
      await driver?.close();
      // The workers outlive the driver (sessions of their own): stop this run's.
      if (workers) {
        await stopWorkers(workers);
        rmSync(workers, { recursive: true, force: true });
      }
    },
  };
}
