import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Manifest } from "@baton/core";
import { buildTarget } from "@baton/core/build";
import { CAPABILITIES, startedMarker, waitFor, type Capability, type CheckRequest, type HarnessEnvironment, type HarnessMaterialization, type HarnessRun, type HarnessTick, type MaterializeRequest, type RuntimeHarness, stopWorkers } from "@baton/testing";
import { adapter } from "../../cli.js";
import { deploymentSpecs, type DeploymentSpec } from "../../deployments.js";
import type { PrefectResources } from "../../resources.js";
import { Driver } from "./driver.js";
import { packageDir } from "./env.js";
import type { PrefectServer } from "./server.js";

/**
 * What the Prefect runtime is held to: every capability but those named in NOT_YET, each with the
 * reason. Truth, secrets and cancellation are read from Prefect's own records (flow- and task-run
 * states, asset events, logs, artifacts); the cancellation is `prefect flow-run cancel`.
 */
export const PREFECT_CAPABILITIES = [
  "materialize", "arrow", "sideEffects", "resources", "partitions", "partitionRanges", "partitionMappings", "staticPartitions",
  "retries", "failures", "checks", "schedules", "sensors",
  "truth", "secrets", "cancellation", "dst", "retryClasses", "hostileKeys", "scheduleEnd", "timeouts",
  // The sensor's log lines are the tick's flow run logs, read back from Prefect's API.
  "tickLogs",
  // The asset event's payload "user"; checks alone are a run of the checks flow (check_assets).
  "metadata", "standaloneChecks",
  // Iceberg table outputs: the catalog's config from a Baton Resource block; the table and snapshot from the asset event.
  "icebergOutput",
] as const satisfies readonly Capability[];
const NOT_YET: Partial<Record<Capability, string>> = {};
const undeclared = CAPABILITIES.filter((c) => !(PREFECT_CAPABILITIES as readonly Capability[]).includes(c) && NOT_YET[c] === undefined);
if (undeclared.length) throw new Error(`declare every capability for Prefect, or say in NOT_YET why not: ${undeclared.join(", ")}`);

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
  /** The run's check task runs ("check <asset>:<name>"): state and the task runs they waited for. */
  readonly checkRuns: readonly { name: string; state: string; taskRunId: string; upstream: readonly string[] }[];
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
  // The Iceberg catalog (icebergCatalog): one Baton Resource block, its S3 keys in the block's secrets.
  lake: { block: "fixture-lake" },
};
const FROM_PREFECT = ["FIXTURE_API_URL", "FIXTURE_LANDING_DIR"];

/** icebergCatalog's config fields and the variables the suite sets for them (capability icebergOutput). */
const LAKE_VALUES = { uri: "ICEBERG_REST_URI", warehouse: "ICEBERG_WAREHOUSE", s3Endpoint: "ICEBERG_S3_ENDPOINT", s3Region: "ICEBERG_S3_REGION" } as const;
const LAKE_SECRETS = { accessKeyId: "ICEBERG_S3_ACCESS_KEY_ID", secretAccessKey: "ICEBERG_S3_SECRET_ACCESS_KEY" } as const;

/** The block document of the catalog, when the suite started one: its fields from the environment's ICEBERG_* variables. */
function lakeBlock(env: Readonly<Record<string, string | undefined>>): { values: Record<string, string>; secrets: Record<string, string> } | null {
  if (env.ICEBERG_REST_URI === undefined) return null;
  const pick = (fields: Readonly<Record<string, string>>) =>
    Object.fromEntries(Object.entries(fields).flatMap(([field, name]) => (env[name] === undefined ? [] : [[field, env[name]!]])));
  return { values: pick(LAKE_VALUES), secrets: pick(LAKE_SECRETS) };
}

/** On an s3:// store the S3 credentials are a Prefect Secret too (`--storage-secret`), never the driver's env. */
export const STORAGE_SECRET = "fixture-s3";

/** The storage Secret's value for the AWS variables of an environment: JSON as a string (Prefect masks only string values). */
export function storageSecretValue(env: Readonly<Record<string, string | undefined>>): string {
  const value: Record<string, string | undefined> = {
    aws_access_key_id: env.AWS_ACCESS_KEY_ID,
    aws_secret_access_key: env.AWS_SECRET_ACCESS_KEY,
    aws_session_token: env.AWS_SESSION_TOKEN,
    region: env.AWS_REGION,
    endpoint_url: env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL,
  };
  return JSON.stringify(Object.fromEntries(Object.entries(value).filter((e) => e[1] !== undefined)));
}

/** A build of the fixtures for Prefect, as `baton prefect build` writes it. */
export interface PrefectProject {
  readonly outDir: string;
  readonly manifest: Manifest;
  readonly deployments: readonly DeploymentSpec[];
}

