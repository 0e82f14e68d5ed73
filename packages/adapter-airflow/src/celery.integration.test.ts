import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalIOStore, loadDefinitions, materialize, openStore } from "@baton/core";
import { buildTarget } from "@baton/core/build";
import { startMoto, type MotoServer, type PythonEnv, stopWorkers } from "@baton/testing";
import { adapter } from "./adapter.js";
import { packageDir } from "./testing/airflow.js";
import { AirflowCluster, celeryPython, startRedis, type Service } from "./testing/celery.js";

// Issue 17's proof on Airflow: the example materialized by the CeleryExecutor on two Celery workers
// that share nothing but the bucket (moto) and Airflow's database. Each worker has its own copy of the
// build, working directory and AIRFLOW_HOME; the S3 credentials reach the steps through an Airflow AWS
// connection that only the workers know (AIRFLOW_CONN_BATON_STORAGE). Everything asserted is read
// from Airflow's REST API (DAG runs, task instances with their hostnames, asset events, XComs), from
// the bucket, and from Airflow's own DB and logs.
const example = fileURLToPath(new URL("../../../examples/customer-metrics/", import.meta.url));
const UNPARTITIONED = ["orders", "customers", "customer_metrics"];
const RANGE = { start: "2024-01-01", end: "2024-01-07" };
const DAYS = Array.from({ length: 7 }, (_, i) => `2024-01-0${i + 1}`);
const WORKERS = ["worker-a", "worker-b"];
const CONNECTION = "baton_storage";
/** The second project (src/__tests__/pool-definitions.ts), built into the sub-folder pools/ of every DAGs folder. */
const POOLS_PROJECT = fileURLToPath(new URL("./__tests__/pool-definitions.ts", import.meta.url));
const RUN_MS = 600_000;

/** A native Airflow DAG next to Baton's: it runs when customer_metrics is materialized and reads its rows. */
const NATIVE_DAG = `"""A native Airflow DAG downstream of the Baton asset customer_metrics."""

from pathlib import Path

import pendulum
from airflow.sdk import DAG, Asset, task
from baton_airflow import read_output

MANIFEST = Path(__file__).parent / "baton" / "manifest.json"

with DAG(
    dag_id="native_customer_metrics",
    schedule=[
        Asset(name="customer_metrics", uri="x-baton://customer_metrics", group="sales")
    ],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["native"],
):

    @task
    def summarize() -> dict[str, float]:
        metrics = read_output("customer_metrics", manifest_path=MANIFEST)
        return {
            "rows": metrics.height,
            "total_spend": float(metrics["total_spend"].sum()),
        }

    summarize()
`;

interface DagRun {
  readonly dag_run_id: string;
  readonly state: string;
}
interface TaskInstance {
  readonly task_id: string;
  readonly state: string | null;
  readonly hostname: string | null;
  readonly start_date: string | null;
  readonly end_date: string | null;
  readonly try_number: number;
  readonly pool: string;
}
interface AssetEvent {
  readonly uri: string;
  readonly partition_key?: string | null;
  readonly extra: Record<string, unknown> | null;
  readonly source_task_id: string | null;
}

let moto: MotoServer;
let redis: { url: string; service: Service } | undefined;
let cluster: AirflowCluster | undefined;
let python: PythonEnv;
let root: string;
let storageUrl: string;
/** The embedded executor's local store, outside `root` (which must hold no output). */
let embeddedDir: string | undefined;
/** Each Celery worker's BATON_WORKER_DIR. */
const workerDirs: Record<string, string> = {};

