import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTarget } from "@baton/core/build";
import { processAlive, waitFor } from "@baton/testing";
import { prefectApi, type Json } from "./__tests__/prefect/api.js";
import { Driver } from "./__tests__/prefect/driver.js";
import type { DriverRun } from "./__tests__/prefect/harness.js";
import { prefectServerPerFile } from "./__tests__/prefect/server-per-file.js";
import { adapter } from "./cli.js";

/*
 * What a Prefect user relies on, read from a real Prefect 3.9.1 server's records (task runs and
 * their states, concurrency limits, asset events, logs, artifacts): the example's default run, one
 * task run per partition, tag concurrency limits for pools, timeouts and task caching.
 */
const perFile = prefectServerPerFile("baton-prefect-native-");
const PACKAGE = fileURLToPath(new URL("../", import.meta.url));
const EXAMPLE = fileURLToPath(new URL("../../../examples/customer-metrics/", import.meta.url));
const DEFINITIONS = "src/__tests__/prefect/native-definitions.ts";
const tmp = mkdtempSync(join(tmpdir(), "baton-prefect-native-"));
const control = join(tmp, "control");
const api = () => prefectApi(perFile.server().apiUrl);

interface TaskRun {
  readonly id: string;
  readonly name: string;
  readonly tags: string[];
  readonly task_version: string | null;
  readonly start_time: string | null;
  readonly end_time: string | null;
  readonly state: { type: string; name: string; message: string | null };
}

/** The flow run's task runs as Prefect's API has them. */
const taskRuns = async (flowRunId: string): Promise<TaskRun[]> => api()<TaskRun[]>("POST", "/task_runs/filter", { flow_runs: { id: { any_: [flowRunId] } } });
const interval = (t: TaskRun) => [Date.parse(t.start_time!), Date.parse(t.end_time!)] as const;
const overlap = (a: TaskRun, b: TaskRun) => interval(a)[0] < interval(b)[1] && interval(b)[0] < interval(a)[1];

function startDriver(outDir: string, name: string, env: Record<string, string> = {}): Driver {
  return new Driver(perFile.python(), {
    cwd: outDir,
    env: { ...process.env, ...perFile.server().env, BATON_NODE: process.execPath, PYTHONPATH: outDir, ...env },
    logFile: join(tmp, `${name}-driver.log`),
  });
}

