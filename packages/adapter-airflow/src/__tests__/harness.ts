import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BuildResult } from "@baton/core/build";
import {
  startedMarker,
  waitFor,
  type CheckRequest,
  type HarnessEnvironment,
  type HarnessMaterialization,
  type HarnessRun,
  type HarnessTick,
  type MaterializeRequest,
  type RuntimeHarness,
  stopWorkers,
} from "@baton/testing";
import { airflowId } from "../ids.js";
import type { AirflowOptions, AirflowResourceMapping } from "../options.js";
import { AirflowDriver, airflowEnvironment, airflowPython, buildFixture, migrate, type DagTestReport } from "../testing/airflow.js";

/** The Airflow connection of the fixtures' Iceberg catalog (resource `lake`), on runs with `icebergOutput`. */
export const ICEBERG_CONNECTION = "baton_iceberg";

/**
 * How the fixtures' resources reach the steps: the audit API (and the canary token) from a Connection,
 * the landing and control folders from Variables, the Iceberg catalog from an Iceberg connection. `never_set` stays unmapped: it reads the worker's
 * environment, where its variable is missing.
 */
export const FIXTURE_RESOURCES: AirflowResourceMapping = {
  audit_api: { connection: "baton_audit_api", fields: { url: "host", token: "password", dir: "extra.dir" } },
  canary: { connection: "baton_audit_api", fields: { token: "password" } },
  leaky: { connection: "baton_audit_api", fields: { token: "password" } },
  landing: { variable: "baton_landing" },
  control: { variable: "baton_control" },
  // The Iceberg catalog: a connection of the Iceberg provider's type, pyiceberg's property names in its extra.
  lake: {
    connection: ICEBERG_CONNECTION,
    fields: {
      uri: "host",
      warehouse: "schema",
      s3Endpoint: "extra.s3.endpoint",
      s3Region: "extra.s3.region",
      accessKeyId: "extra.s3.access-key-id",
      secretAccessKey: "extra.s3.secret-access-key",
    },
  },
};

/** The Airflow AWS connection holding the S3 store's credentials on s3 runs (option storageConnection). */
export const STORAGE_CONNECTION = "baton_storage";

export interface AirflowHarness extends RuntimeHarness {
  readonly driver: () => AirflowDriver;
  readonly build: () => BuildResult<AirflowOptions>;
  readonly dagsFolder: () => string;
  /** The environment of this Airflow installation (AIRFLOW_HOME, DB, DAGs folder), for `airflow` CLI calls. */
  readonly airflowEnv: () => Record<string, string>;
}

