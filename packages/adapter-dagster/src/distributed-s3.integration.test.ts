/**
 * The example on Dagster with nothing shared but a bucket and Dagster's database, as on separate
 * hosts: `baton dagster build --storage s3://…`, the build copied twice (and the original removed),
 * a webserver serving one copy and `dagster-daemon run` another. Runs are submitted through the
 * webserver's GraphQL API (`launchRun`, `launchPartitionBackfill`) into the QueuedRunCoordinator's
 * queue; the daemon dequeues them and runs them from its own copy with the multiprocess executor, each
 * Node step in a working directory of its own. A native Python asset reads a Baton output through
 * `BatonInputManager`. The S3 keys reach the steps through the `baton_storage` resource's `dg.EnvVar`s,
 * set on the daemon's host only. Everything is read back from Dagster's records and from the bucket.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LocalIOStore, loadDefinitions, materialize, openStore, type IOStore } from "@baton/core";
import { freePort, startMoto, waitFor, type MotoServer } from "@baton/testing";
import { buildExample, dagsterEnv, exampleDir, type DagsterProject } from "./__tests__/dagster-harness.js";
import { expectType, stopGroup, watchDagsterDev, type DagsterDev } from "./__tests__/dagster-dev.js";

const RUN_MS = 300_000;
const ROWS = "10000";
const LOCATION = "customer_metrics";
const REPO = { repositoryName: "__repository__", repositoryLocationName: LOCATION };
const SALES = ["orders", "customers", "customer_metrics", "published_metrics"];
const DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"];

vi.setConfig({ testTimeout: RUN_MS + 60_000 });

let moto: MotoServer | undefined;
let work: string;
let storage: string;
let store: IOStore;
let project: DagsterProject;
let webCopy: string;
let daemonCopy: string;
let home: string;
let stepDirs: string;
let web: DagsterDev | undefined;
let daemon: ChildProcess | undefined;
let daemonLog = "";
/** Content hashes and rows from Baton's embedded executor on a local store: what Dagster must reproduce. */
let reference: { hashes: Record<string, string>; metricsRows: number; metricsSpend: number };

/**
 * What a user adds beside the Baton component: a native asset downstream of customer_metrics, read
 * through the project's `baton_input` (defs/resources.py: the same store and keys as the steps).
 */
const NATIVE_ASSET = `"""A native Dagster asset that reads the Baton asset customer_metrics."""

import dagster as dg
import polars as pl


@dg.asset(
    ins={
        "metrics": dg.AssetIn(key="customer_metrics", input_manager_key="baton_input")
    }
)
def top_customers(metrics: pl.DataFrame) -> dg.MaterializeResult[None]:
    top = metrics.sort("total_spend", descending=True).head(3)
    return dg.MaterializeResult(
        metadata={
            "rows_read": metrics.height,
            "total_spend": float(metrics["total_spend"].sum()),
            "top": top["customer_id"].to_list(),
        }
    )
`;

/**
 * BATON_NODE for the daemon's host: every Node step starts in a fresh directory of its own. The
 * daemon's steps run as one-off processes (BATON_WORKER=off), so that each Node process is one
 * step, with the step's own argv; the warm worker on an s3 store is conformance-s3's.
 */
const NODE_IN_OWN_DIR = `#!/bin/sh
dir=$(mktemp -d "$STEP_DIRS/step-XXXXXX") || exit 70
cd "$dir" || exit 70
echo "$PPID" > "$dir/.parent-pid"
printf '%s\n' "$@" > "$dir/.argv"
exec "$STEP_NODE" "$@"
`;

function workspace(copy: string, name: string): string {
  const file = join(work, `${name}-workspace.yaml`);
  const entry = { module_name: `${project.module}.definitions`, working_directory: join(copy, "src"), location_name: LOCATION };
  writeFileSync(file, `load_from:\n  - python_module: ${JSON.stringify(entry)}\n`);
  return file;
}