/** Build the conformance fixtures with core's runner and this adapter; the fixtures' package is the project. */
export async function buildFixtures(options: { fixtureModule: string; exportName?: string; outDir: string; flowName: string; resources?: PrefectResources; storage?: string; storageSecret?: string }): Promise<PrefectProject> {
  const built = await buildTarget(adapter, {
    projectRoot: packageDir("@baton/testing"),
    definitionsFile: options.fixtureModule,
    exportName: options.exportName ?? "default",
    outDir: options.outDir,
    rawOptions: { flowName: options.flowName, ...(options.resources ? { resources: options.resources } : {}), ...(options.storageSecret ? { storageSecret: options.storageSecret } : {}) },
    storage: options.storage ?? null,
  });
  return { outDir: built.outDir, manifest: built.manifest, deployments: deploymentSpecs(built.manifest, options.flowName) };
}

export interface PrefectHarness extends RuntimeHarness {
  readonly driver: () => Driver;
  readonly project: () => PrefectProject;
  readonly environment: () => HarnessEnvironment;
  run(request: MaterializeRequest): Promise<DriverRun>;
  /** A run of the checks flow, read back from Prefect (as runChecks, with the driver's details). */
  checks(request: CheckRequest): Promise<DriverRun>;
}

/**
 * The conformance harness: flows run through the real Prefect; results are read from its API.
 * `env` adds variables to the process that runs the flows (BATON_WORKER=off: one Node process per
 * step); `name` is the runtime's name in reports. The warm workers it starts (their own folder,
 * BATON_WORKER_DIR) are stopped at teardown rather than left to idle out.
 */
export function prefectHarness(options: { python: () => string; server: () => PrefectServer; flowName: string; name?: string; env?: Readonly<Record<string, string>> }): PrefectHarness {
  let driver: Driver | undefined;
  let workers: string | undefined;
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

  const harnessRun = (result: DriverRun): HarnessRun => ({
    status: result.status,
    assets: Object.fromEntries(Object.entries(result.assets).map(([id, a]) => [id, { status: a.status, attempts: a.attempts, error: a.error }])),
    checks: result.checks,
    materializations: result.materializations,
    recordsText: result.recordsText,
  });

  const checks = (request: CheckRequest) =>
    driver!.request<DriverRun>("run_checks", { checks: request.checks.map((c) => `${c.asset}:${c.check}`), partitionKey: request.partitionKey ?? null }, 600_000);

  const run = (request: MaterializeRequest) =>
    request.cancelAfterStart === undefined ? driver!.request<DriverRun>("materialize", params(request), 600_000) : cancelledRun(request, request.cancelAfterStart);

  return {
    name: options.name ?? "prefect",
    driver: () => driver!,
    project: () => project!,
    environment: () => environment!,
    run,
    checks,
    async setup(e) {
      environment = e;
      // The store is the environment's BATON_STORAGE (a folder, or s3:// with the AWS variables).
      const s3 = (e.env.BATON_STORAGE ?? "").startsWith("s3://");
      project = await buildFixtures({ fixtureModule: e.fixtureModule, exportName: e.exportName, outDir: join(e.workDir, "project"), flowName: options.flowName, resources: FIXTURE_RESOURCES, ...(s3 ? { storageSecret: STORAGE_SECRET } : {}) });
      // Values that Prefect keeps (blocks, variables, the S3 credentials) are not in the driver's environment at all.
      // PYTHONPATH only lets the driver import the generated flows.py; baton_prefect is installed.
      // Short: the workers' Unix sockets live under it (a socket path has at most 107 bytes).
      workers = mkdtempSync(join(tmpdir(), "bpw-"));
      const env: Record<string, string | undefined> = { ...process.env, ...e.env, ...options.server().env, BATON_NODE: process.execPath, PYTHONPATH: project.outDir, BATON_WORKER_DIR: workers, ...options.env };
      for (const name of [...FROM_PREFECT, ...Object.values(LAKE_VALUES), ...Object.values(LAKE_SECRETS)]) delete env[name];
      if (s3) for (const name of Object.keys(env)) if (name.startsWith("AWS_")) delete env[name];
      const lake = lakeBlock(e.env);
      driver = new Driver(options.python(), { cwd: project.outDir, env, logFile: join(e.workDir, "driver.log") });
      await driver.request("setup", {
        secrets: { "fixture-api-token": e.env.FIXTURE_API_TOKEN, ...(s3 ? { [STORAGE_SECRET]: storageSecretValue(e.env) } : {}) },
        variables: { fixture_api_url: e.env.FIXTURE_API_URL },
        blocks: { "fixture-landing": { values: { dir: e.env.FIXTURE_LANDING_DIR } }, ...(lake ? { "fixture-lake": lake } : {}) },
      });
    },
    async materialize(request): Promise<HarnessRun> {
      return harnessRun(await run(request));
    },
    /** A run of the checks flow with its `checks` parameter, as a user starts one from the `checks` deployment. */
    async runChecks(request): Promise<HarnessRun> {
      return harnessRun(await checks(request));
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
      if (workers !== undefined) {
        await stopWorkers(workers);
        rmSync(workers, { recursive: true, force: true });
      }
    },
  };
}
