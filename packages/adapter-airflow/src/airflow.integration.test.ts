import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalIOStore, type Manifest } from "@baton/core";
import { makeHarnessEnvironment, type HarnessEnvironment } from "@baton/testing";
import { airflowId, assetUri } from "./ids.js";
import { airflowPython, type DagTestReport } from "./testing/airflow.js";
import { airflowHarness } from "./__tests__/harness.js";

const exec = promisify(execFile);

interface DescribedTask {
  displayName: string;
  operator: string;
  upstream: string[];
  outlets: string[];
  inlets: string[];
  retries: number;
  retryDelaySeconds: number;
  mode: string | null;
  pokeInterval: number;
}
interface DescribedDag {
  timetable: string;
  cron: string | null;
  timezone: string | null;
  params: string[];
  maxActiveRuns: number;
  tasks: Record<string, DescribedTask>;
}

const harness = airflowHarness();
let environment: HarnessEnvironment;
let manifest: Manifest;

beforeAll(async () => {
  environment = makeHarnessEnvironment();
  await harness.setup(environment);
  manifest = harness.build().manifest;
}, 600_000);

afterAll(async () => {
  await harness.teardown();
});

describe("Airflow parses the emitted DAG file", () => {
  it("imports without errors and reports the manifest's DAGs, tasks, dependencies, schedules and assets", async () => {
    const { dags, importErrors } = await harness.driver().request<{ dags: Record<string, DescribedDag>; importErrors: Record<string, string> }>("describe");
    expect(importErrors).toEqual({});
    expect(Object.keys(dags).sort()).toEqual(["baton_assets", "baton_schedule_daily_events", "baton_sensor_new_event_files"]);

    const expectAssetDag = (dag: DescribedDag, ids: readonly string[]) => {
      expect(Object.keys(dag.tasks).sort()).toEqual(["plan", ...ids.map(airflowId)].sort());
      const inDag = new Set(ids);
      for (const id of ids) {
        const a = manifest.assets.find((x) => x.id === id)!;
        const t = dag.tasks[airflowId(id)]!;
        const deps = a.deps.filter((d) => inDag.has(d.id)).map((d) => airflowId(d.id));
        expect({ id, upstream: t.upstream }).toEqual({ id, upstream: (deps.length ? deps : ["plan"]).sort() });
        expect({ id, outlets: t.outlets, inlets: t.inlets, name: t.displayName }).toEqual({ id, outlets: [assetUri(id)], inlets: a.deps.map((d) => assetUri(d.id)).sort(), name: id });
        expect({ id, retries: t.retries, delay: t.retryDelaySeconds }).toEqual({ id, retries: a.retry?.maxRetries ?? 0, delay: a.retry?.delaySeconds ?? 0 });
      }
    };

    const all = dags.baton_assets!;
    expect(all.timetable).toBe("NullTimetable");
    expect(all.params).toEqual(["assets", "partition_key", "partition_range"]);
    expectAssetDag(all, manifest.assets.map((a) => a.id));

    const s = manifest.schedules[0]!;
    const scheduled = dags[`baton_schedule_${s.name}`]!;
    expect([scheduled.timetable, scheduled.cron, scheduled.timezone]).toEqual(["CronDataIntervalTimetable", s.cron, s.timezone]);
    expectAssetDag(scheduled, s.assets);

    const sensor = dags[`baton_sensor_${manifest.sensors[0]!.name}`]!;
    expect([sensor.timetable, sensor.maxActiveRuns]).toEqual(["ContinuousTimetable", 1]);
    expect(sensor.tasks.evaluate).toMatchObject({ operator: "BatonSensorOperator", mode: "reschedule", pokeInterval: manifest.sensors[0]!.minimumIntervalSeconds });
    expect(sensor.tasks.trigger?.upstream).toEqual(["evaluate"]);
  });

  it("records one DAG version however often the file is parsed", async () => {
    await harness.driver().request("sync");
    await harness.driver().request("sync");
    for (const dagId of ["baton_assets", "baton_schedule_daily_events", "baton_sensor_new_event_files"]) {
      const { versions } = await harness.driver().request<{ versions: number[] }>("dag_versions", { dagId });
      expect({ dagId, versions }).toEqual({ dagId, versions: [1] });
    }
  });

  it("the Python side refuses a manifest version it does not read, naming both versions", async () => {
    const dir = join(environment.workDir, "future");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ ...manifest, manifestVersion: 99 }));
    const code = `import sys; sys.path.insert(0, ${JSON.stringify(harness.dagsFolder())})\nfrom baton_airflow import load_manifest\nload_manifest(${JSON.stringify(join(dir, "manifest.json"))})`;
    const failure = await exec(airflowPython().python, ["-c", code]).then(
      () => "",
      (e: { stderr: string }) => e.stderr,
    );
    expect(failure).toMatch(/manifest version 99 .* is not one baton_airflow can read \(it reads 1\)/);
  });
});