export interface AirflowHarnessOptions {
  /** Extra environment of the Airflow process that runs the tasks, e.g. BATON_WORKER=off (one Node process per step). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * The conformance harness: materializations are `dag.test()` runs of the `baton_assets` DAG with
 * conf, read back from Airflow's DB (task states, try numbers, XComs); schedule ticks come from the
 * schedule DAG's timetable; sensor ticks run the sensor DAG's task once with the cursor Variable.
 * Checks alone are a `baton_assets` run with conf `checks` (the trigger form's param): only the chosen
 * check tasks run (standalone checks' own tasks, inline ones in `inline_checks`), every asset task is skipped.
 * Steps run on the warm worker unless `options.env` turns it off; its sockets live in a folder of
 * this run (BATON_WORKER_DIR), so no other run's worker serves it.
 */
export function airflowHarness(options: AirflowHarnessOptions = {}): AirflowHarness {
  let driver: AirflowDriver | undefined;
  let build: BuildResult<AirflowOptions> | undefined;
  let dags = "";
  let harnessEnvironment: HarnessEnvironment | undefined;
  let airflowEnvVars: Record<string, string> = {};
  /** The warm workers' folder: short (a Unix socket path has at most 107 bytes) and this run's own. */
  let workers: string | undefined;
  return {
    name: "airflow",
    driver: () => driver!,
    build: () => build!,
    dagsFolder: () => dags,
    airflowEnv: () => airflowEnvVars,
    async setup(environment: HarnessEnvironment) {
      const python = airflowPython();
      const root = join(environment.workDir, "airflow");
      dags = join(root, "dags");
      // The DAGs folder is a whole build (core's buildTarget with this adapter), as users deploy it.
      // On s3 runs the steps get the bucket's credentials from an Airflow AWS connection, as an
      // operator deploys them: airflowEnvironment passes no AWS_* variable to Airflow.
      const s3 = environment.storage.startsWith("s3://");
      build = await buildFixture(environment, dags, { resources: FIXTURE_RESOURCES, ...(s3 ? { storageConnection: STORAGE_CONNECTION } : {}) });
      workers = mkdtempSync(join(tmpdir(), "bw-"));
      const env = { ...airflowEnvironment(root, dags), BATON_WORKER_DIR: workers, BATON_WORKER_IDLE_SECONDS: "60", ...options.env };
      airflowEnvVars = env;
      await migrate(python, env);
      driver = new AirflowDriver(python, env, join(root, "driver.log"));
      await driver.start();
      const synced = await driver.request<{ importErrors: Record<string, string> }>("sync");
      if (Object.keys(synced.importErrors).length > 0) throw new Error(`DAG import errors: ${JSON.stringify(synced.importErrors, null, 2)}`);
      const e = environment.env;
      const storageConnection = {
        conn_id: STORAGE_CONNECTION,
        conn_type: "aws",
        login: e.AWS_ACCESS_KEY_ID,
        password: e.AWS_SECRET_ACCESS_KEY,
        extra: { endpoint_url: e.AWS_ENDPOINT_URL_S3, region_name: e.AWS_REGION },
      };
      await driver.request("configure", {
        connections: [
          { conn_id: "baton_audit_api", conn_type: "http", host: e.FIXTURE_API_URL, password: e.FIXTURE_API_TOKEN, extra: { dir: e.FIXTURE_AUDIT_DIR } },
          ...(s3 ? [storageConnection] : []),
          ...(e.ICEBERG_REST_URI === undefined ? [] : [icebergConnection(e)]),
        ],
        variables: { baton_landing: { dir: e.FIXTURE_LANDING_DIR }, baton_control: { dir: e.FIXTURE_CONTROL_DIR } },
      });
      harnessEnvironment = environment;
    },

    async materialize(request): Promise<HarnessRun> {
      const conf: Record<string, unknown> = { assets: request.assets };
      if (request.partitionKey !== undefined) conf.partition_key = request.partitionKey;
      if (request.partitionRange) conf.partition_range = `${request.partitionRange.start}...${request.partitionRange.end}`;
      const logStart = logSize(driver!.logFile);
      if (request.cancelAfterStart !== undefined) rmSync(startedMarker(harnessEnvironment!, request.cancelAfterStart), { force: true });
      const pending = driver!.request<DagTestReport>("dag_test", { dagId: "baton_assets", conf });
      if (request.cancelAfterStart !== undefined) await cancelWhenStarted(driver!, harnessEnvironment!, request, pending);
      const run = await pending;
      return toHarnessRun(run, request.assets, logSlice(driver!.logFile, logStart));
    },

    async runChecks(request: CheckRequest): Promise<HarnessRun> {
      // As a user runs them from the UI's "Trigger DAG w/ config" or POST /api/v2/dags/baton_assets/dagRuns.
      const conf: Record<string, unknown> = { checks: request.checks.map((c) => `${c.asset}:${c.check}`) };
      if (request.partitionKey !== undefined) conf.partition_key = request.partitionKey;
      const logStart = logSize(driver!.logFile);
      const run = await driver!.request<DagTestReport>("dag_test", { dagId: "baton_assets", conf });
      return toHarnessRun(run, [], logSlice(driver!.logFile, logStart));
    },

    async scheduleTick(name, at): Promise<HarnessTick> {
      const t = await driver!.request<{ dataIntervalEnd: string; partitionKey: string | null; skipReason: string | null; assets: string[] }>("schedule_tick", {
        dagId: `baton_schedule_${airflowId(name)}`,
        at: at.toISOString(),
      });
      // No run happens: what Airflow holds about the tick is the timetable's interval and the plan's view of it.
      const recordsText = JSON.stringify(t);
      if (t.skipReason) return { runRequests: [], cursor: null, skipReason: t.skipReason, recordsText };
      const tickTime = new Date(t.dataIntervalEnd).toISOString();
      return { runRequests: [{ assets: t.assets, partitionKey: t.partitionKey, runKey: t.partitionKey ?? tickTime }], cursor: null, skipReason: null, recordsText };
    },

    async sensorTick(name, cursor): Promise<HarnessTick> {
      const logStart = logSize(driver!.logFile);
      const r = await driver!.request<{
        state: string;
        storedCursor: string | null;
        recordsText: string;
        tick: { runRequests: { assets: string[]; partitionKey: string | null; runKey: string | null }[]; skipReason: string | null } | null;
      }>("sensor_tick", { dagId: `baton_sensor_${airflowId(name)}`, cursor });
      if (!r.tick) throw new Error(`the sensor task ended ${r.state} without a tick; driver log:\n${driver!.logTail()}`);
      return {
        runRequests: r.tick.runRequests.map((q) => ({ assets: q.assets, partitionKey: q.partitionKey, runKey: q.runKey })),
        cursor: r.storedCursor,
        skipReason: r.tick.skipReason,
        recordsText: `${r.recordsText}\n${logSlice(driver!.logFile, logStart)}`,
      };
    },

    async teardown() {
      await driver?.stop();
      if (workers) {
        await stopWorkers(workers);
        rmSync(workers, { recursive: true, force: true });
      }
    },
  };
}

/** The catalog's settings as an operator stores them: base URL and warehouse, pyiceberg's S3 properties in extra. */
function icebergConnection(e: Readonly<Record<string, string>>): Record<string, unknown> {
  return {
    conn_id: ICEBERG_CONNECTION,
    conn_type: "iceberg",
    host: e.ICEBERG_REST_URI,
    schema: e.ICEBERG_WAREHOUSE,
    extra: {
      "s3.endpoint": e.ICEBERG_S3_ENDPOINT,
      "s3.region": e.ICEBERG_S3_REGION,
      "s3.access-key-id": e.ICEBERG_S3_ACCESS_KEY_ID,
      "s3.secret-access-key": e.ICEBERG_S3_SECRET_ACCESS_KEY,
    },
  };
}

function logSize(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

/** What the driver process logged (task logs of the runs it executed) since `start`. */
function logSlice(file: string, start: number): string {
  return existsSync(file) ? readFileSync(file).subarray(start).toString("utf8") : "";
}

/**
 * Cancel as an Airflow user's infrastructure does: SIGTERM to the process running the task (the
 * driver runs `dag.test()` in-process, so it is the task runner; Airflow's handler calls the
 * operator's on_kill), once the asset's compute has written its started marker.
 */
async function cancelWhenStarted(driver: AirflowDriver, environment: HarnessEnvironment, request: MaterializeRequest, run: Promise<unknown>): Promise<void> {
  const marker = startedMarker(environment, request.cancelAfterStart!);
  let finished = false;
  void run.then(
    () => (finished = true),
    () => (finished = true),
  );
  const started = await waitFor(() => finished || existsSync(marker), { what: `the step of ${request.cancelAfterStart} to start (${marker}) in the Airflow run` });
  if (started === true && existsSync(marker)) driver.signal("SIGTERM");
}

/**
 * An Iceberg output's table as the asset event's extra names it: `table` and `snapshot_id`, or, for an event of a task
 * over several partitions (which all share one extra), that partition's entry of `snapshot_ids`. Ids stay text.
 */
function eventTable(extra: Record<string, unknown> | null, partitionKey: string | null): HarnessMaterialization["table"] {
  if (typeof extra?.table !== "string") return undefined;
  const perKey = extra.snapshot_ids as Record<string, string> | undefined;
  const snapshotId = (partitionKey !== null ? perKey?.[partitionKey] : undefined) ?? (extra.snapshot_id as string);
  return { name: extra.table, snapshotId };
}

/** Airflow task states → the suite's per-asset view (upstream_failed / skipped both mean "did not run"). */
export function toHarnessRun(run: DagTestReport, assets: readonly string[], log = ""): HarnessRun {
  const plan = run.tasks.plan;
  const planError = plan?.state === "failed" ? ((plan.xcom?.baton_plan?.error as string | undefined) ?? "the run's plan task failed") : null;
  const checks: { asset: string; check: string; passed: boolean; partitionKey: string | null }[] = [];
  const report: Record<string, { status: "success" | "failure" | "skipped"; attempts: number; error: string | null }> = {};
  for (const id of assets) {
    const ti = run.tasks[airflowId(id)];
    const summary = ti?.xcom?.baton as { error: { message: string } | null; checks: { check: string; passed: boolean; partitionKey: string | null }[] } | undefined;
    for (const c of summary?.checks ?? []) checks.push({ asset: id, check: c.check, passed: c.passed, partitionKey: c.partitionKey });
    if (planError) {
      report[id] = { status: "failure", attempts: 0, error: planError };
      continue;
    }
    const status = ti?.state === "success" ? "success" : ti?.state === "failed" ? "failure" : "skipped";
    report[id] = { status, attempts: ti?.tryNumber ?? 0, error: status === "failure" ? (summary?.error?.message ?? `task ${ti?.state}`) : null };
  }
  // Check tasks (a standalone check's own, `inline_checks`): their summaries name each verdict's asset.
  const assetTasks = new Set(assets.map(airflowId));
  for (const [taskId, ti] of Object.entries(run.tasks)) {
    if (assetTasks.has(taskId)) continue;
    const summary = ti.xcom?.baton as { checks?: { asset?: string; check: string; passed: boolean; partitionKey: string | null }[] } | undefined;
    for (const c of summary?.checks ?? []) if (c.asset !== undefined) checks.push({ asset: c.asset, check: c.check, passed: c.passed, partitionKey: c.partitionKey });
  }
  const xcoms = Object.entries(run.tasks)
    .filter(([, t]) => t.xcom)
    .map(([id, t]) => `xcom ${id}: ${JSON.stringify(t.xcom)}`)
    .join("\n");
  return {
    status: run.state === "success" ? "success" : "failure",
    assets: report,
    checks,
    // The `committed` task's events come through its asset alias, which carries the partition in `extra`.
    // The user metadata is the asset event's extra["metadata"], as Airflow stored it (asset_event.extra).
    materializations: run.materializations.map((m): HarnessMaterialization => {
      const metadata = m.extra?.metadata as Readonly<Record<string, unknown>> | undefined;
      const partitionKey = m.taskId === "committed" ? ((m.extra?.partition_key as string | null | undefined) ?? null) : m.partitionKey;
      const table = eventTable(m.extra, partitionKey);
      return { asset: m.asset, partitionKey, ...(metadata === undefined ? {} : { metadata }), ...(table === undefined ? {} : { table }) };
    }),
    recordsText: [run.recordsText, xcoms, log].join("\n"),
  };
}
