import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { loadDefinitions } from "@baton/core";
import { ensurePythonEnv, startedMarker, type HarnessEnvironment, type HarnessRun, type HarnessTick, type PythonEnv, type RuntimeHarness } from "@baton/testing";
import { buildDagsterProject, dagsterStepEntryPath, type DagsterProject } from "../build.js";

const packageDir = fileURLToPath(new URL("../../", import.meta.url));
const driverPath = fileURLToPath(new URL("./driver.py", import.meta.url));
const ANSWER = "@@driver ";

/** The pinned Dagster from python/requirements-test.txt (created once, cached by uv). */
export function dagsterEnv(): PythonEnv {
  return ensurePythonEnv({ name: "dagster", requirements: join(packageDir, "python", "requirements-test.txt") });
}

export function assertBuilt(): void {
  if (!existsSync(dagsterStepEntryPath)) {
    throw new Error(`${dagsterStepEntryPath} is missing: build the package first (pnpm --filter @baton/adapter-dagster build)`);
  }
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

/** Build the fixture project into workDir and start a driver on it. */
export async function startDagster(environment: HarnessEnvironment): Promise<{ driver: DagsterDriver; project: DagsterProject }> {
  assertBuilt();
  const python = dagsterEnv().python;
  const definitions = await loadDefinitions(environment.fixtureModule, environment.exportName);
  const project = buildDagsterProject({ definitions, module: environment.fixtureModule, exportName: environment.exportName, outDir: join(environment.workDir, "project") });
  const home = join(environment.workDir, "dagster-home");
  const driver = new DagsterDriver(python, { ...environment.env, DAGSTER_HOME: home }, project.outDir);
  await driver.request({ op: "load", definitions: join(project.outDir, "definitions.py"), home });
  return { driver, project };
}

function markerOf(environment: HarnessEnvironment, asset: string): string | null {
  try {
    return startedMarker(environment, asset);
  } catch {
    return null;
  }
}

export function dagsterHarness(): RuntimeHarness {
  let driver: DagsterDriver | undefined;
  let env: HarnessEnvironment | undefined;
  return {
    name: "dagster",
    async setup(environment) {
      env = environment;
      ({ driver } = await startDagster(environment));
    },
    // Cancellation: `dagster asset materialize` SIGTERMed once the asset's started marker exists.
    materialize: (request) =>
      driver!.request<HarnessRun>({
        op: "materialize",
        ...request,
        ...(request.cancelAfterStart ? { startedMarker: markerOf(env!, request.cancelAfterStart) } : {}),
      }),
    scheduleTick: (name, at) => driver!.request<HarnessTick>({ op: "schedule", name, at: at.toISOString() }),
    sensorTick: (name, cursor) => driver!.request<HarnessTick>({ op: "sensor", name, cursor }),
    async teardown() {
      await driver?.close();
    },
  };
}