describe("Airflow runs the DAGs", () => {
  it("a schedule DAG takes its partition from the data interval (a run and a backfill date)", async () => {
    const store = new LocalIOStore(environment.storageDir);
    for (const [logicalDate, partition] of [
      ["2024-01-05T01:30:00+00:00", "2024-01-04"],
      ["2024-01-03T12:00:00+00:00", "2024-01-02"],
    ] as const) {
      const run = await harness.driver().request<DagTestReport>("dag_test", { dagId: "baton_schedule_daily_events", logicalDate });
      expect({ logicalDate, state: run.state, partition: run.tasks.plan?.xcom?.baton_plan?.partitionKey }).toEqual({ logicalDate, state: "success", partition });
      expect(await store.readRecord(["daily_event_counts"], partition)).toBeDefined();
    }
  });

  it("the sensor DAG triggers one run per run key, with the partition in its conf, and never twice", async () => {
    const dir = environment.env.FIXTURE_LANDING_DIR!;
    mkdirSync(dir, { recursive: true });
    for (const day of ["2024-01-05", "2024-01-06"]) writeFileSync(join(dir, `events-${day}.ready`), "");
    const driver = harness.driver();
    const runsOf = async () => (await driver.request<{ runs: { runId: string; conf: Record<string, unknown> }[] }>("dag_runs", { dagId: "baton_assets" })).runs.filter((r) => r.runId.startsWith("baton_sensor__"));
    const before = (await runsOf()).length;

    await driver.request("configure", { variables: { baton_sensor_cursor__new_event_files: "2024-01-04" } });
    const first = await driver.request<DagTestReport>("dag_test", { dagId: "baton_sensor_new_event_files" });
    expect(first.state).toBe("success");
    expect(first.tasks.evaluate?.state).toBe("success");
    expect(["trigger[0]", "trigger[1]"].map((t) => first.tasks[t]?.state)).toEqual(["success", "success"]);
    // The two mapped triggers run in no fixed order: compare the new runs by run id.
    const runs = (await runsOf()).slice(before).sort((a, b) => a.runId.localeCompare(b.runId));
    expect(runs.map((r) => [r.runId, r.conf.partition_key, r.conf.assets])).toEqual([
      ["baton_sensor__new_event_files__events:2024-01-05", "2024-01-05", ["web/events", "daily_event_counts"]],
      ["baton_sensor__new_event_files__events:2024-01-06", "2024-01-06", ["web/events", "daily_event_counts"]],
    ]);

    // The same run keys again (cursor rewound): Airflow refuses the run ids, the triggers skip.
    await driver.request("configure", { variables: { baton_sensor_cursor__new_event_files: "2024-01-04" } });
    const again = await driver.request<DagTestReport>("dag_test", { dagId: "baton_sensor_new_event_files" });
    expect(["trigger[0]", "trigger[1]"].map((t) => again.tasks[t]?.state)).toEqual(["skipped", "skipped"]);
    expect((await runsOf()).length).toBe(before + 2);
  });

  it("a TypeScript failure fails the task with its message, and the stack is in the task log", async () => {
    const run = await harness.driver().request<DagTestReport>("dag_test", { dagId: "baton_assets", conf: { assets: ["broken"] } });
    expect(run.tasks.broken?.state).toBe("failed");
    expect(run.tasks.broken?.xcom?.baton?.error).toEqual({ name: "TypeError", message: "broken: this asset always fails" });
    const log = readFileSync(harness.driver().logFile, "utf8");
    expect(log).toMatch(/broken failed: TypeError: broken: this asset always fails\n\s+at .*definitions\.js/);
    expect(log).toContain("AirflowException: broken: TypeError: broken: this asset always fails");
  });

  it("pushes only small metadata to XCom and keeps the resource secret out of logs and XCom", async () => {
    const run = await harness.driver().request<DagTestReport>("dag_test", { dagId: "baton_assets", conf: { assets: ["raw/orders", "raw/customers", "customer_metrics", "audit_log"] } });
    expect(run.state).toBe("success");
    const summary = run.tasks.customer_metrics?.xcom?.baton;
    expect(summary.materializations[0]).toMatchObject({ rowCount: 20, format: "parquet" });
    expect(summary.schema.map((c: { name: string }) => c.name)).toEqual(["customer_id", "total_spend", "order_count"]);
    expect(JSON.stringify(run).length).toBeLessThan(20_000);
    const token = environment.env.FIXTURE_API_TOKEN!;
    expect(JSON.stringify(run)).not.toContain(token);
    expect(readFileSync(harness.driver().logFile, "utf8")).not.toContain(token);
    expect(readFileSync(join(environment.env.FIXTURE_AUDIT_DIR!, "audit.log"), "utf8")).toContain("auth=yes");
  });
});
