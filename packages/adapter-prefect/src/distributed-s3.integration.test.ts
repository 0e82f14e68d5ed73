import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDefinitions, materialize, openStore, type IOStore } from "@baton/core";
import { buildTarget, corePythonWheel } from "@baton/core/build";
import { ensurePythonEnv, startMoto, waitFor, type MotoServer, type PythonEnv } from "@baton/testing";
import { prefectWheel } from "./adapter.js";
import { adapter } from "./cli.js";
import { prefectApi, TERMINAL, type Json } from "./__tests__/prefect/api.js";
import { expectedPullSteps } from "./__tests__/prefect/pull-steps.js";
import { startPrefectServer, type PrefectServer } from "./__tests__/prefect/server.js";

/*
 * Prefect on S3 with nothing shared but the bucket and Prefect's database: examples/customer-metrics
 * built with --storage s3://… and --storage-secret, deployed with `prefect deploy` to a process work
 * pool from a folder that is then deleted; two `prefect worker start` processes, each in its own copy
 * of the build (BATON_PROJECT_DIR) and without any AWS variable, run the flow runs. The S3
 * credentials live only in a Prefect Secret block. What is asserted is Prefect's own record (flow and
 * task run states, asset events, the workers' submitted-flow-run events), the bucket, and a native
 * Prefect task downstream reading the rows Baton wrote with baton_core.read_output.
 */
const EXAMPLE = fileURLToPath(new URL("../../../examples/customer-metrics/", import.meta.url));
const REQUIREMENTS = fileURLToPath(new URL("../python/requirements-s3-test.txt", import.meta.url));
const DOWNSTREAM = fileURLToPath(new URL("./__tests__/prefect/downstream.py", import.meta.url));
const FLOW = "customer-metrics";
const POOL = "baton-distributed";
const SECRET = "baton-s3";
const WORKERS = ["worker-a", "worker-b"];
const UNPARTITIONED = ["orders", "customers", "customer_metrics"];
const RANGES = [
  { start: "2024-01-01", end: "2024-01-03", keys: ["2024-01-01", "2024-01-02", "2024-01-03"] },
  { start: "2024-01-04", end: "2024-01-06", keys: ["2024-01-04", "2024-01-05", "2024-01-06"] },
];

const tmp = mkdtempSync(join(tmpdir(), "baton-prefect-s3-"));
const buildDir = join(tmp, "build");
const copyOf = (worker: string) => join(tmp, worker, "build");
const logOf = (name: string) => join(tmp, `${name}.log`);
let moto: MotoServer;
let server: PrefectServer;
let venv: PythonEnv;
let call: ReturnType<typeof prefectApi>;
let storageUrl = "";
const workers: ChildProcess[] = [];
// Flow runs of the Baton deployment, by what they ran.
const batonRuns: Record<string, string> = {};

const tail = (file: string) => {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-40).join("\n");
  } catch {
    return "(no log)";
  }
};

/** This process's environment without any store or AWS setting: what the workers start from. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("AWS_") && k !== "BATON_STORAGE") env[k] = v;
  return env;
}

/** Runs a command to its end (async, so the test's timers and waits keep running). */
function run(command: string, args: string[], options: { cwd: string; env: Record<string, string>; timeoutMs?: number }): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 300_000);
    child.once("error", reject);
    child.once("exit", (code) => (clearTimeout(timer), resolve({ code: code ?? -1, out })));
  });
}

async function prefect(args: string[], cwd: string, what: string): Promise<string> {
  const r = await run(venv.bin("prefect"), args, { cwd, env: { ...cleanEnv(), ...server.env } });
  if (r.code !== 0) throw new Error(`${what} (prefect ${args.join(" ")}) exited ${r.code}:\n${r.out}`);
  return r.out;
}

async function finished(flowRunId: string, what: string): Promise<Json> {
  return waitFor(
    async () => {
      const flowRun = await call("GET", `/flow_runs/${flowRunId}`);
      return TERMINAL.includes(flowRun.state?.type) ? flowRun : undefined;
    },
    { what: `${what} (flow run ${flowRunId}) to end; worker logs: ${WORKERS.map(logOf).join(", ")}`, timeoutMs: 600_000 },
  );
}