describe("prefect: native mappings", { timeout: 600_000 }, () => {
  const outDir = join(tmp, "native");
  const storage = join(tmp, "storage");
  let driver: Driver;

  beforeAll(async () => {
    await buildTarget(adapter, { projectRoot: PACKAGE, definitionsFile: DEFINITIONS, outDir, rawOptions: { flowName: "native", cache: true }, storage });
    driver = startDriver(outDir, "native", { NATIVE_CONTROL_DIR: control });
    // Applies every deployment of flows.py, which creates the pools' tag concurrency limits.
    await driver.request("setup", {});
  }, 600_000);
  afterAll(async () => driver?.close(), 120_000);

  const run = (assets: string[], extra: Record<string, unknown> = {}) => driver.request<DriverRun>("materialize", { assets, ...extra });

  it("a backfill maps one task run per partition: they run at once, each records its own partition", async () => {
    const result = await run(["days"], { rangeStart: "2024-01-01", rangeEnd: "2024-01-04" });
    expect(result.status).toBe("success");
    const runs = (await taskRuns(result.flowRunId)).sort((a, b) => a.name.localeCompare(b.name));
    expect(runs.map((t) => [t.name, t.state.type])).toEqual(["01", "02", "03", "04"].map((d) => [`days [2024-01-${d}]`, "COMPLETED"]));
    expect(runs.some((a) => runs.some((b) => a !== b && overlap(a, b))), "no two partitions' task runs overlapped").toBe(true);
    const { events } = await driver.request<{ events: Json[] }>("events", { flowRunId: result.flowRunId, expected: 4 });
    const materialized = events.filter((e) => e.event === "prefect.asset.materialization.succeeded");
    expect(materialized.map((e) => [e.payload.partition_key, e.payload.row_count]).sort()).toEqual([["2024-01-01", 1], ["2024-01-02", 2], ["2024-01-03", 3], ["2024-01-04", 4]]);
    // The code reference, where Prefect records it: the event payload and the asset's description.
    const line = readFileSync(join(PACKAGE, DEFINITIONS), "utf8").split("\n").findIndex((l) => l.startsWith("const days = asset(")) + 1;
    expect(materialized[0]!.payload.source).toBe(`${DEFINITIONS}:${line}`);
    expect(materialized[0]!.resource["prefect.asset.description"]).toContain(`Defined in \`${DEFINITIONS}:${line}\``);
    expect(materialized[0]!.payload.group).toBe("partitions");
  });

  it("a failed partition holds back only the downstream partition that reads it", async () => {
    const result = await run(["fragile", "after_fragile"], { rangeStart: "2024-01-01", rangeEnd: "2024-01-03" });
    expect(result.status).toBe("failure");
    const runs = await taskRuns(result.flowRunId);
    const states = Object.fromEntries(runs.filter((t) => t.name.includes(" [")).map((t) => [t.name, t.state.name]));
    expect(states).toEqual({
      "fragile [2024-01-01]": "Completed",
      "fragile [2024-01-02]": "Failed",
      "fragile [2024-01-03]": "Completed",
      "after_fragile [2024-01-01]": "Completed",
      "after_fragile [2024-01-03]": "Completed",
    });
    // A run that never starts keeps Prefect's default name (<task>-<dynamic key>): the custom name is
    // applied when a run begins (prefect/task_engine.py _set_custom_task_run_name).
    const held = runs.filter((t) => !t.name.includes(" ["));
    expect(held.map((t) => [t.name.startsWith("after_fragile"), t.state.name])).toEqual([[true, "NotReady"]]);
  });

  it("a pool is a tag concurrency limit: its two task runs never overlap, the same assets without a pool do", async () => {
    const limits = await api()<Json[]>("POST", "/concurrency_limits/filter", {});
    expect(limits.map((l) => [l.tag, l.concurrency_limit])).toContainEqual(["baton-pool:solo", 1]);
    const result = await run(["pooled/a", "pooled/b", "free/a", "free/b"]);
    expect(result.status).toBe("success");
    const byName = Object.fromEntries((await taskRuns(result.flowRunId)).map((t) => [t.name, t]));
    expect(byName["pooled/a"]!.tags).toContain("baton-pool:solo");
    expect(byName["free/a"]!.tags).not.toContain("baton-pool:solo");
    expect(overlap(byName["pooled/a"]!, byName["pooled/b"]!), "the limit-1 pool's task runs overlapped").toBe(false);
    expect(overlap(byName["free/a"]!, byName["free/b"]!), "the task runs without a pool did not overlap").toBe(true);
  });

  it("prefect deploy (prefect.yaml) creates the pool's tag concurrency limit", async () => {
    await fetch(`${perFile.server().apiUrl}/concurrency_limits/tag/${encodeURIComponent("baton-pool:solo")}`, { method: "DELETE" });
    const prefect = join(dirname(perFile.python()), "prefect");
    const env = { ...process.env, ...perFile.server().env };
    execFileSync(prefect, ["work-pool", "create", "baton", "--type", "process", "--overwrite"], { cwd: outDir, env, stdio: "pipe" });
    execFileSync(prefect, ["--no-prompt", "deploy", "--all"], { cwd: outDir, env, stdio: "pipe" });
    const limit = await api()<Json>("GET", `/concurrency_limits/tag/${encodeURIComponent("baton-pool:solo")}`);
    expect(limit.concurrency_limit).toBe(1);
  });

  it("a compute that blocks Node past timeoutSeconds ends its task run TimedOut, and its Node process is gone", async () => {
    const result = await run(["hangs"]);
    expect(result.status).toBe("failure");
    expect(result.assets.hangs?.state).toBe("TimedOut");
    expect(result.assets.hangs?.error).toContain("timed out");
    expect(result.materializations).toEqual([]);
    const pid = Number(readFileSync(join(control, "hangs.started"), "utf8").trim());
    await waitFor(() => !processAlive(pid), { what: `the timed-out step's Node process ${pid} to be gone` });
  });

  it("with the cache option a task is Cached (no Node step) until its input's data version changes", async () => {
    const ran = () => readdirSync(control).filter((f) => f.startsWith("derived.")).length;
    const first = await run(["source", "derived"]);
    expect(first.assets.derived?.state).toBe("Completed");
    expect(ran()).toBe(1);
    const [derivedRun] = (await taskRuns(first.flowRunId)).filter((t) => t.name === "derived");
    expect(derivedRun!.task_version).toBe("1");

    const second = await run(["source", "derived"]);
    expect(second.assets.source?.state).toBe("Completed");
    expect(second.assets.derived?.state).toBe("Cached");
    expect(ran(), "a Cached task launched its Node step").toBe(1);
    // What Prefect persisted is the output's references (JSON), not its rows.
    const stored = join(perFile.server().env.PREFECT_HOME!, "storage");
    const files = readdirSync(stored).filter((f) => f.startsWith("baton-"));
    expect(files.length).toBeGreaterThan(0);
    const persisted = readFileSync(join(stored, files[0]!), "utf8");
    expect(persisted).toContain("content_hash");
    expect(persisted.length).toBeLessThan(10_000);

    writeFileSync(join(control, "source-count"), "5");
    const third = await run(["source", "derived"]);
    expect(third.assets.derived?.state).toBe("Completed");
    expect(ran(), "a new input data version did not run the step").toBe(2);
  });
});