/** Process environment without Airflow, Baton, AWS or test-runner variables: each process gets only what it is given. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(AIRFLOW|BATON_|AWS_|FIXTURE_|VITEST)/.test(k) || k === "NODE_OPTIONS" || k === "DEV") continue;
    env[k] = v;
  }
  return env;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "baton-airflow-celery-"));
  moto = await startMoto();
  storageUrl = moto.storageUrl("celery");
  python = celeryPython();
  const build = join(root, "build");
  await buildTarget(adapter, {
    projectRoot: example,
    definitionsFile: "src/definitions.ts",
    outDir: build,
    storage: storageUrl,
    rawOptions: { storageConnection: CONNECTION },
  });
  writeFileSync(join(build, "native_dags.py"), NATIVE_DAG);
  // A second Baton project in a sub-folder of the same DAGs folder (its own .airflowignore and prefix).
  await buildTarget(adapter, {
    projectRoot: packageDir,
    definitionsFile: POOLS_PROJECT,
    outDir: join(build, "pools"),
    storage: moto.storageUrl("celery-pools"),
    rawOptions: { storageConnection: CONNECTION, dagIdPrefix: "pools" },
  });
  // One copy of the build per process that reads DAG files: the central one and each worker's.
  const copy = (name: string) => {
    const to = join(root, name, "dags");
    cpSync(build, to, { recursive: true });
    return to;
  };
  const central = copy("central");
  redis = await startRedis(join(root, "redis"));
  const connection = JSON.stringify({
    conn_type: "aws",
    login: moto.env.AWS_ACCESS_KEY_ID,
    password: moto.env.AWS_SECRET_ACCESS_KEY,
    extra: { endpoint_url: moto.endpoint, region_name: moto.env.AWS_REGION },
  });
  cluster = new AirflowCluster({
    python,
    root,
    brokerUrl: redis.url,
    dagsFolder: central,
    // Each worker machine has its own warm step workers (BATON_WORKER_DIR: a short folder of its own).
    workers: WORKERS.map((name) => ({
      name,
      dagsFolder: copy(name),
      env: { [`AIRFLOW_CONN_${CONNECTION.toUpperCase()}`]: connection, BATON_WORKER_DIR: (workerDirs[name] = mkdtempSync(join(tmpdir(), "bw-"))) },
    })),
    baseEnv: baseEnv(),
  });
  rmSync(build, { recursive: true });
  await cluster.start();
}, 900_000);

afterAll(async () => {
  await cluster?.stop();
  // The warm step workers outlive Airflow's processes (sessions of their own): stop them too.
  for (const dir of Object.values(workerDirs)) {
    await stopWorkers(dir);
    rmSync(dir, { recursive: true, force: true });
  }
  await redis?.service.stop();
  await moto?.stop();
  for (const dir of [root, embeddedDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  // Removing the three copies of the build took 81 s of a 105 s teardown on a loaded 2-core machine.
}, 300_000);

/** Unpause a DAG once the DAG processor has serialized it. */
async function unpause(dagId: string): Promise<void> {
  await cluster!.until(
    async () => (await cluster!.api<{ dag_id: string }>("GET", `/dags/${dagId}`)).dag_id === dagId,
    { what: `the DAG processor to serialize DAG ${dagId}`, timeoutMs: 300_000, intervalMs: 1000 },
  );
  await cluster!.api("PATCH", `/dags/${dagId}?update_mask=is_paused`, { is_paused: false });
}

/** Trigger a run of `dagId` with conf and wait for it to finish, as the REST API reports it. */
async function runDag(dagId: string, conf: Record<string, unknown>): Promise<DagRun> {
  const { dag_run_id } = await cluster!.api<DagRun>("POST", `/dags/${dagId}/dagRuns`, { logical_date: null, conf });
  return finished(dagId, dag_run_id);
}

async function finished(dagId: string, runId: string): Promise<DagRun> {
  return cluster!.until(
    async () => {
      const run = await cluster!.api<DagRun>("GET", `/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}`);
      return run.state === "success" || run.state === "failed" ? run : undefined;
    },
    { what: `DAG run ${runId} of ${dagId} to finish`, timeoutMs: RUN_MS, intervalMs: 1000 },
  );
}

async function taskInstances(dagId: string, runId: string): Promise<TaskInstance[]> {
  return (await cluster!.api<{ task_instances: TaskInstance[] }>("GET", `/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}/taskInstances`)).task_instances;
}