async function taskRuns(flowRunId: string, count: number): Promise<Json[]> {
  return waitFor(
    async () => {
      const runs = await call<Json[]>("POST", "/task_runs/filter", { flow_runs: { id: { any_: [flowRunId] } } });
      return runs.length === count && runs.every((r) => TERMINAL.includes(r.state?.type)) ? runs : undefined;
    },
    { what: `the ${count} task runs of flow run ${flowRunId} to be recorded ended` },
  );
}

async function events(filter: Json, atLeast: number, what: string): Promise<Json[]> {
  return waitFor(
    async () => {
      const page = await call("POST", "/events/filter", { filter: { occurred: { since: "2000-01-01T00:00:00Z" }, ...filter }, limit: 50 });
      return (page.events as Json[]).length >= atLeast ? (page.events as Json[]) : undefined;
    },
    { what },
  );
}

/** Every event the server kept, page by page (at most 50 a page). */
async function everyEvent(): Promise<Json[]> {
  const all: Json[] = [];
  let page = await call("POST", "/events/filter", { filter: { occurred: { since: "2000-01-01T00:00:00Z" } }, limit: 50 });
  for (;;) {
    all.push(...(page.events as Json[]));
    if (!page.next_page) return all;
    const response = await fetch(String(page.next_page));
    if (!response.ok) throw new Error(`Prefect API ${page.next_page}: ${response.status} ${await response.text()}`);
    page = (await response.json()) as Json;
  }
}

const materializationsOf = (flowRunId: string, count: number) =>
  events({ related: { id: [`prefect.flow-run.${flowRunId}`] }, event: { prefix: ["prefect.asset.materialization."] } }, count, `the asset events of flow run ${flowRunId}`);

/** The content hashes the embedded executor gives on a local store, by asset and partition. */
async function embeddedHashes(): Promise<{ hashes: Record<string, string>; store: IOStore }> {
  const defs = await loadDefinitions(join(EXAMPLE, "src/definitions.ts"), "default");
  const store = openStore(join(tmp, "embedded-storage"));
  const env = { ...process.env, WAREHOUSE_URL: join(tmp, "embedded-warehouse") };
  const all = await materialize(defs, { store, env });
  expect(all.status).toBe("success");
  const range = await materialize(defs, { store, env, selection: "daily_revenue", partitionRange: { start: RANGES[0]!.start, end: RANGES[1]!.end } });
  expect(range.status).toBe("success");
  const hashes: Record<string, string> = {};
  for (const id of UNPARTITIONED) hashes[id] = all.assets[id]!.materializations[0]!.metadata.contentHash!;
  for (const m of range.assets.daily_revenue!.materializations) hashes[`daily_revenue@${m.partitionKey}`] = m.metadata.contentHash!;
  return { hashes, store };
}

