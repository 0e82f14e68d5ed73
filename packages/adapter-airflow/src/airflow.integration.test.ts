import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalIOStore, type Manifest } from "@baton/core";
import {
  makeHarnessEnvironment,
  startIcebergCatalog,
  startMoto,
  startedMarker,
  waitFor,
  type HarnessEnvironment,
  type IcebergCatalogServer,
  type MotoServer,
  processAlive,
} from "@baton/testing";
import { EXPECTED_METADATA, ICEBERG_ORDERS, ORDER_COUNT, STANDALONE_CHECKS } from "@baton/testing/fixtures";
import { airflowId, assetUri, checkTaskId } from "./ids.js";
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
  triggerRule: string;
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
// The iceberg fixtures' REST catalog (on its own moto): the steps get it from the Iceberg connection.
let moto: MotoServer | undefined;
let catalog: IcebergCatalogServer | undefined;

beforeAll(async () => {
  moto = await startMoto();
  catalog = await startIcebergCatalog(moto);
  environment = makeHarnessEnvironment({ iceberg: catalog });
  await harness.setup(environment);
  manifest = harness.build().manifest;
}, 600_000);

afterAll(async () => {
  await harness.teardown();
  await catalog?.stop();
  await moto?.stop();
});

describe("Airflow parses the emitted DAG file", () => {
  it("imports without errors and reports the manifest's DAGs, tasks, dependencies, schedules and assets", async () => {
    const { dags, importErrors } = await harness.driver().request<{ dags: Record<string, DescribedDag>; importErrors: Record<string, string> }>("describe");
    expect(importErrors).toEqual({});
    expect(Object.keys(dags).sort()).toEqual(["baton_assets", ...manifest.schedules.map((s) => `baton_schedule_${s.name}`), ...manifest.sensors.map((s) => `baton_sensor_${s.name}`)].sort());

    const expectAssetDag = (dag: DescribedDag, ids: readonly string[]) => {
      const inDag = new Set(ids);
      const assets = manifest.assets.filter((a) => inDag.has(a.id));
      const standalone = assets.flatMap((a) => a.checks.filter((c) => c.standalone).map((c) => ({ a, c, taskId: checkTaskId(a.id, c.name) })));
      const checkTasks = [...standalone.map((x) => x.taskId), ...(assets.some((a) => a.checks.some((c) => !c.standalone)) ? ["inline_checks"] : [])];
      expect(Object.keys(dag.tasks).sort()).toEqual(["committed", "outcome", "plan", ...ids.map(airflowId), ...checkTasks].sort());
      expect(dag.tasks.committed).toMatchObject({ operator: "BatonCommittedOperator", triggerRule: "all_done", upstream: ids.map(airflowId).sort() });
      // The run's outcome is the only leaf, downstream of every other task, and runs whatever they did.
      expect(dag.tasks.outcome).toMatchObject({ operator: "BatonRunOutcomeOperator", triggerRule: "all_done", retries: 0 });
      expect(dag.tasks.outcome!.upstream).toEqual(["plan", ...ids.map(airflowId), ...checkTasks].sort());
      // A standalone check: after its target and inputs in this DAG, reading them, writing nothing.
      for (const { a, c, taskId } of standalone) {
        const t = dag.tasks[taskId]!;
        const reads = [a.id, ...(c.deps ?? []).map((d) => d.id)];
        expect({ taskId, operator: t.operator, upstream: t.upstream, inlets: t.inlets, outlets: t.outlets, name: t.displayName }).toEqual({
          taskId,
          operator: "BatonCheckOperator",
          upstream: reads.filter((r) => inDag.has(r)).map(airflowId).sort(),
          inlets: reads.map(assetUri).sort(),
          outlets: [],
          name: `check ${a.id}:${c.name}`,
        });
      }
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
    // Never scheduled; partitioned at run time, so a trigger may carry Airflow's own partition_key.
    expect(all.timetable).toBe("PartitionedAtRuntime");
    expect(all.params).toEqual(["assets", "checks", "partition_key", "partition_range"]);
    expectAssetDag(all, manifest.assets.map((a) => a.id));

    const s = manifest.schedules[0]!;
    const scheduled = dags[`baton_schedule_${s.name}`]!;
    expect([scheduled.timetable, scheduled.cron, scheduled.timezone]).toEqual(["BatonCronTimetable", s.cron, s.timezone]);
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
    // baton_airflow is the installed wheel: no path to the DAGs folder needed.
    const code = `from baton_airflow import load_manifest\nload_manifest(${JSON.stringify(join(dir, "manifest.json"))})`;
    const failure = await exec(airflowPython().python, ["-c", code]).then(
      () => "",
      (e: { stderr: string }) => e.stderr,
    );
    expect(failure).toMatch(/manifest version 99 .* is not one baton_airflow can read \(it reads 2\)/);
  });
});

describe("what Airflow's UI shows, read from its REST API", () => {
  const rest = async <T>(path: string, params?: Record<string, string>) => {
    const r = await harness.driver().request<{ status: number; body: T }>("rest", { path, params });
    expect({ path, status: r.status }).toEqual({ path, status: 200 });
    return r.body;
  };

  it("each DAG's docs are Baton's (not the library's docstring), and a schedule's timetable names its timezone", async () => {
    const all = await rest<{ doc_md: string; params: Record<string, unknown> }>("/api/v2/dags/baton_assets/details");
    expect(all.doc_md).toContain(`Every Baton asset (${manifest.assets.length}, in groups`);
    expect(all.doc_md).not.toContain("Build Airflow DAGs");
    expect(Object.keys(all.params).sort()).toEqual(["assets", "checks", "partition_key", "partition_range"]);
    const s = manifest.schedules.find((x) => x.name === "daily_events")!;
    const scheduled = await rest<{ doc_md: string; timetable_description: string; timetable_summary: string }>(`/api/v2/dags/baton_schedule_${s.name}/details`);
    expect(scheduled.doc_md).toContain(s.description!);
    expect([scheduled.timetable_summary, scheduled.timetable_description]).toEqual([s.cron, "At 02:00 (Europe/Paris)"]);
    const sensor = await rest<{ doc_md: string; max_consecutive_failed_dag_runs: number }>("/api/v2/dags/baton_sensor_new_event_files/details");
    expect(sensor.max_consecutive_failed_dag_runs).toBe(3);
    expect(sensor.doc_md).toContain("baton_sensor_cursor__new_event_files");
  });

  it("a task's docs hold the asset's description, owners, tags and code reference", async () => {
    const orders = manifest.assets.find((a) => a.id === "raw/orders")!;
    const task = await rest<{ doc_md: string; owner: string; retry_exponential_backoff: number; pool: string }>(`/api/v2/dags/baton_assets/tasks/${airflowId(orders.id)}`);
    expect(task.doc_md).toContain(orders.description!);
    expect(task.doc_md).toContain("`team:data`");
    expect(task.doc_md).toContain("`layer=raw`");
    expect(orders.source).not.toBeNull();
    expect(task.doc_md).toContain(`| Defined in | \`${orders.source!.file}:${orders.source!.line}\` |`);
    expect([task.owner, task.pool]).toEqual(["team:data", "default_pool"]);
    const flaky = await rest<{ retries: number; retry_exponential_backoff: number }>("/api/v2/dags/baton_assets/tasks/flaky");
    // A constant backoff: no multiplier (an exponential one is 2.0; pytest checks Airflow's computed delays).
    expect([flaky.retries, flaky.retry_exponential_backoff]).toEqual([2, 0]);
    const plan = await rest<{ owner: string }>("/api/v2/dags/baton_assets/tasks/plan");
    expect(plan.owner).toBe("baton");
  });

  it("the Asset carries Baton's group, description, owners, tags, metadata and code reference", async () => {
    const orders = manifest.assets.find((a) => a.id === "raw/orders")!;
    const { assets } = await rest<{ assets: { name: string; uri: string; group: string; extra: Record<string, unknown> }[] }>("/api/v2/assets", { name_pattern: "raw/orders" });
    const found = assets.find((a) => a.name === orders.id)!;
    expect(found).toMatchObject({ uri: assetUri(orders.id), group: orders.group });
    expect(found.extra).toEqual({
      baton_id: orders.id,
      description: orders.description,
      owners: [...orders.owners],
      tags: { ...orders.tags },
      metadata: { ...orders.metadata },
      code_version: orders.codeVersion,
      source: `${orders.source!.file}:${orders.source!.line}`,
    });
  });

  it("each Baton group is a TaskGroup in the graph; the task ids stay the asset ids", async () => {
    const structure = await rest<{ nodes: { id: string; label: string; children?: { id: string }[] | null }[] }>("/ui/structure/structure_data", { dag_id: "baton_assets" });
    const groups = Object.fromEntries(structure.nodes.filter((n) => n.children).map((n) => [n.id, n.children!.map((c) => c.id).sort()]));
    const expected: Record<string, string[]> = {};
    // A standalone check's task sits in its asset's group.
    for (const a of manifest.assets) (expected[airflowId(a.group)] ??= []).push(airflowId(a.id), ...a.checks.filter((c) => c.standalone).map((c) => checkTaskId(a.id, c.name)));
    for (const ids of Object.values(expected)) ids.sort();
    expect(groups).toEqual(expected);
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

  it("a manual run of a schedule DAG that picks some of its assets still takes the tick's partition", async () => {
    const run = await harness.driver().request<DagTestReport>("dag_test", { dagId: "baton_schedule_daily_events", logicalDate: "2024-01-07T01:30:00+00:00", conf: { assets: ["web/events"] } });
    expect({ state: run.state, events: run.tasks.web__events?.state, counts: run.tasks.daily_event_counts?.state }).toEqual({ state: "success", events: "success", counts: "skipped" });
    expect(run.materializations.map((m) => `${m.asset}@${m.partitionKey}`)).toEqual(["web/events@2024-01-06"]);
  });

  it("a schedule DAG's run after its partitions end skips every asset with the reason, and materializes nothing", async () => {
    // ended_schedule runs dst/daily, whose partitions end on 2024-11-05 (New York).
    const run = await harness.driver().request<DagTestReport>("dag_test", { dagId: "baton_schedule_ended_schedule", logicalDate: "2024-11-09T08:30:00+00:00" });
    expect({ state: run.state, daily: run.tasks[airflowId("dst/daily")]?.state }).toEqual({ state: "success", daily: "skipped" });
    expect(run.tasks.plan?.xcom?.baton_plan?.skipReason ?? "").toContain("end");
    expect(run.materializations).toEqual([]);
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
    // The verdict's message names the asset (the fixture's own message starts with "broken:" too).
    expect(run.tasks.broken?.xcom?.baton?.error).toEqual({ name: "TypeError", message: "broken: broken: this asset always fails" });
    const log = readFileSync(harness.driver().logFile, "utf8");
    expect(log).toMatch(/broken failed: TypeError: broken: this asset always fails\n\s+at .*definitions\.(ts|js)/);
    expect(log).toContain("AirflowException: broken: broken: this asset always fails");
  });

  it("pushes only small metadata to XCom and keeps the resource secret out of logs and XCom", async () => {
    const logStart = readFileSync(harness.driver().logFile).length;
    const run = await harness.driver().request<DagTestReport>("dag_test", { dagId: "baton_assets", conf: { assets: ["raw/orders", "raw/customers", "customer_metrics", "audit_log"] } });
    expect(run.state).toBe("success");
    // A side-effect asset (output "none") ran: no "None rows, hash None" in its log or its asset event.
    const log = readFileSync(harness.driver().logFile).subarray(logStart).toString("utf8");
    expect(log).toContain("ran audit_log (a side effect: no stored output)");
    expect(log).not.toMatch(/None rows|hash None/);
    expect(run.materializations.find((m) => m.asset === "audit_log")?.extra).toEqual({ baton_asset: "audit_log" });
    const summary = run.tasks.customer_metrics?.xcom?.baton;
    expect(summary.materializations[0]).toMatchObject({ rowCount: 20, format: "parquet" });
    expect(summary.schema.map((c: { name: string }) => c.name)).toEqual(["customer_id", "total_spend", "order_count"]);
    expect(JSON.stringify(run.tasks).length).toBeLessThan(20_000);
    const token = environment.env.FIXTURE_API_TOKEN!;
    expect(JSON.stringify(run)).not.toContain(token);
    expect(readFileSync(harness.driver().logFile, "utf8")).not.toContain(token);
    expect(readFileSync(join(environment.env.FIXTURE_AUDIT_DIR!, "audit.log"), "utf8")).toContain("auth=yes");
  });
});

describe("Airflow's records tell what happened (issue 10)", () => {
  const assetRun = (conf: Record<string, unknown>) => harness.driver().request<DagTestReport>("dag_test", { dagId: "baton_assets", conf });

  it("a failed asset fails the DAG run although the unselected leaves downstream of it are skipped (defect 1)", async () => {
    // broken's downstream after_broken is not selected: the planner skips it, and it is a leaf.
    const run = await assetRun({ assets: ["broken"] });
    expect([run.tasks.broken?.state, run.tasks.after_broken?.state]).toEqual(["failed", "skipped"]);
    expect(run.state).toBe("failed");
    expect(run.tasks.outcome?.state).toBe("failed");
    // The issue's own case: a daily partition whose upstream partition was never materialized.
    const missing = await assetRun({ assets: ["daily_event_counts"], partition_key: "2024-02-20" });
    expect([missing.tasks.daily_event_counts?.state, missing.tasks.weekly_event_counts?.state, missing.state]).toEqual(["failed", "skipped", "failed"]);
    expect(missing.materializations).toEqual([]);
  });

  it("a step that exits 0 without finishing fails its task and emits no asset event (defect 2)", async () => {
    for (const asset of ["truth/never_settles", "truth/exits_early"]) {
      const run = await assetRun({ assets: [asset] });
      const ti = run.tasks[airflowId(asset)];
      expect({ asset, state: ti?.state, run: run.state }).toEqual({ asset, state: "failed", run: "failed" });
      expect(ti?.xcom?.baton?.error?.message ?? "").toContain(`no result for ${asset}`);
      expect(run.materializations).toEqual([]);
    }
  });

  it("asset events: one per materialized partition, read from Airflow's asset_event table", async () => {
    const run = await assetRun({ assets: ["web/events", "daily_event_counts"], partition_range: "2024-01-01...2024-01-02" });
    expect(run.state).toBe("success");
    expect(run.materializations.map((m) => `${m.asset}@${m.partitionKey}`).sort()).toEqual([
      "daily_event_counts@2024-01-01",
      "daily_event_counts@2024-01-02",
      "web/events@2024-01-01",
      "web/events@2024-01-02",
    ]);
  });

  it("a day with its upstream hours: the plan maps the day's key to its 25 hours (autumn DST) and each task records its own", async () => {
    const run = await assetRun({ assets: ["dst/hourly", "dst/daily"], partition_key: "2024-11-03" });
    expect(run.state).toBe("success");
    const hourly = run.materializations.filter((m) => m.asset === "dst/hourly").map((m) => m.partitionKey);
    expect(hourly.length).toBe(25);
    expect(hourly).toContain("2024-11-03-01:00-0500");
    expect(run.materializations.filter((m) => m.asset === "dst/daily").map((m) => m.partitionKey)).toEqual(["2024-11-03"]);
    expect(run.tasks.plan?.xcom?.baton_plan?.assets.map((a: { id: string; steps: string[][] }) => [a.id, a.steps])).toEqual([
      ["dst/hourly", [["--partition-range", "2024-11-03-00:00...2024-11-03-23:00"]]],
      ["dst/daily", [["--partition", "2024-11-03"]]],
    ]);
  });

  it("a deterministic failure is not retried; a transient one is (retry classes)", async () => {
    const missingEnv = await assetRun({ assets: ["truth/needs_missing_env"] });
    const ti = missingEnv.tasks[airflowId("truth/needs_missing_env")];
    expect({ state: ti?.state, tries: ti?.tryNumber }).toEqual({ state: "failed", tries: 1 });
    expect(ti?.xcom?.baton?.error?.message ?? "").toContain("FIXTURE_NEVER_SET");
    const flaky = await assetRun({ assets: ["flaky"] });
    expect({ state: flaky.tasks.flaky?.state, tries: flaky.tasks.flaky?.tryNumber }).toEqual({ state: "success", tries: 2 });
    // No Node on the worker (exit 127): flaky's two retries cannot help, and the message says what to set.
    const noNode = await harness.driver().request<DagTestReport>("dag_test", { dagId: "baton_assets", conf: { assets: ["flaky"] }, env: { BATON_NODE: "/nonexistent/node" } });
    expect({ state: noNode.tasks.flaky?.state, tries: noNode.tasks.flaky?.tryNumber, run: noNode.state }).toEqual({ state: "failed", tries: 1, run: "failed" });
    expect(noNode.tasks.flaky?.xcom?.baton?.error?.message ?? "").toContain("BATON_NODE");
  });

  it("the canary secret printed by an asset or thrown by a teardown is in no log, XCom or DB row; the committed output stays", async () => {
    const token = environment.env.FIXTURE_API_TOKEN!;
    const logStart = readFileSync(harness.driver().logFile).length;
    const prints = await assetRun({ assets: ["secrets/prints"] });
    expect(prints.tasks[airflowId("secrets/prints")]?.state).toBe("success");
    const torn = await assetRun({ assets: ["secrets/teardown_throws"] });
    const ti = torn.tasks[airflowId("secrets/teardown_throws")];
    // The output was committed before the teardown failed: the task fails, and the committed output
    // still gets its asset event, from the `committed` task (Airflow emits events for successful tasks only).
    expect(ti?.state).toBe("failed");
    expect(ti?.xcom?.baton?.materializations).toHaveLength(1);
    expect([torn.state, torn.tasks.committed?.state]).toEqual(["failed", "success"]);
    expect(torn.materializations.map((m) => [m.asset, m.taskId, m.extra?.failed_task])).toEqual([["secrets/teardown_throws", "committed", "secrets__teardown_throws"]]);
    expect(await new LocalIOStore(environment.storageDir).readRecord(["secrets", "teardown_throws"], undefined)).toBeDefined();
    const log = readFileSync(harness.driver().logFile).subarray(logStart).toString("utf8");
    expect(log).toContain("secrets/prints console.log token=***");
    expect(log).toContain("leaky: closing the session failed for token ***");
    for (const [where, text] of [
      ["task log", log],
      ["prints records", prints.recordsText + JSON.stringify(prints.tasks)],
      ["teardown records", torn.recordsText + JSON.stringify(torn.tasks)],
    ] as const) {
      expect({ where, leaked: text.includes(token) }).toEqual({ where, leaked: false });
    }
  });

  it("SIGTERM to the task runner while a step runs stops Node: nothing committed, the task and the run fail (defect 12)", async () => {
    const store = new LocalIOStore(environment.storageDir);
    const run = await harness.materialize({ assets: ["truth/sleeper"], cancelAfterStart: "truth/sleeper" });
    expect(run.status).toBe("failure");
    expect(run.assets["truth/sleeper"]?.status).toBe("failure");
    expect(run.assets["truth/sleeper"]?.attempts).toBe(1);
    expect(run.assets["truth/sleeper"]?.error ?? "").toContain("cancelled");
    expect(run.materializations).toEqual([]);
    // Once its Node process is gone nothing can commit any more: then the store must hold nothing.
    const pid = Number(readFileSync(startedMarker(environment, "truth/sleeper"), "utf8").trim());
    await waitFor(() => !processAlive(pid), { what: `the cancelled Node step (pid ${pid}) to exit` });
    expect(await store.readRecord(["truth", "sleeper"], undefined)).toBeUndefined();
  });
});

describe("standalone checks on Airflow (CHECKS-CONTRACT.md §4)", () => {
  const rest = async <T>(path: string, options: { params?: Record<string, string>; method?: string; json?: unknown } = {}) => {
    const r = await harness.driver().request<{ status: number; body: T }>("rest", { path, ...options });
    expect({ path, status: r.status, body: r.status === 200 ? null : r.body }).toEqual({ path, status: 200, body: null });
    return r.body;
  };
  const { matchesOrders, failsOnPurpose } = STANDALONE_CHECKS;
  const task = (c: { asset: string; check: string }) => checkTaskId(c.asset, c.check);

  it("each check task records its verdict; clearing one through the REST API re-runs just that check; the metadata is in the asset events", async () => {
    const run = await harness.driver().request<DagTestReport>("dag_test", { dagId: "baton_assets", conf: { assets: ["raw/orders", ORDER_COUNT] } });
    // The failed error check fails its task and the run; the asset's task succeeded.
    expect([run.state, run.tasks[airflowId(ORDER_COUNT)]?.state]).toEqual(["failed", "success"]);
    expect([matchesOrders, failsOnPurpose].map((c) => [c.check, run.tasks[task(c)]?.state])).toEqual([
      [matchesOrders.check, "success"],
      [failsOnPurpose.check, "failed"],
    ]);
    expect(run.tasks.inline_checks?.state).toBe("skipped");
    const verdict = run.tasks[task(failsOnPurpose)]?.xcom?.baton as { checks: { check: string; passed: boolean; severity: string }[]; error: { message: string } };
    expect(verdict.checks).toEqual([expect.objectContaining({ check: failsOnPurpose.check, passed: false, severity: "error" })]);
    expect(verdict.error.message).toContain(failsOnPurpose.check);

    // The metadata as the UI's asset events show it.
    const { asset_events: events } = await rest<{ asset_events: { uri: string; extra: Record<string, unknown> }[] }>("/api/v2/assets/events", {
      params: { source_dag_id: "baton_assets", source_run_id: run.runId },
    });
    expect(events.find((e) => e.uri === assetUri(ORDER_COUNT))?.extra.metadata).toMatchObject(EXPECTED_METADATA[ORDER_COUNT]!);
    expect(events.find((e) => e.uri === assetUri("raw/orders"))?.extra.metadata).toMatchObject(EXPECTED_METADATA["raw/orders"]!);

    // Clear just the matches_orders task instance, no downstream, as the UI's Clear does; then the run resumes.
    const cleared = await rest<{ task_instances: { task_id: string }[] }>("/api/v2/dags/baton_assets/clearTaskInstances", {
      method: "POST",
      json: { dag_run_id: run.runId, task_ids: [task(matchesOrders)], only_failed: false, include_downstream: false, include_upstream: false, dry_run: false },
    });
    expect(cleared.task_instances.map((t) => t.task_id)).toEqual([task(matchesOrders)]);
    const again = await harness.driver().request<DagTestReport>("resume", { dagId: "baton_assets", runId: run.runId });
    expect([again.tasks[task(matchesOrders)]?.state, again.tasks[task(matchesOrders)]?.tryNumber]).toEqual(["success", 2]);
    // Nothing else ran again, and nothing was materialized again.
    for (const id of ["plan", airflowId("raw/orders"), airflowId(ORDER_COUNT), task(failsOnPurpose), "outcome"]) {
      expect({ id, tryNumber: again.tasks[id]?.tryNumber, state: again.tasks[id]?.state }).toEqual({ id, tryNumber: run.tasks[id]?.tryNumber, state: run.tasks[id]?.state });
    }
    expect(again.materializations).toEqual(run.materializations);
    const rerun = again.tasks[task(matchesOrders)]?.xcom?.baton as { checks: { check: string; passed: boolean }[] };
    expect(rerun.checks).toEqual([expect.objectContaining({ check: matchesOrders.check, passed: true })]);
  });

  it("conf checks runs chosen checks alone: only their tasks run, no asset task, no asset event; an unknown check fails the plan", async () => {
    const run = await harness.driver().request<DagTestReport>("dag_test", { dagId: "baton_assets", conf: { checks: [`${ORDER_COUNT}:${matchesOrders.check}`] } });
    expect([run.state, run.tasks[task(matchesOrders)]?.state, run.tasks[airflowId(ORDER_COUNT)]?.state, run.tasks[task(failsOnPurpose)]?.state]).toEqual([
      "success",
      "success",
      "skipped",
      "skipped",
    ]);
    expect(run.materializations).toEqual([]);
    const wrong = await harness.driver().request<DagTestReport>("dag_test", { dagId: "baton_assets", conf: { checks: [`${ORDER_COUNT}:nope`] } });
    expect([wrong.state, wrong.tasks.plan?.state]).toEqual(["failed", "failed"]);
    expect(String(wrong.tasks.plan?.xcom?.baton_plan?.error)).toContain(`check '${ORDER_COUNT}:nope' is not a check of this DAG's assets`);
  });
});

describe("Iceberg table outputs on Airflow (TABLE-OUTPUT-CONTRACT.md §6)", () => {
  const rest = async <T>(path: string, params?: Record<string, string>) => {
    const r = await harness.driver().request<{ status: number; body: T }>("rest", { path, params });
    expect({ path, status: r.status }).toEqual({ path, status: 200 });
    return r.body;
  };

  it("the Asset, the task's docs, the asset event and the task log name the table and the snapshot the record pins", async () => {
    const id = ICEBERG_ORDERS.asset;
    const logStart = readFileSync(harness.driver().logFile).length;
    const run = await harness.driver().request<DagTestReport>("dag_test", { dagId: "baton_assets", conf: { assets: [id] } });
    expect([run.state, run.tasks[airflowId(id)]?.state]).toEqual(["success", "success"]);
    const record = await new LocalIOStore(environment.storageDir).readRecord([id], undefined);
    const snapshotId = record?.table?.snapshotId;
    expect(snapshotId).toMatch(/^[0-9]+$/);

    const { asset_events: events } = await rest<{ asset_events: { uri: string; extra: Record<string, unknown> }[] }>("/api/v2/assets/events", {
      source_dag_id: "baton_assets",
      source_run_id: run.runId,
    });
    // The keys of Airflow's Iceberg provider; the id as text, digit for digit.
    expect(events.find((e) => e.uri === assetUri(id))?.extra).toMatchObject({ table: ICEBERG_ORDERS.table, snapshot_id: snapshotId, table_format: "iceberg", catalog: "lake" });
    const { assets } = await rest<{ assets: { name: string; extra: Record<string, unknown> }[] }>("/api/v2/assets", { name_pattern: id });
    expect(assets.find((a) => a.name === id)?.extra).toMatchObject({ table: ICEBERG_ORDERS.table, table_format: "iceberg", catalog: "lake" });
    const task = await rest<{ doc_md: string }>(`/api/v2/dags/baton_assets/tasks/${airflowId(id)}`);
    expect(task.doc_md).toContain(`| Stored in | Iceberg table \`${ICEBERG_ORDERS.table}\` (catalog resource \`lake\``);
    const log = readFileSync(harness.driver().logFile).subarray(logStart).toString("utf8");
    expect(log).toContain(`Iceberg table ${ICEBERG_ORDERS.table} snapshot ${snapshotId} (catalog lake)`);
    // The catalog's S3 secret came from the connection, masked: it is in no task log.
    expect(log).not.toContain(environment.env.ICEBERG_S3_SECRET_ACCESS_KEY!);
  });
});

describe("timeoutSeconds on Airflow (contract §1)", () => {
  it("the task's execution_timeout is the backstop; core's limit fails the attempt first and the task log says it timed out", async () => {
    const spins = manifest.assets.find((a) => a.id === "spins")!;
    const task = await harness.driver().request<{ body: { execution_timeout: { days: number; seconds: number } | null } }>("rest", { path: "/api/v2/dags/baton_assets/tasks/spins" });
    expect(task.body.execution_timeout).toMatchObject({ days: 0, seconds: spins.timeoutSeconds! + 10 });
    const logStart = readFileSync(harness.driver().logFile).length;
    const run = await harness.driver().request<DagTestReport>("dag_test", { dagId: "baton_assets", conf: { assets: ["spins"] } });
    const ti = run.tasks.spins;
    expect({ run: run.state, ti: ti?.state }).toEqual({ run: "failed", ti: "failed" });
    expect(ti?.xcom?.baton?.error?.message ?? "").toContain(`timed out after ${spins.timeoutSeconds} s (timeoutSeconds: ${spins.timeoutSeconds})`);
    const log = readFileSync(harness.driver().logFile).subarray(logStart).toString("utf8");
    expect(log).toMatch(/spins failed: .*timed out after \d+ s/);
    expect(run.materializations).toEqual([]);
  });
});

describe("the airflow dags test CLI, as the issue ran it", () => {
  /** `airflow dags test baton_assets --conf …` in its own process; resolves with its exit code and output. */
  const dagsTest = (conf: Record<string, unknown>) => {
    const child = spawn(airflowPython().bin("airflow"), ["dags", "test", "baton_assets", "--conf", JSON.stringify(conf)], { env: harness.airflowEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, output })));
    return { child, exited };
  };
  const exitOf = (p: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>) =>
    waitFor(async () => await Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), 1000))]), { what: "`airflow dags test` to exit" });

  it("exits non-zero when an asset failed (defect 1)", async () => {
    const { exited } = dagsTest({ assets: ["daily_event_counts"], partition_key: "2024-02-21" });
    const result = await exitOf(exited);
    expect({ code: result.code, failed: result.output.includes("DagRun failed") }).toEqual({ code: 1, failed: true });
    const run = await harness.driver().request<DagTestReport>("run_report", { dagId: "baton_assets" });
    expect([run.state, run.tasks.daily_event_counts?.state]).toEqual(["failed", "failed"]);
  });

  it.each(["SIGTERM", "SIGINT"] as const)("%s while truth/sleeper runs stops its Node step: nothing committed, the task failed, not retried (defect 12)", async (signal) => {
    const marker = startedMarker(environment, "truth/sleeper");
    rmSync(marker, { force: true });
    const { child, exited } = dagsTest({ assets: ["truth/sleeper"] });
    await waitFor(() => existsSync(marker), { what: `truth/sleeper to start under airflow dags test (${marker})` });
    const pid = Number(readFileSync(marker, "utf8").trim());
    child.kill(signal);
    const result = await exitOf(exited);
    expect(result.code).not.toBe(0);
    // Once its Node process is gone nothing can commit any more: then the store must hold nothing.
    await waitFor(() => !processAlive(pid), { what: `the cancelled Node step (pid ${pid}) to exit` });
    expect(await new LocalIOStore(environment.storageDir).readRecord(["truth", "sleeper"], undefined)).toBeUndefined();
    const run = await harness.driver().request<DagTestReport>("run_report", { dagId: "baton_assets" });
    const ti = run.tasks[airflowId("truth/sleeper")];
    expect({ run: run.state, ti: ti?.state, tries: ti?.tryNumber }).toEqual({ run: "failed", ti: "failed", tries: 1 });
    expect(ti?.xcom?.baton?.error?.message ?? "").toContain("cancelled");
    expect(run.materializations).toEqual([]);
  });
});
