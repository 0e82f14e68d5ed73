import { join } from "node:path";
import { loadDefinitions } from "@baton/core";
import type { HarnessEnvironment, HarnessRun, HarnessTick, RuntimeHarness } from "@baton/testing";
import { buildAirflowDags, type BuildAirflowResult } from "../build.js";
import { airflowId } from "../ids.js";
import type { AirflowResourceMapping } from "../options.js";
import { AirflowDriver, airflowEnvironment, airflowPython, migrate, type DagTestReport } from "../testing/airflow.js";

/** How the fixtures' resources reach the steps: the audit API from a Connection, the landing folder from a Variable. */
export const FIXTURE_RESOURCES: AirflowResourceMapping = {
  audit_api: { connection: "baton_audit_api", fields: { url: "host", token: "password", dir: "extra.dir" } },
  landing: { variable: "baton_landing" },
};

export interface AirflowHarness extends RuntimeHarness {
  readonly driver: () => AirflowDriver;
  readonly build: () => BuildAirflowResult;
  readonly dagsFolder: () => string;
}

/**
 * The conformance harness: materializations are `dag.test()` runs of the `baton_assets` DAG with
 * conf, read back from Airflow's DB (task states, try numbers, XComs); schedule ticks come from the
 * schedule DAG's timetable; sensor ticks run the sensor DAG's task once with the cursor Variable.
 */
export function airflowHarness(): AirflowHarness {
  let driver: AirflowDriver | undefined;
  let build: BuildAirflowResult | undefined;
  let dags = "";
  return {
    name: "airflow",
    driver: () => driver!,
    build: () => build!,
    dagsFolder: () => dags,
    async setup(environment: HarnessEnvironment) {
      const python = airflowPython();
      const root = join(environment.workDir, "airflow");
      dags = join(root, "dags");
      const definitions = await loadDefinitions(environment.fixtureModule, environment.exportName);
      build = buildAirflowDags({
        definitions,
        module: environment.fixtureModule,
        exportName: environment.exportName,
        outDir: dags,
        storage: environment.storageDir,
        resources: FIXTURE_RESOURCES,
      });
      const env = airflowEnvironment(root, dags);
      await migrate(python, env);
      driver = new AirflowDriver(python, env, join(root, "driver.log"));
      await driver.start();
      const synced = await driver.request<{ importErrors: Record<string, string> }>("sync");
      if (Object.keys(synced.importErrors).length > 0) throw new Error(`DAG import errors: ${JSON.stringify(synced.importErrors, null, 2)}`);
      const e = environment.env;
      await driver.request("configure", {
        connections: [{ conn_id: "baton_audit_api", conn_type: "http", host: e.FIXTURE_API_URL, password: e.FIXTURE_API_TOKEN, extra: { dir: e.FIXTURE_AUDIT_DIR } }],
        variables: { baton_landing: { dir: e.FIXTURE_LANDING_DIR } },
      });
    },

    async materialize(request): Promise<HarnessRun> {
      const conf: Record<string, unknown> = { assets: request.assets };
      if (request.partitionKey !== undefined) conf.partition_key = request.partitionKey;
      if (request.partitionRange) conf.partition_range = `${request.partitionRange.start}...${request.partitionRange.end}`;
      const run = await driver!.request<DagTestReport>("dag_test", { dagId: "baton_assets", conf });
      return toHarnessRun(run, request.assets);
    },

    async scheduleTick(name, at): Promise<HarnessTick> {
      const t = await driver!.request<{ dataIntervalEnd: string; partitionKey: string | null; skipReason: string | null; assets: string[] }>("schedule_tick", {
        dagId: `baton_schedule_${airflowId(name)}`,
        at: at.toISOString(),
      });
      if (t.skipReason) return { runRequests: [], cursor: null, skipReason: t.skipReason };
      const tickTime = new Date(t.dataIntervalEnd).toISOString();
      return { runRequests: [{ assets: t.assets, partitionKey: t.partitionKey, runKey: t.partitionKey ?? tickTime }], cursor: null, skipReason: null };
    },

    async sensorTick(name, cursor): Promise<HarnessTick> {
      const r = await driver!.request<{ state: string; storedCursor: string | null; tick: { runRequests: { assets: string[]; partitionKey: string | null; runKey: string | null }[]; skipReason: string | null } | null }>(
        "sensor_tick",
        { dagId: `baton_sensor_${airflowId(name)}`, cursor },
      );
      if (!r.tick) throw new Error(`the sensor task ended ${r.state} without a tick; driver log:\n${driver!.logTail()}`);
      return {
        runRequests: r.tick.runRequests.map((q) => ({ assets: q.assets, partitionKey: q.partitionKey, runKey: q.runKey })),
        cursor: r.storedCursor,
        skipReason: r.tick.skipReason,
      };
    },

    async teardown() {
      await driver?.stop();
    },
  };
}

/** Airflow task states → the suite's per-asset view (upstream_failed / skipped both mean "did not run"). */
export function toHarnessRun(run: DagTestReport, assets: readonly string[]): HarnessRun {
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
  return { status: run.state === "success" ? "success" : "failure", assets: report, checks };
}
