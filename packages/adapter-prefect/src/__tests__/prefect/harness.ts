import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Manifest } from "@baton/core";
import { buildTarget } from "@baton/core/build";
import { startedMarker, waitFor, type HarnessEnvironment, type HarnessMaterialization, type HarnessRun, type HarnessTick, type MaterializeRequest, type RuntimeHarness } from "@baton/testing";
import { adapter } from "../../cli.js";
import { deploymentSpecs, type DeploymentSpec } from "../../deployments.js";
import type { PrefectResources } from "../../resources.js";
import { Driver } from "./driver.js";
import { packageDir } from "./env.js";
import type { PrefectServer } from "./server.js";

export interface DriverAsset {
  readonly status: "success" | "failure" | "skipped";
  readonly attempts: number;
  readonly error: string | null;
  readonly state: string | null;
  readonly taskRunId?: string;
  readonly upstream?: readonly string[];
}

export interface DriverRun {
  readonly flowRunId: string;
  readonly flowName: string;
  readonly status: "success" | "failure";
  /** The flow run's final state name (Completed, Failed, Cancelled, ...). */
  readonly state: string;
  readonly message: string | null;
  /** From Prefect's `prefect.asset.materialization.succeeded` events of the run. */
  readonly materializations: readonly HarnessMaterialization[];
  /** The flow run, its states, task runs and their states, logs, events, artifacts, return value. */
  readonly recordsText: string;
  readonly assets: Readonly<Record<string, DriverAsset>>;
  readonly checks: readonly { asset: string; check: string; passed: boolean; partitionKey: string | null }[];
}

/**
 * The fixtures' resources as a Prefect user would keep them: the API token in a Secret block, the
 * URL in a Variable, the landing folder in a BatonResource block, the audit folder in the env.
 * `leaky` is mapped nowhere: its secret comes from the worker's environment, and must be masked too.
 */
export const FIXTURE_RESOURCES: PrefectResources = {
  audit_api: { fields: { token: { secret: "fixture-api-token" }, url: { variable: "fixture_api_url" } } },
  canary: { fields: { token: { secret: "fixture-api-token" } } },
  landing: { block: "fixture-landing" },
};
const FROM_PREFECT = ["FIXTURE_API_URL", "FIXTURE_LANDING_DIR"];

/** A build of the fixtures for Prefect, as `baton prefect build` writes it. */
export interface PrefectProject {
  readonly outDir: string;
  readonly manifest: Manifest;
  readonly deployments: readonly DeploymentSpec[];
}

/** Build the conformance fixtures with core's runner and this adapter; the fixtures' package is the project. */
export async function buildFixtures(options: { fixtureModule: string; exportName?: string; outDir: string; flowName: string; resources?: PrefectResources; storage?: string }): Promise<PrefectProject> {
  const built = await buildTarget(adapter, {
    projectRoot: packageDir("@baton/testing"),
    definitionsFile: options.fixtureModule,
    exportName: options.exportName ?? "default",
    outDir: options.outDir,
    rawOptions: { flowName: options.flowName, ...(options.resources ? { resources: options.resources } : {}) },
    storage: options.storage ?? null,
  });
  return { outDir: built.outDir, manifest: built.manifest, deployments: deploymentSpecs(built.manifest, options.flowName) };
}

export interface PrefectHarness extends RuntimeHarness {
  readonly driver: () => Driver;
  readonly project: () => PrefectProject;
  readonly environment: () => HarnessEnvironment;
  run(request: MaterializeRequest): Promise<DriverRun>;
}

/** The conformance harness: flows run through the real Prefect; results are read from its API. */
export function prefectHarness(options: { python: () => string; server: () => PrefectServer; flowName: string }): PrefectHarness {
  let driver: Driver | undefined;
  let project: PrefectProject | undefined;
  let environment: HarnessEnvironment | undefined;

  const params = (request: MaterializeRequest) => ({
    assets: request.assets,
    partitionKey: request.partitionKey ?? null,
    rangeStart: request.partitionRange?.start ?? null,
    rangeEnd: request.partitionRange?.end ?? null,
  });

  /** A run of the `materialize` deployment under `prefect flow-run execute`, cancelled with
   * `prefect flow-run cancel` once the asset's step has started (its start marker exists). */
  const cancelledRun = async (request: MaterializeRequest, asset: string): Promise<DriverRun> => {
    const marker = startedMarker(environment!, asset);
    const started = await driver!.request<{ flowRunId: string }>("start_run", { ...params(request), logFile: join(environment!.workDir, "flow-run-execute.log") });
    await waitFor(() => existsSync(marker), { what: `the step of ${asset} to start (${marker}) in flow run ${started.flowRunId}` });
    const cancel = await driver!.request<{ exitCode: number; output: string }>("cancel_run", { flowRunId: started.flowRunId });
    if (cancel.exitCode !== 0) throw new Error(`prefect flow-run cancel ${started.flowRunId} failed: ${cancel.output}`);
    return driver!.request<DriverRun>("finish_run", { ...params(request), flowRunId: started.flowRunId }, 600_000);
  };

  const run = (request: MaterializeRequest) =>
    request.cancelAfterStart === undefined ? driver!.request<DriverRun>("materialize", params(request), 600_000) : cancelledRun(request, request.cancelAfterStart);

  return {
    name: "prefect",
    driver: () => driver!,
    project: () => project!,
    environment: () => environment!,
    run,
    async setup(e) {
      environment = e;
      project = await buildFixtures({ fixtureModule: e.fixtureModule, exportName: e.exportName, outDir: join(e.workDir, "project"), flowName: options.flowName, resources: FIXTURE_RESOURCES });
      // Values that Prefect keeps (blocks, variables) are not in the driver's environment at all.
      // PYTHONPATH only lets the driver import the generated flows.py; baton_prefect is installed.
      const env: Record<string, string | undefined> = { ...process.env, ...e.env, ...options.server().env, BATON_NODE: process.execPath, PYTHONPATH: project.outDir };
      for (const name of FROM_PREFECT) delete env[name];
      driver = new Driver(options.python(), { cwd: project.outDir, env, logFile: join(e.workDir, "driver.log") });
      await driver.request("setup", {
        secrets: { "fixture-api-token": e.env.FIXTURE_API_TOKEN },
        variables: { fixture_api_url: e.env.FIXTURE_API_URL },
        blocks: { "fixture-landing": { values: { dir: e.env.FIXTURE_LANDING_DIR } } },
      });
    },
    async materialize(request): Promise<HarnessRun> {
      const result = await run(request);
      return {
        status: result.status,
        assets: Object.fromEntries(Object.entries(result.assets).map(([id, a]) => [id, { status: a.status, attempts: a.attempts, error: a.error }])),
        checks: result.checks,
        materializations: result.materializations,
        recordsText: result.recordsText,
      };
    },
    async scheduleTick(name, at): Promise<HarnessTick> {
      const tick = await driver!.request<HarnessTick>("schedule_tick", { name, at: at.toISOString() });
      return { runRequests: tick.runRequests, cursor: tick.cursor, skipReason: tick.skipReason, recordsText: tick.recordsText };
    },
    async sensorTick(name, cursor): Promise<HarnessTick> {
      const tick = await driver!.request<HarnessTick>("sensor_tick", { name, cursor }, 600_000);
      return { runRequests: tick.runRequests, cursor: tick.cursor, skipReason: tick.skipReason, recordsText: tick.recordsText };
    },
    async teardown() {
      await driver?.close();
      driver = undefined;
    },
  };
}