beforeAll(async () => {
  moto = await startMoto();
  storageUrl = moto.storageUrl("customer-metrics");
  venv = ensurePythonEnv({ name: "prefect-s3", requirements: REQUIREMENTS, wheels: [corePythonWheel(), prefectWheel()] });
  await buildTarget(adapter, {
    projectRoot: EXAMPLE,
    definitionsFile: "src/definitions.ts",
    outDir: buildDir,
    storage: storageUrl,
    rawOptions: { storageSecret: SECRET, workPool: POOL },
  });
  for (const w of WORKERS) {
    mkdirSync(join(tmp, w), { recursive: true });
    cpSync(buildDir, copyOf(w), { recursive: true });
  }
  server = await startPrefectServer({ prefect: venv.bin("prefect"), dir: join(tmp, "server") });
  call = prefectApi(server.apiUrl);

  // The operator's one-time setup: the credentials as a Secret block (a JSON string: Prefect masks
  // only string values; a dict's fields would show in its API), a process work pool.
  const secret = JSON.stringify({
    aws_access_key_id: moto.env.AWS_ACCESS_KEY_ID,
    aws_secret_access_key: moto.env.AWS_SECRET_ACCESS_KEY,
    region: moto.env.AWS_REGION,
    endpoint_url: moto.endpoint,
  });
  const save = await run(venv.python, ["-c", `import os\nfrom prefect.blocks.system import Secret\nSecret(value=os.environ["S3_SECRET"]).save(${JSON.stringify(SECRET)}, overwrite=True)`], {
    cwd: tmp,
    env: { ...cleanEnv(), ...server.env, S3_SECRET: secret },
  });
  if (save.code !== 0) throw new Error(`saving the Secret block failed:\n${save.out}`);
  await prefect(["work-pool", "create", POOL, "--type", "process"], tmp, "creating the work pool");
  // Only the ad-hoc deployment: the sensor's and the schedule's would put their own runs on the two workers.
  await prefect(["--no-prompt", "deploy", "--name", "materialize"], buildDir, "deploying prefect.yaml's materialize deployment");
  // The folder deploy ran in is gone: a flow run can only run from a worker's own copy.
  rmSync(buildDir, { recursive: true, force: true });

  for (const name of WORKERS) {
    const log = openSync(logOf(name), "a");
    const child = spawn(venv.bin("prefect"), ["worker", "start", "--pool", POOL, "--type", "process", "--name", name, "--limit", "1"], {
      cwd: copyOf(name),
      env: {
        ...cleanEnv(),
        ...server.env,
        PREFECT_HOME: join(tmp, name, "prefect-home"),
        BATON_PROJECT_DIR: copyOf(name),
        BATON_NODE: process.execPath,
        WAREHOUSE_URL: join(tmp, name, "warehouse"),
        PREFECT_WORKER_QUERY_SECONDS: "1",
        PREFECT_WORKER_PREFETCH_SECONDS: "5",
      },
      stdio: ["ignore", log, log],
      detached: true, // its own process group: afterAll ends it and the flow runs it started
    });
    workers.push(child);
  }
  await waitFor(
    async () => {
      const online = await call<Json[]>("POST", `/work_pools/${POOL}/workers/filter`, {});
      return WORKERS.every((w) => online.some((o) => o.name === w && o.status === "ONLINE"));
    },
    { what: `both workers to be ONLINE in the work pool ${POOL} (logs: ${WORKERS.map(logOf).join(", ")})`, timeoutMs: 300_000 },
  );
}, 1_200_000);

afterAll(async () => {
  for (const child of workers) {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  }
  await server?.stop();
  await moto?.stop();
  rmSync(tmp, { recursive: true, force: true });
}, 120_000);