describe("prefect: the example's default run", { timeout: 600_000 }, () => {
  const outDir = join(tmp, "example");
  let driver: Driver;

  beforeAll(async () => {
    await buildTarget(adapter, { projectRoot: EXAMPLE, definitionsFile: "src/definitions.ts", outDir, storage: join(tmp, "example-storage") });
    mkdirSync(join(tmp, "warehouse"), { recursive: true });
    driver = startDriver(outDir, "example", { WAREHOUSE_URL: join(tmp, "warehouse") });
    await driver.request("setup", {});
  }, 600_000);
  afterAll(async () => driver?.close(), 120_000);

  it("a Quick run of the materialize deployment (no parameters) runs the unpartitioned assets and says why daily_revenue is skipped", async () => {
    const result = await driver.request<DriverRun>("run_deployment", { deployment: "materialize", expected: 5, logFile: join(tmp, "example-run.log") });
    expect(result.state).toBe("Completed");
    const runs = await taskRuns(result.flowRunId);
    expect(runs.map((t) => [t.name, t.state.type]).sort()).toEqual([["check orders:orders_have_customers", "COMPLETED"], ["customer_metrics", "COMPLETED"], ["customers", "COMPLETED"], ["orders", "COMPLETED"], ["published_metrics", "COMPLETED"]]);
    expect(result.recordsText).toContain("Skipped daily_revenue: partitioned by");
    const artifacts = await api()<Json[]>("POST", "/artifacts/filter", { artifacts: { flow_run_id: { any_: [result.flowRunId] } } });
    const skipped = artifacts.find((a) => a.key === "baton-skipped-assets");
    expect(JSON.stringify(skipped?.data)).toContain("daily_revenue");
    expect(existsSync(join(tmp, "warehouse", "customer_metrics.csv"))).toBe(true);
  });
});

// Generous: removing the builds and stores takes more than vitest's 10 s hook default on a loaded machine.
afterAll(() => rmSync(tmp, { recursive: true, force: true }), 120_000);
