import { join } from "node:path";
import { loadDefinitions } from "@baton/core";
import type { HarnessEnvironment, HarnessRun, HarnessTick, RuntimeHarness } from "@baton/testing";
import { buildPrefectProject, type PrefectProject } from "../../build.js";
import type { PrefectResources } from "../../resources.js";
import { Driver } from "./driver.js";
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
  readonly message: string | null;
  readonly assets: Readonly<Record<string, DriverAsset>>;
  readonly checks: readonly { asset: string; check: string; passed: boolean; partitionKey: string | null }[];
}

/**
 * The fixtures' resources as a Prefect user would keep them: the API token in a Secret block, the
 * URL in a Variable, the landing folder in a BatonResource block, the audit folder in the env.
 */
export const FIXTURE_RESOURCES: PrefectResources = {
  audit_api: { fields: { token: { secret: "fixture-api-token" }, url: { variable: "fixture_api_url" } } },
  landing: { block: "fixture-landing" },
};
const FROM_PREFECT = ["FIXTURE_API_TOKEN", "FIXTURE_API_URL", "FIXTURE_LANDING_DIR"];

export interface PrefectHarness extends RuntimeHarness {
  readonly driver: () => Driver;
  readonly project: () => PrefectProject;
  readonly environment: () => HarnessEnvironment;
  run(request: Parameters<RuntimeHarness["materialize"]>[0]): Promise<DriverRun>;
}

/** The conformance harness: flows run through the real Prefect; results are read from its API. */
export function prefectHarness(options: { python: () => string; server: () => PrefectServer; flowName: string }): PrefectHarness {
  let driver: Driver | undefined;
  let project: PrefectProject | undefined;
  let environment: HarnessEnvironment | undefined;

  const run = (request: Parameters<RuntimeHarness["materialize"]>[0]) =>
    driver!.request<DriverRun>("materialize", {
      assets: request.assets,
      partitionKey: request.partitionKey ?? null,
      rangeStart: request.partitionRange?.start ?? null,
      rangeEnd: request.partitionRange?.end ?? null,
    });

  return {
    name: "prefect",
    driver: () => driver!,
    project: () => project!,
    environment: () => environment!,
    run,
    async setup(e) {
      environment = e;
      const definitions = await loadDefinitions(e.fixtureModule, e.exportName);
      project = buildPrefectProject({ definitions, module: e.fixtureModule, exportName: e.exportName, outDir: join(e.workDir, "project"), flowName: options.flowName, resources: FIXTURE_RESOURCES });
      // Values that Prefect keeps (blocks, variables) are not in the driver's environment at all.
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
      };
    },
    async scheduleTick(name, at): Promise<HarnessTick> {
      return driver!.request<HarnessTick>("schedule_tick", { name, at: at.toISOString() });
    },
    async sensorTick(name, cursor): Promise<HarnessTick> {
      return driver!.request<HarnessTick>("sensor_tick", { name, cursor });
    },
    async teardown() {
      await driver?.close();
      driver = undefined;
    },
  };
}
