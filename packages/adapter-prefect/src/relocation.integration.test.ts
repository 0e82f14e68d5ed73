import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalIOStore, loadDefinitions, materialize } from "@baton/core";
import { buildTarget } from "@baton/core/build";
import { compareFolders, freePort, portabilityProblems, relocate, waitFor, type PythonEnv, type Relocated } from "@baton/testing";
import { expectedPullSteps } from "./__tests__/prefect/pull-steps.js";
import { adapter } from "./cli.js";

/*
 * The build is a deployable artifact: examples/customer-metrics built for Prefect, copied to a fresh
 * folder and run there by a real Prefect 3.9.1 (server, process work pool, `prefect deploy`, a
 * process worker) from a venv made from the folder's requirements.txt alone, with the checkout hidden
 * (private mount namespace) and a fresh HOME. What is asserted is Prefect's own record of the run.
 */
const EXAMPLE = fileURLToPath(new URL("../../../examples/customer-metrics/", import.meta.url));
const FLOW = "customer-metrics"; // the default: the example's package name
const PARTITION = "2024-01-15";
const ASSETS = ["orders", "customers", "customer_metrics", "published_metrics", "daily_revenue"];
// The task runs of that run: the assets' and the example's standalone check's (on orders, reading customers).
const TASKS = [...ASSETS, "check orders:orders_have_customers"];
// Hashes of the assets that write data (published_metrics writes none).
const DATA_ASSETS = ["orders", "customers", "customer_metrics", "daily_revenue"];

const tmp = mkdtempSync(join(tmpdir(), "baton-prefect-reloc-"));
const outA = join(tmp, "build-a");
const outB = join(tmp, "build-b");
let relocated: Relocated;
let venv: PythonEnv;
let api = "";

type Json = Record<string, any>;

/**
 * One request to the server's REST API. 429, 502 and 503 are retried with backoff, as Prefect's own
 * client does by default: its SQLite database answers 503 while another writer (the worker's
 * polling, a deploy) holds the lock.
 */
async function call(method: "GET" | "POST", path: string, body?: unknown): Promise<Json> {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(`${api}${path}`, { method, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    if (response.ok) return (await response.json()) as Json;
    const text = await response.text();
    if (![429, 502, 503].includes(response.status) || attempt === 6) throw new Error(`Prefect API ${method} ${path}: ${response.status} ${text} (attempt ${attempt})`);
    await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
  }
}

const tail = (file: string) => {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-40).join("\n");
  } catch {
    return "(no log)";
  }
};

/** The environment of every Prefect command inside the namespace (the server's own gets the database). */
const prefectEnv = () => ({ PREFECT_HOME: join(relocated.home, ".prefect"), PREFECT_API_URL: api, PREFECT_SERVER_ANALYTICS_ENABLED: "false" });