describe("prefect on S3: a process work pool with two workers, each with its own copy of the build", { timeout: 900_000 }, () => {
  let expected: Awaited<ReturnType<typeof embeddedHashes>>;
  beforeAll(async () => {
    expected = await embeddedHashes();
  }, 600_000);

  it("prefect deploy recorded the pull step that makes each worker's copy the working directory", async () => {
    const deployment = await call("GET", `/deployments/name/${FLOW}/materialize`);
    expect(deployment.pull_steps).toEqual(expectedPullSteps(buildDir));
    expect(deployment.work_pool_name).toBe(POOL);
    // The storage is in the build, the credentials in the Secret: neither is a parameter.
    expect(deployment.parameters).toEqual({});
  });

  it("a native Prefect flow runs the Baton deployment, then its task reads the rows Baton wrote with baton_core.read_output", async () => {
    const r = await run(venv.python, [DOWNSTREAM, `${FLOW}/materialize`, storageUrl, SECRET], {
      cwd: tmp,
      // No AWS variable here either: the native task loads the Secret block, as the Baton tasks do.
      env: { ...cleanEnv(), ...server.env, PREFECT_HOME: join(tmp, "native-home") },
      timeoutMs: 900_000,
    });
    const line = r.out.split("\n").find((l) => l.startsWith("@@result "));
    expect(line, `downstream.py exited ${r.code}:\n${r.out.slice(-4000)}\n${WORKERS.map((w) => tail(logOf(w))).join("\n")}`).toBeDefined();
    const result = JSON.parse(line!.slice("@@result ".length)) as { batonFlowRunId: string; rows: number; columns: string[]; total_spend: number; order_count: number };
    batonRuns.unpartitioned = result.batonFlowRunId;

    const { frame } = await expected.store.read(["customer_metrics"], undefined);
    expect(result.rows).toBe(frame.height);
    expect(result.columns).toEqual(frame.columns);
    expect(result.order_count).toBe(frame.getColumn("order_count").sum());
    expect(result.total_spend).toBeCloseTo(frame.getColumn("total_spend").sum() as number, 2);

    // Prefect's record: the native flow and its task completed, and so did the Baton flow run it started.
    const flowOfNative = await call("GET", "/flows/name/native-downstream");
    const [native] = await call<Json[]>("POST", "/flow_runs/filter", { flows: { id: { any_: [flowOfNative.id] } } });
    expect(native!.state.type).toBe("COMPLETED");
    const nativeTasks = await call<Json[]>("POST", "/task_runs/filter", { flow_runs: { id: { any_: [native!.id] } } });
    expect(nativeTasks.find((t) => t.name.startsWith("customer_spend"))?.state.type).toBe("COMPLETED");
    const baton = await finished(result.batonFlowRunId, "the Baton run the native flow started");
    expect(baton.state.type).toBe("COMPLETED");
    expect(nativeTasks.map((t) => t.id)).toContain(baton.parent_task_run_id);
    // The assets' task runs and the example's standalone check's (on orders, reading customers).
    const tasks = await taskRuns(result.batonFlowRunId, UNPARTITIONED.length + 1);
    expect(tasks.map((t) => [t.name, t.state.type]).sort()).toEqual([...UNPARTITIONED, "check orders:orders_have_customers"].map((a) => [a, "COMPLETED"]).sort());
    const materialized = await materializationsOf(result.batonFlowRunId, UNPARTITIONED.length);
    expect(materialized.every((e) => e.event === "prefect.asset.materialization.succeeded")).toBe(true);
    const hashes = Object.fromEntries(materialized.map((e) => [String(e.resource["prefect.resource.name"]), e.payload.content_hash]));
    expect(hashes).toEqual(Object.fromEntries(UNPARTITIONED.map((a) => [a, expected.hashes[a]])));
    expect(String(materialized[0]!.payload.path).startsWith(`${storageUrl}/`)).toBe(true);
  });

  it("two daily partition ranges run at once, one on each worker, with the embedded executor's hashes", async () => {
    const deployment = await call("GET", `/deployments/name/${FLOW}/materialize`);
    const created = await Promise.all(
      RANGES.map((r) =>
        call("POST", `/deployments/${deployment.id}/create_flow_run`, { parameters: { assets: ["daily_revenue"], partition_range_start: r.start, partition_range_end: r.end } }),
      ),
    );
    for (const [i, flowRun] of created.entries()) {
      const range = RANGES[i]!;
      batonRuns[`${range.start}...${range.end}`] = flowRun.id;
      const done = await finished(flowRun.id, `the range ${range.start}...${range.end}`);
      expect(done.state.type, `${done.state.message}\n${WORKERS.map((w) => tail(logOf(w))).join("\n")}`).toBe("COMPLETED");
      // One task run per partition (the task mapped over the range's keys), each with its own event.
      const tasks = await taskRuns(flowRun.id, range.keys.length);
      expect(tasks.map((t) => [t.name, t.state.type]).sort()).toEqual(range.keys.map((k) => [`daily_revenue [${k}]`, "COMPLETED"]));
      const events = await materializationsOf(flowRun.id, range.keys.length);
      expect(events.every((e) => e.event === "prefect.asset.materialization.succeeded")).toBe(true);
      const byKey = Object.fromEntries(events.map((e) => [e.payload.partition_key, e.payload.content_hash]));
      expect(byKey).toEqual(Object.fromEntries(range.keys.map((k) => [k, expected.hashes[`daily_revenue@${k}`]])));
    }
  });

  it("the flow runs were picked up by both workers: Prefect's submitted-flow-run events name them", async () => {
    expect(Object.keys(batonRuns)).toHaveLength(1 + RANGES.length);
    const workerOf: Record<string, string> = {};
    for (const [what, id] of Object.entries(batonRuns)) {
      const submitted = await events({ related: { id: [`prefect.flow-run.${id}`] }, event: { name: ["prefect.worker.submitted-flow-run"] } }, 1, `the worker event of flow run ${id}`);
      expect(submitted, what).toHaveLength(1);
      workerOf[what] = String(submitted[0]!.resource["prefect.resource.name"]);
      const flowRun = await call("GET", `/flow_runs/${id}`);
      expect(flowRun.work_pool_name).toBe(POOL);
      expect(flowRun.infrastructure_pid).toBeTruthy();
    }
    // The two ranges ran at the same time and each worker takes one run at a time (--limit 1).
    const ranges = RANGES.map((r) => workerOf[`${r.start}...${r.end}`]);
    expect(new Set(ranges), JSON.stringify(workerOf)).toEqual(new Set(WORKERS));
  });

  it("the outputs are in the bucket with the embedded hashes, and no local store exists anywhere", async () => {
    const s3 = openStore(storageUrl, moto.env);
    for (const id of UNPARTITIONED) expect((await s3.readRecord([id], undefined))?.contentHash, id).toBe(expected.hashes[id]);
    for (const key of RANGES.flatMap((r) => r.keys)) expect((await s3.readRecord(["daily_revenue"], key))?.contentHash, key).toBe(expected.hashes[`daily_revenue@${key}`]);
    expect(await s3.storedPartitions(["daily_revenue"])).toEqual(RANGES.flatMap((r) => r.keys));
    // The step's default store is <cwd>/.baton/storage: neither copy has one, and the deployed folder is gone.
    for (const w of WORKERS) expect(existsSync(join(copyOf(w), ".baton", "storage")), w).toBe(false);
    expect(existsSync(buildDir)).toBe(false);
  });

  it("the S3 credentials are nowhere in Prefect's records, its database or the workers' output", async () => {
    const secrets = [moto.env.AWS_SECRET_ACCESS_KEY!, moto.env.AWS_ACCESS_KEY_ID!];
    const ids = Object.values(batonRuns);
    const records: Record<string, unknown> = {
      "flow runs": await call("POST", "/flow_runs/filter", {}),
      "task runs": await call("POST", "/task_runs/filter", {}),
      "flow run states": await Promise.all(ids.map((id) => call("GET", `/flow_run_states/?flow_run_id=${id}`))),
      logs: [...(await call<Json[]>("POST", "/logs/filter", { limit: 200 })), ...(await call<Json[]>("POST", "/logs/filter", { limit: 200, offset: 200 }))],
      artifacts: await call("POST", "/artifacts/filter", {}),
      deployments: await call("POST", "/deployments/filter", {}),
      variables: await call("POST", "/variables/filter", {}),
      "block documents (as the API shows them)": await call("POST", "/block_documents/filter", {}),
      events: await everyEvent(),
    };
    const text = JSON.stringify(records);
    expect(text).toContain("customer_metrics"); // the records are really there
    const database = readdirSync(join(tmp, "server"))
      .filter((f) => f.startsWith("prefect.db"))
      .map((f) => readFileSync(join(tmp, "server", f)).toString("latin1"))
      .join("\n");
    expect(database.length).toBeGreaterThan(0);
    const workerOutput = WORKERS.map((w) => readFileSync(logOf(w), "utf8")).join("\n");
    for (const secret of secrets) {
      expect(Object.keys(records).filter((k) => JSON.stringify(records[k]).includes(secret)), `"${secret}" in the API's records`).toEqual([]);
      expect(database.includes(secret), `"${secret}" in prefect.db`).toBe(false);
      expect(workerOutput.includes(secret), `"${secret}" in a worker's output`).toBe(false);
    }
  });
});