async function xcom<T>(dagId: string, runId: string, taskId: string, key: string): Promise<T> {
  const entry = await cluster!.api<{ value: unknown }>("GET", `/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}/taskInstances/${taskId}/xcomEntries/${key}`);
  return (typeof entry.value === "string" ? JSON.parse(entry.value) : entry.value) as T;
}

/** Every file below `dir`, relative. */
function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => statSync(join(dir, f)).isFile());
}

describe("Airflow with the CeleryExecutor: two workers sharing only the bucket and the DB", () => {
  const runs: Record<string, DagRun> = {};
  const hashes: Record<string, string> = {};

  it("materializes the example and a daily partition range on both workers, with the embedded executor's results", async () => {
    await unpause("baton_assets");
    await unpause("native_customer_metrics");
    const all = await runDag("baton_assets", { assets: UNPARTITIONED });
    runs.all = all;
    const allTasks = await taskInstances("baton_assets", all.dag_run_id);
    expect(all.state, cluster!.logs()).toBe("success");
    expect(Object.fromEntries(allTasks.map((t) => [t.task_id, t.state]))).toEqual({
      plan: "success",
      orders: "success",
      customers: "success",
      customer_metrics: "success",
      published_metrics: "skipped",
      daily_revenue: "skipped",
      // the example's standalone check on orders (reads customers): its own task, after both
      orders__orders_have_customers: "success",
      // the task that runs inline checks alone (conf checks): skipped in a materialization
      inline_checks: "skipped",
      outcome: "success",
      committed: "success",
    });

    const range = await runDag("baton_assets", { assets: ["daily_revenue"], partition_range: `${RANGE.start}...${RANGE.end}` });
    runs.range = range;
    expect(range.state, cluster!.logs()).toBe("success");
    const rangeTasks = await taskInstances("baton_assets", range.dag_run_id);
    expect(rangeTasks.find((t) => t.task_id === "daily_revenue")?.state).toBe("success");

    // Every task ran on a Celery worker, and both workers ran some (orders and customers run side by side).
    const ran = [...allTasks, ...rangeTasks].filter((t) => t.state === "success");
    expect(new Set(ran.map((t) => t.hostname))).toEqual(new Set(WORKERS));

    // Airflow's asset events: one per unpartitioned asset, one per day of the range.
    const events = (await cluster!.api<{ asset_events: AssetEvent[] }>("GET", `/assets/events?source_run_id=${encodeURIComponent(all.dag_run_id)}`)).asset_events;
    const rangeEvents = (await cluster!.api<{ asset_events: AssetEvent[] }>("GET", `/assets/events?source_run_id=${encodeURIComponent(range.dag_run_id)}`)).asset_events;
    expect(events.map((e) => e.uri).sort()).toEqual(UNPARTITIONED.map((a) => `x-baton://${a}`).sort());
    expect(rangeEvents.map((e) => e.partition_key).sort()).toEqual(DAYS);
    for (const e of events) hashes[e.uri.slice("x-baton://".length)] = String(e.extra?.content_hash);
    const daily = await xcom<{ materializations: { partitionKey: string; contentHash: string; path: string }[] }>("baton_assets", range.dag_run_id, "daily_revenue", "baton");
    for (const m of daily.materializations) hashes[`daily_revenue@${m.partitionKey}`] = m.contentHash;
    expect(daily.materializations.every((m) => m.path.startsWith(`${storageUrl}/`))).toBe(true);

    // What the bucket holds: the committed records name the same content.
    const bucket = openStore(storageUrl, moto.env);
    for (const [id, hash] of Object.entries(hashes)) {
      const [key, partition] = id.split("@");
      expect((await bucket.readRecord([key!], partition))?.contentHash, id).toBe(hash);
    }

    // The same assets on the embedded executor with a local store.
    const defs = await loadDefinitions(join(example, "src/definitions.ts"));
    embeddedDir = mkdtempSync(join(tmpdir(), "baton-airflow-celery-embedded-"));
    const store = new LocalIOStore(embeddedDir);
    const embedded: Record<string, string> = {};
    for (const options of [{ selection: UNPARTITIONED.join(" ") }, { selection: "daily_revenue", partitionRange: RANGE }]) {
      const result = await materialize(defs, { ...options, store, env: {} });
      for (const [id, a] of Object.entries(result.assets))
        for (const m of a.materializations) if (m.metadata.contentHash) embedded[`${id}${m.partitionKey ? `@${m.partitionKey}` : ""}`] = m.metadata.contentHash;
    }
    expect(Object.keys(embedded).sort()).toEqual([...UNPARTITIONED, ...DAYS.map((d) => `daily_revenue@${d}`)].sort());
    expect(hashes).toEqual(embedded);

    // No local store anywhere: nothing but the bucket held an output.
    expect(filesBelow(root).filter((f) => f.endsWith("record.json") || /data-[0-9a-f]{16}/.test(f))).toEqual([]);
  }, 1_500_000);

  it("runs a native @task downstream of the Baton asset, reading the rows Baton wrote with baton_core.read_output", async () => {
    expect(runs.all, "the Celery run above must have run").toBeDefined();
    const native = await cluster!.until(
      async () => {
        const list = await cluster!.api<{ dag_runs: DagRun[] }>("GET", "/dags/native_customer_metrics/dagRuns");
        return list.dag_runs.find((r) => r.state === "success" || r.state === "failed");
      },
      { what: "the asset-scheduled native DAG run to finish", timeoutMs: RUN_MS, intervalMs: 1000 },
    );
    expect(native.state, cluster!.logs()).toBe("success");
    const summary = await xcom<{ rows: number; total_spend: number }>("native_customer_metrics", native.dag_run_id, "summarize", "return_value");
    const { frame } = await openStore(storageUrl, moto.env).read(["customer_metrics"], undefined);
    expect(summary.rows).toBe(frame.height);
    expect(summary.total_spend).toBeCloseTo(frame.getColumn("total_spend").sum() as number, 6);
    const [ti] = await taskInstances("native_customer_metrics", native.dag_run_id);
    expect(WORKERS).toContain(ti?.hostname);
  }, 900_000);

  it("keeps the S3 secret out of Airflow's DB, task logs, XComs and rendered fields", async () => {
    const range = runs.range;
    if (!range) throw new Error("the Celery runs above must have run");
    const secret = moto.env.AWS_SECRET_ACCESS_KEY!;
    // Every row of every table of Airflow's metadata DB (XCom, rendered task fields, logs, connections...).
    const dump = execFileSync(
      python.python,
      ["-c", "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nfor (t,) in c.execute(\"select name from sqlite_master where type='table'\"):\n    for r in c.execute(f'select * from \"{t}\"'):\n        print(t, r)", join(root, "airflow.db")],
      { maxBuffer: 256 * 1024 * 1024, encoding: "utf8" },
    );
    expect(dump).toContain("rendered_task_instance_fields");
    expect(dump).toContain(range.dag_run_id);
    expect(dump.includes(secret)).toBe(false);
    // Every file the deployment wrote: task logs, the processes' own logs, the builds' copies.
    const leaks = filesBelow(root).filter((f) => readFileSync(join(root, f)).includes(secret));
    expect(leaks).toEqual([]);
    // ...nor the warm step workers' folders (their logs, outside any step).
    const workerFiles = Object.values(workerDirs).flatMap((dir) => filesBelow(dir).map((f) => join(dir, f)));
    expect(workerFiles.some((f) => f.endsWith(".log"))).toBe(true);
    expect(workerFiles.filter((f) => readFileSync(f).includes(secret))).toEqual([]);
    const taskLogs = filesBelow(root).filter((f) => /(^|\/)logs\/dag_id=baton_assets\//.test(f));
    expect(taskLogs.length).toBeGreaterThan(0);
    // The worker logs show what the steps did, with the bucket they wrote to.
    const taskLogText = taskLogs.map((f) => readFileSync(join(root, f), "utf8")).join("\n");
    expect(taskLogText).toContain(storageUrl);
    // The Celery workers started warm step workers for their first steps and reused them for later ones.
    expect(taskLogText).toMatch(/baton worker pid \d+ \(started\)/);
    expect(taskLogText).toMatch(/baton worker pid \d+ \(warm\)/);
    // ...and the bucket holds no trace of the secret either.
    const bucket = openStore(storageUrl, moto.env);
    const objects = await bucket.listFiles();
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects.filter((f) => f.endsWith(".json"))) expect((await bucket.readText(o)).includes(secret), o).toBe(false);
  }, 300_000);
});