/** Files below dir; Dagster's sqlite files (-shm, -journal) may come and go while the scan runs. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const isFile = (f: string) => {
    try {
      return statSync(f).isFile();
    } catch {
      return false;
    }
  };
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).map((f) => join(dir, f)).filter(isFile);
}



const gql = <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => web!.gql<T>(query, variables);

interface RunInfo {
  runId: string;
  status: string;
  tags: { key: string; value: string }[];
  assetMaterializations: { assetKey: { path: string[] }; partition: string | null; metadataEntries: { label: string; intRepr?: string; text?: string; floatValue?: number; jsonString?: string; path?: string; url?: string }[] }[];
  eventConnection: { events: { __typename: string; stepKey?: string | null; message?: string; error?: { message: string } | null }[] };
}

const RUN_FIELDS = `runId status tags { key value }
  assetMaterializations { assetKey { path } partition metadataEntries { label
    ... on IntMetadataEntry { intRepr } ... on TextMetadataEntry { text } ... on FloatMetadataEntry { floatValue } ... on JsonMetadataEntry { jsonString }
    ... on PathMetadataEntry { path } ... on UrlMetadataEntry { url } } }
  eventConnection(limit: 5000) { events { __typename
    ... on StepEvent { stepKey } ... on MessageEvent { message } ... on ExecutionStepFailureEvent { error { message } } } }`;

async function runById(runId: string): Promise<RunInfo> {
  const { runOrError } = await gql<{ runOrError: RunInfo & { __typename: string } }>(`query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { ${RUN_FIELDS} } ... on PythonError { message } } }`, { id: runId });
  return expectType(runOrError, "Run", `run ${runId}`);
}

const tail = () => `\n--- dagster-daemon (tail) ---\n${daemonLog.slice(-8000)}\n--- dagster-webserver (tail) ---\n${web?.log().slice(-4000) ?? ""}`;

async function finished(runId: string, what: string): Promise<RunInfo> {
  const run = await waitFor(
    async () => {
      const r = await runById(runId);
      return ["SUCCESS", "FAILURE", "CANCELED"].includes(r.status) ? r : undefined;
    },
    { timeoutMs: RUN_MS, intervalMs: 1_000, what: `${what} (run ${runId}) to finish` },
  ).catch((e: Error) => {
    throw new Error(`${e.message}${tail()}`);
  });
  if (run.status !== "SUCCESS") {
    const errors = run.eventConnection.events.filter((e) => e.__typename.includes("Failure")).map((e) => `${e.__typename}: ${e.message ?? ""} ${e.error?.message ?? ""}`);
    throw new Error(`${what} (run ${runId}) ended ${run.status}:\n${errors.join("\n")}${tail()}`);
  }
  return run;
}

function metadata(run: RunInfo, key: string, partition: string | null = null): Record<string, string | number> {
  const m = run.assetMaterializations.find((x) => x.assetKey.path.join("/") === key && x.partition === partition);
  if (!m) throw new Error(`run ${run.runId} has no materialization of ${key}${partition ? ` [${partition}]` : ""}`);
  return Object.fromEntries(m.metadataEntries.map((e) => [e.label, e.intRepr ?? e.text ?? e.floatValue ?? e.jsonString ?? e.path ?? e.url ?? ""]));
}

const types = (run: RunInfo) => run.eventConnection.events.map((e) => e.__typename);

/** Queued by the submitter (RUN_ENQUEUED), started by the daemon's run queue (RUN_STARTING), each step in a worker process. */
function expectQueuedAndDequeued(run: RunInfo): void {
  const seen = types(run);
  expect(seen).toEqual(expect.arrayContaining(["RunEnqueuedEvent", "RunStartingEvent", "StepWorkerStartedEvent"]));
  expect(seen.indexOf("RunEnqueuedEvent")).toBeLessThan(seen.indexOf("RunStartingEvent"));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "baton-dagster-distributed-"));
  moto = await startMoto();
  storage = moto.storageUrl(`distributed-${randomUUID()}`);
  store = openStore(storage, moto.env);
  const venv = dagsterEnv();

  // 1. The build, with the bucket baked in, copied to two "hosts"; the original is removed.
  project = await buildExample(join(work, "build"), storage);
  webCopy = join(work, "web-host", "app");
  daemonCopy = join(work, "daemon-host", "app");
  for (const copy of [webCopy, daemonCopy]) {
    cpSync(project.outDir, copy, { recursive: true, verbatimSymlinks: true });
    writeFileSync(join(copy, "src", project.module, "defs", "top_customers.py"), NATIVE_ASSET);
  }
  rmSync(project.outDir, { recursive: true, force: true });

  // 2. Dagster's database (sqlite in DAGSTER_HOME), shared by both, and the run queue.
  home = join(work, "dagster-home");
  stepDirs = join(work, "daemon-host", "steps");
  for (const d of [home, stepDirs]) mkdirSync(d, { recursive: true });
  writeFileSync(
    join(home, "dagster.yaml"),
    [
      "run_coordinator:",
      "  module: dagster._core.run_coordinator",
      "  class: QueuedRunCoordinator",
      "  config:",
      "    max_concurrent_runs: 2",
      "    dequeue_interval_seconds: 1",
      "telemetry:",
      "  enabled: false",
      "",
    ].join("\n"),
  );
  const nodeWrapper = join(work, "daemon-host", "node-in-own-dir.sh");
  writeFileSync(nodeWrapper, NODE_IN_OWN_DIR);
  chmodSync(nodeWrapper, 0o755);
  const common = { DAGSTER_HOME: home, PYTHONUNBUFFERED: "1", PYTHONWARNINGS: "ignore::UserWarning" };
  // Create the instance's storage once, as an operator does before starting its services: a webserver
  // and a daemon that both create a fresh SQLite schema at once can leave two alembic heads.
  execFileSync(venv.bin("dagster"), ["instance", "migrate"], { env: { ...process.env, ...common }, stdio: "pipe", timeout: 300_000 });

  // 3. The daemon's host: the S3 keys (read by the baton_storage resource's dg.EnvVar in the run), Node.
  daemon = spawn(venv.bin("dagster-daemon"), ["run", "-w", workspace(daemonCopy, "daemon")], {
    cwd: join(work, "daemon-host"),
    env: { ...process.env, ...common, ...moto.env, BATON_NODE: nodeWrapper, STEP_NODE: process.execPath, STEP_DIRS: stepDirs, BATON_WORKER: "off", CUSTOMER_METRICS_ROWS: ROWS, WAREHOUSE_URL: join(work, "daemon-host", "warehouse") },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = (chunk: Buffer) => (daemonLog = (daemonLog + chunk.toString()).slice(-60_000));
  daemon.stdout!.on("data", keep);
  daemon.stderr!.on("data", keep);
  process.once("exit", () => daemon?.pid && process.kill(-daemon.pid, "SIGKILL"));

  // 4. The webserver's host: no Node, no endpoint, no store. Dagster validates a run's config when
  // it is launched, dg.EnvVar values included, so the two keys are set here as well (Dagster
  // checks they resolve and stores the names only).
  const port = await freePort();
  const { BATON_STORAGE: _storage, AWS_ENDPOINT_URL_S3: _endpoint, ...clean } = process.env;
  const keys = { AWS_ACCESS_KEY_ID: moto.env.AWS_ACCESS_KEY_ID!, AWS_SECRET_ACCESS_KEY: moto.env.AWS_SECRET_ACCESS_KEY! };
  const child = spawn(venv.bin("dagster-webserver"), ["-w", workspace(webCopy, "web"), "-h", "127.0.0.1", "-p", String(port)], {
    cwd: join(work, "web-host"),
    env: { ...clean, ...common, ...keys },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const starting = watchDagsterDev(child, port, LOCATION, "dagster-webserver", (d) => (web = d));
  starting.catch(() => undefined);

  // Meanwhile, the reference: Baton's embedded executor on a local store.
  process.env.CUSTOMER_METRICS_ROWS = ROWS;
  const defs = await loadDefinitions(join(exampleDir, "src", "definitions.ts"));
  const local = new LocalIOStore(join(work, "embedded-storage"));
  await materialize(defs, { selection: "+customer_metrics", store: local });
  const hashes: Record<string, string> = {};
  for (const id of ["orders", "customers", "customer_metrics"]) hashes[id] = (await local.readRecord([id], undefined))!.contentHash!;
  for (const day of DAYS) {
    await materialize(defs, { selection: "daily_revenue", partition: day, store: local });
    hashes[`daily_revenue[${day}]`] = (await local.readRecord(["daily_revenue"], day))!.contentHash!;
  }
  const { frame } = await local.read(["customer_metrics"], undefined);
  reference = { hashes, metricsRows: frame.height, metricsSpend: frame.getColumn("total_spend").sum() as number };

  await starting;
  await waitFor(() => daemon!.exitCode === null && /daemon.*(started|running)|Instance is configured with the following daemons/i.test(daemonLog), {
    timeoutMs: 240_000,
    intervalMs: 500,
    what: "dagster-daemon to start its daemons",
  }).catch((e: Error) => {
    throw new Error(`${e.message}${tail()}`);
  });
}, 900_000);

afterAll(async () => {
  if (web) await stopGroup(web.child);
  if (daemon) await stopGroup(daemon);
  await moto?.stop();
  if (work && !process.env.BATON_KEEP_TEST_DIRS) rmSync(work, { recursive: true, force: true });
}, 120_000);

describe("examples/customer-metrics on Dagster: webserver and daemon on separate copies, sharing only the bucket and Dagster's database", () => {
  let sales: RunInfo;
  let backfillRuns: RunInfo[];

  it("runs a launchRun through the daemon's queue with the multiprocess executor: Baton and native assets materialized", async () => {
    const { launchRun } = await gql<{ launchRun: { __typename: string; run?: { runId: string; status: string }; message?: string; errors?: unknown } }>(
      `mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
        ... on LaunchRunSuccess { run { runId status } } ... on PythonError { message } ... on InvalidSubsetError { message }
        ... on RunConfigValidationInvalid { errors { message } } } }`,
      {
        p: {
          selector: { ...REPO, jobName: "__ASSET_JOB", assetSelection: [...SALES, "top_customers"].map((a) => ({ path: [a] })) },
          runConfigData: { execution: { config: { multiprocess: { max_concurrent: 2 } } } },
        },
      },
    );
    const submitted = expectType(launchRun, "LaunchRunSuccess", "launchRun").run!;
    expect(submitted.status, "the webserver only queues the run").toBe("QUEUED");
    sales = await finished(submitted.runId, "the sales run");

    // Dagster's records: queued, dequeued by the daemon, each step in its own worker process.
    expectQueuedAndDequeued(sales);
    const workers = sales.eventConnection.events.filter((e) => e.__typename === "StepWorkerStartedEvent").map((e) => e.stepKey);
    // The example's standalone check (orders_have_customers) is an op of its own.
    expect(new Set(workers)).toEqual(new Set(["sales", "orders_orders_have_customers", "top_customers"]));
    for (const id of [...SALES, "top_customers"]) metadata(sales, id);
    for (const id of ["orders", "customers", "customer_metrics"]) {
      const meta = metadata(sales, id);
      expect(meta["baton/content_hash"], `${id}: the hash Baton's embedded executor computes`).toBe(reference.hashes[id]);
      expect(String(meta["baton/path"]).startsWith(`${storage}/`), `${id}: stored at ${meta["baton/path"]}`).toBe(true);
    }
    // The native asset read the rows the Node step wrote to the bucket.
    const native = metadata(sales, "top_customers");
    expect(Number(native.rows_read)).toBe(reference.metricsRows);
    expect(Number(native.total_spend)).toBeCloseTo(reference.metricsSpend, 6);
  });

  it("runs a partition backfill (daily_revenue over three days) that the daemon submits to the queue as one run per day", async () => {
    const { launchPartitionBackfill } = await gql<{ launchPartitionBackfill: { __typename: string; backfillId?: string; message?: string } }>(
      `mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) { __typename
        ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } ... on InvalidSubsetError { message } } }`,
      { p: { assetSelection: [{ path: ["daily_revenue"] }], partitionNames: DAYS, fromFailure: false } },
    );
    const backfillId = expectType(launchPartitionBackfill, "LaunchBackfillSuccess", "launchPartitionBackfill").backfillId!;
    const backfill = await waitFor(
      async () => {
        const { partitionBackfillOrError: b } = await gql<{ partitionBackfillOrError: { __typename: string; status: string; runs: { runId: string }[] } }>(
          `query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename ... on PartitionBackfill { status runs(limit: 10) { runId } } } }`,
          { id: backfillId },
        );
        return ["COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"].includes(b.status) ? b : undefined;
      },
      { timeoutMs: RUN_MS, intervalMs: 1_000, what: `backfill ${backfillId} to complete` },
    ).catch((e: Error) => {
      throw new Error(`${e.message}${tail()}`);
    });
    expect(backfill.runs, "BackfillPolicy.multi_run(1): one run per partition").toHaveLength(DAYS.length);
    backfillRuns = await Promise.all(backfill.runs.map((r) => finished(r.runId, "a backfill run")));
    expect(backfill.status).toMatch(/^COMPLETED(_SUCCESS)?$/);
    for (const run of backfillRuns) {
      const tag = (key: string) => run.tags.find((t) => t.key === key)?.value;
      // The daemon tags each run as a range of one key.
      const day = tag("dagster/asset_partition_range_start");
      expect([tag("dagster/backfill"), tag("dagster/asset_partition_range_end")]).toEqual([backfillId, day]);
      expectQueuedAndDequeued(run);
      expect(run.assetMaterializations.map((m) => m.partition)).toEqual([day]);
      expect(metadata(run, "daily_revenue", day!)["baton/content_hash"], `daily_revenue[${day}]`).toBe(reference.hashes[`daily_revenue[${day}]`]);
    }
    expect(backfillRuns.map((r) => r.assetMaterializations[0]?.partition).sort()).toEqual(DAYS);
  });

  it("left the outputs in the bucket, equal to the embedded executor's, and nothing in any local store", async () => {
    for (const id of ["orders", "customers", "customer_metrics"]) expect((await store.readRecord([id], undefined))?.contentHash, id).toBe(reference.hashes[id]);
    for (const day of DAYS) expect((await store.readRecord(["daily_revenue"], day))?.contentHash, `daily_revenue[${day}]`).toBe(reference.hashes[`daily_revenue[${day}]`]);
    const { frame } = await store.read(["customer_metrics"], undefined);
    expect(frame.height).toBe(reference.metricsRows);

    // Each Node step ran in a directory of its own (the sales step and the backfill's step) ...
    const dirs = readdirSync(stepDirs).filter((d) => d.startsWith("step-"));
    expect(dirs.length).toBeGreaterThanOrEqual(2);
    const parents = new Set(dirs.map((d) => readFileSync(join(stepDirs, d, ".parent-pid"), "utf8").trim()));
    expect(parents.size, "each Node step was started by its own step process").toBe(dirs.length);
    // ... from the daemon's copy of the build (the webserver's copy only submitted runs).
    for (const d of dirs) {
      const manifest = readFileSync(join(stepDirs, d, ".argv"), "utf8").split("\n")[3];
      expect(manifest).toBe(join(daemonCopy, "baton", "manifest.json"));
    }
    // ... and no output landed in a local folder: not there, not in either copy, nowhere under the test's root.
    const records = filesUnder(work).filter((f) => f.endsWith("record.json") && !f.startsWith(join(work, "embedded-storage")));
    expect(records.map((f) => relative(work, f))).toEqual([]);
  });

  it("kept the S3 secret out of Dagster's database, event logs, compute logs and the processes' output", async () => {
    // Stopped first, so the sqlite files are complete and stay put while they are scanned.
    await stopGroup(web!.child);
    await stopGroup(daemon!);
    const secret = moto!.env.AWS_SECRET_ACCESS_KEY!;
    const leaks = filesUnder(home).filter((f) => readFileSync(f).includes(secret));
    expect(leaks.map((f) => relative(home, f))).toEqual([]);
    expect(daemonLog.includes(secret), "the daemon's output").toBe(false);
    expect(web!.log().includes(secret), "the webserver's output").toBe(false);
    // The run recorded the variable's name only: Dagster resolved the dg.EnvVar in the run.
    expect(JSON.stringify(sales)).not.toContain(secret);
    expect(JSON.stringify(backfillRuns)).not.toContain(secret);
  });
});