async function prefect(args: string[], what: string): Promise<string> {
  const r = await relocated.run(venv.bin("prefect"), args, { env: prefectEnv(), timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`${what} (prefect ${args.join(" ")}) exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** What the same assets give when run in place (core's embedded executor on the sources). */
async function inPlaceHashes(): Promise<Record<string, string>> {
  const defs = await loadDefinitions(join(EXAMPLE, "src/definitions.ts"), "default");
  const storage = join(tmp, "in-place-storage");
  const run = await materialize(defs, { partition: PARTITION, store: new LocalIOStore(storage), env: { ...process.env, WAREHOUSE_URL: join(tmp, "in-place-warehouse") } });
  expect(run.status).toBe("success");
  return Object.fromEntries(DATA_ASSETS.map((id) => [id, run.assets[id]!.materializations[0]!.metadata.contentHash!]));
}

beforeAll(async () => {
  // Two builds back to back (the workspace packages they copy could change in between otherwise).
  await buildTarget(adapter, { projectRoot: EXAMPLE, definitionsFile: "src/definitions.ts", outDir: outA });
  await buildTarget(adapter, { projectRoot: EXAMPLE, definitionsFile: "src/definitions.ts", outDir: outB });
  relocated = relocate(outA);
  venv = await relocated.venv(join(relocated.dir, "requirements.txt"));
  const port = await freePort();
  api = `http://127.0.0.1:${port}/api`;
  const serverLog = join(tmp, "server.log");
  const log = openSync(serverLog, "a");
  // relocated.cleanup() stops what it spawned.
  relocated.spawn(venv.bin("prefect"), ["server", "start", "--host", "127.0.0.1", "--port", String(port), "--no-ui"], {
    env: {
      ...prefectEnv(),
      PREFECT_API_URL: "",
      PREFECT_SERVER_DATABASE_CONNECTION_URL: `sqlite+aiosqlite:///${join(relocated.home, "prefect.db")}`,
      PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL: "0.2",
      PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: "0.2",
    },
    stdio: ["ignore", log, log],
  });
  await waitFor(async () => (await fetch(`${api}/health`).then((r) => r.ok).catch(() => false)) === true, {
    what: `the relocated Prefect server to answer ${api}/health (log: ${serverLog})`,
    timeoutMs: 300_000,
  }).catch((e: Error) => {
    throw new Error(`${e.message}\n${tail(serverLog)}`);
  });
}, 1_200_000);

afterAll(() => {
  relocated?.cleanup();
  rmSync(tmp, { recursive: true, force: true });
}, 120_000);

describe("prefect: a relocated build runs with only what it declares", { timeout: 900_000 }, () => {
  it("is portable and deterministic: no absolute path or '..', and a second build is byte-identical", () => {
    expect(portabilityProblems(outA)).toEqual([]);
    expect(compareFolders(outA, outB)).toEqual([]);
    expect(readFileSync(join(outA, "requirements.txt"), "utf8")).toContain("prefect==3.9.1");
  });

  it("prefect deploy from the copy, a process worker runs the deployment, and Prefect records every task and asset event with the in-place content hashes", async () => {
    const expected = await inPlaceHashes();
    await prefect(["work-pool", "create", "baton", "--type", "process"], "creating the work pool");
    await prefect(["--no-prompt", "deploy", "--all"], "deploying prefect.yaml");

    const deployment = await call("GET", `/deployments/name/${FLOW}/materialize`);
    // The pull step is the folder prefect deploy ran in (the worker sets no BATON_PROJECT_DIR): the copy, not the build folder.
    expect(deployment.pull_steps).toEqual(expectedPullSteps(relocated.dir));
    const deployed = (await call("POST", "/deployments/filter", { work_pools: { name: { any_: ["baton"] } } })) as unknown as Json[];
    // The example has checks: the checks flow's deployment "checks" too.
    expect(deployed.map((d) => d.name).sort()).toEqual(["checks", "materialize", "nightly_revenue", "orders_landed", "orders_landed-runs"]);

    const workerLog = join(tmp, "worker.log");
    const log = openSync(workerLog, "a");
    const warehouse = join(relocated.home, "warehouse");
    relocated.spawn(venv.bin("prefect"), ["worker", "start", "--pool", "baton", "--type", "process"], {
      // The worker's environment is the deployment's: its storage, and the example resource's folder.
      env: { ...prefectEnv(), BATON_STORAGE: join(relocated.home, "storage"), WAREHOUSE_URL: warehouse, PREFECT_WORKER_QUERY_SECONDS: "1", PREFECT_WORKER_PREFETCH_SECONDS: "5" },
      stdio: ["ignore", log, log],
    });

    const created = await call("POST", `/deployments/${deployment.id}/create_flow_run`, { parameters: { partition_key: PARTITION } });
    const flowRun = await waitFor(
      async () => {
        const run = await call("GET", `/flow_runs/${created.id}`);
        return ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"].includes(run.state?.type) ? run : undefined;
      },
      { what: `flow run ${created.id} of ${FLOW}/materialize to finish (worker log: ${workerLog})`, timeoutMs: 600_000 },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${tail(workerLog)}`);
    });
    expect(flowRun.state.type, `${flowRun.state.message}\n${tail(workerLog)}`).toBe("COMPLETED");

    const taskRuns = await waitFor(
      async () => {
        const runs = (await call("POST", "/task_runs/filter", { flow_runs: { id: { any_: [created.id] } } })) as unknown as Json[];
        return runs.length === TASKS.length && runs.every((r) => r.state?.type === "COMPLETED") ? runs : undefined;
      },
      { what: `the ${TASKS.length} task runs of flow run ${created.id} to be recorded COMPLETED` },
    );
    expect(taskRuns.map((r) => r.name.split(" [")[0]).sort()).toEqual([...TASKS].sort());
    expect(taskRuns.find((r) => r.name.startsWith("daily_revenue"))!.name).toBe(`daily_revenue [${PARTITION}]`);

    const events = await waitFor(
      async () => {
        const page = await call("POST", "/events/filter", { filter: { related: { id: [`prefect.flow-run.${created.id}`] }, event: { prefix: ["prefect.asset.materialization."] }, occurred: { since: "2000-01-01T00:00:00Z" } }, limit: 50 });
        return (page.events as Json[]).length >= ASSETS.length ? (page.events as Json[]) : undefined;
      },
      { what: `the asset events of flow run ${created.id}` },
    );
    expect(events.every((e) => e.event === "prefect.asset.materialization.succeeded")).toBe(true);
    const byAsset = Object.fromEntries(events.map((e) => [String(e.resource["prefect.resource.name"]), e.payload as Json]));
    expect(Object.keys(byAsset).sort()).toEqual([...ASSETS].sort());
    const hashes = Object.fromEntries(DATA_ASSETS.map((id) => [id, byAsset[id]!.content_hash]));
    expect(hashes).toEqual(expected);
    expect(byAsset.daily_revenue!.partition_key).toBe(PARTITION);
    // The worker ran the relocated folder's runtime: its storage, not the checkout's.
    expect(resolve(String(byAsset.orders!.path)).startsWith(join(relocated.home, "storage"))).toBe(true);
  });
});