describe("Airflow's own pools and failure handling for Baton's pools and sensors (same cluster)", () => {
  /** [start, end] in ms of each task, as Airflow recorded them. */
  const spans = (tis: TaskInstance[], ids: string[]) => ids.map((id) => tis.find((t) => t.task_id === id)!).map((t) => [Date.parse(t.start_date!), Date.parse(t.end_date!)] as const);
  const overlap = ([a, b]: (readonly [number, number])[]) => a![0] < b![1] && b![0] < a![1];

  it("the build's pools file creates the pool; two tasks in a 1-slot pool never overlap, two without it do", async () => {
    const imported = await cluster!.cli(["pools", "import", join(root, "central", "dags", "pools", "airflow-pools.json")]);
    expect(imported).toContain("Uploaded 1 pool(s)");
    const pool = await cluster!.api<{ name: string; slots: number; description: string }>("GET", "/pools/solo");
    expect([pool.slots, pool.description]).toEqual([1, "one warehouse session"]);
    await unpause("pools_assets");
    // Two workers of one slot each: both tasks of a run can start at once unless the pool holds one back.
    const pooled = await runDag("pools_assets", { assets: ["pooled_a", "pooled_b"] });
    const free = await runDag("pools_assets", { assets: ["free_a", "free_b"] });
    expect([pooled.state, free.state], cluster!.logs()).toEqual(["success", "success"]);
    const pooledTis = await taskInstances("pools_assets", pooled.dag_run_id);
    const freeTis = await taskInstances("pools_assets", free.dag_run_id);
    expect(pooledTis.filter((t) => t.task_id.startsWith("pooled_")).map((t) => t.pool)).toEqual(["solo", "solo"]);
    expect({ pooled: overlap(spans(pooledTis, ["pooled_a", "pooled_b"])), free: overlap(spans(freeTis, ["free_a", "free_b"])) }).toEqual({ pooled: false, free: true });
  }, 900_000);

  it("a sensor whose evaluation keeps failing is retried, and Airflow pauses its DAG after 3 failed runs in a row", async () => {
    const dagId = "pools_sensor_always_fails";
    await unpause(dagId);
    const paused = await cluster!.until(
      async () => ((await cluster!.api<{ is_paused: boolean }>("GET", `/dags/${dagId}`)).is_paused ? true : undefined),
      { what: `the scheduler to pause ${dagId} after its failed runs`, timeoutMs: RUN_MS, intervalMs: 1000 },
    );
    expect(paused).toBe(true);
    const { dag_runs } = await cluster!.api<{ dag_runs: DagRun[] }>("GET", `/dags/${dagId}/dagRuns`);
    expect(dag_runs.map((r) => r.state)).toEqual(["failed", "failed", "failed"]);
    for (const run of dag_runs) {
      const evaluate = (await taskInstances(dagId, run.dag_run_id)).find((t) => t.task_id === "evaluate")!;
      // One attempt and its 3 retries, then the run failed.
      expect({ run: run.dag_run_id, state: evaluate.state, tries: evaluate.try_number }).toEqual({ run: run.dag_run_id, state: "failed", tries: 4 });
    }
    const logs = filesBelow(root).filter((f) => f.includes(`dag_id=${dagId}/`));
    expect(logs.map((f) => readFileSync(join(root, f), "utf8")).join("\n")).toContain("always_fails: the source is unreachable");
  }, 900_000);
});
