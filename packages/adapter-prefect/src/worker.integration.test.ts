import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalIOStore } from "@baton/core";
import { buildTarget } from "@baton/core/build";
import { waitFor, stopWorkers, workerPids } from "@baton/testing";
import { prefectApi, type Json } from "./__tests__/prefect/api.js";
import { Driver } from "./__tests__/prefect/driver.js";
import type { DriverRun } from "./__tests__/prefect/harness.js";
import { prefectServerPerFile } from "./__tests__/prefect/server-per-file.js";
import { adapter } from "./cli.js";

/*
 * The warm step worker under a real Prefect 3.9.1 server (one for this file), read from Prefect's
 * records: a worker killed mid-task fails only that attempt (the retry runs on a fresh worker), two
 * flow runs at once share the build's worker pool, and a rebuilt project gets a new worker.
 */
const perFile = prefectServerPerFile("baton-prefect-worker-");
const PACKAGE = fileURLToPath(new URL("../", import.meta.url));
const DEFINITIONS = "src/__tests__/prefect/worker-definitions.ts";
// Short: the worker's Unix sockets live under it (a socket path has at most 107 bytes).
const tmp = mkdtempSync(join(tmpdir(), "bpw-"));
const control = join(tmp, "control");
const storage = join(tmp, "storage");
const workers = join(tmp, "w");
const outDir = join(tmp, "project");
const api = () => prefectApi(perFile.server().apiUrl);

const build = (exportName: string) => buildTarget(adapter, { projectRoot: PACKAGE, definitionsFile: DEFINITIONS, exportName, outDir, rawOptions: { flowName: "worker" }, storage });

/** The pid a compute wrote to `<name>.pid`, once it has. */
async function pidOf(name: string): Promise<number> {
  const file = join(control, `${name}.pid`);
  await waitFor(() => existsSync(file) && readFileSync(file, "utf8").endsWith("\n"), { what: `${name} to start (${file})` });
  return Number(readFileSync(file, "utf8").trim());
}

const release = (name: string) => writeFileSync(join(control, `${name}.release`), "");

/** The task runs of a flow run, by name, as Prefect's API has them. */
async function taskRunsByName(flowRunId: string): Promise<Record<string, Json>> {
  const runs = await api()<Json[]>("POST", "/task_runs/filter", { flow_runs: { id: { any_: [flowRunId] } } });
  return Object.fromEntries(runs.map((t) => [t.name, t]));
}

/** A task run's log messages, once one contains `text` (logs reach the API in batches). */
async function taskRunLogs(taskRunId: string, text: string): Promise<string[]> {
  return waitFor(
    async () => {
      const logs = await api()<Json[]>("POST", "/logs/filter", { logs: { task_run_id: { any_: [taskRunId] } }, sort: "TIMESTAMP_ASC" });
      const messages = logs.map((l) => String(l.message));
      return messages.some((m) => m.includes(text)) && messages;
    },
    { what: `a log line of task run ${taskRunId} containing "${text}"` },
  );
}

const materialized = async (flowRunId: string, asset: string): Promise<Json[]> => {
  const { events } = await driver.request<{ events: Json[] }>("events", { flowRunId, expected: 1 });
  return events.filter((e) => e.event === "prefect.asset.materialization.succeeded" && e.resource["prefect.resource.name"] === asset);
};

let driver: Driver;

describe("prefect: the warm step worker", { timeout: 600_000 }, () => {
  beforeAll(async () => {
    await build("default");
    driver = new Driver(perFile.python(), {
      cwd: outDir,
      env: { ...process.env, ...perFile.server().env, BATON_NODE: process.execPath, PYTHONPATH: outDir, WORKER_CONTROL_DIR: control, BATON_WORKER_DIR: workers },
      logFile: join(tmp, "driver.log"),
    });
    await driver.request("setup", {});
  }, 600_000);
  afterAll(async () => {
    await driver?.close();
    await stopWorkers(workers);
  }, 120_000);

  it("a worker killed mid-task (SIGKILL) fails that attempt with the worker-died message and commits nothing; the retry succeeds on a fresh worker", async () => {
    const running = driver.request<DriverRun>("materialize", { assets: ["held"] });
    const killed = await pidOf("held.0");
    expect(workerPids(workers), `held's first attempt did not run in a worker of ${workers}`).toContain(killed);
    process.kill(killed, "SIGKILL");
    const retry = await pidOf("held.1");
    expect(retry, "the retry ran in the worker that was killed").not.toBe(killed);
    expect(workerPids(workers)).toContain(retry);
    // While the retry is held: nothing of the killed attempt is in the store.
    expect(await new LocalIOStore(storage).readRecord(["held"], undefined), "the killed attempt committed an output").toBeUndefined();
    release("held.1");
    const run = await running;
    expect(run.status).toBe("success");
    expect(run.assets.held).toMatchObject({ state: "Completed", attempts: 2 });
    const task = (await taskRunsByName(run.flowRunId)).held!;
    // Prefect's own record of the failed attempt: its engine logs the exception and the retry, and
    // the task run passes through Retrying (prefect/task_engine.py handle_retry).
    const logs = await taskRunLogs(task.id, "Retry 1/1");
    expect(logs.some((m) => m.includes(`worker pid ${killed} died mid-step`)), `no worker-died line in the task run's logs:\n${logs.join("\n")}`).toBe(true);
    // The attempt's error is the worker's death, not "a promise that never settles".
    expect(logs.find((m) => m.includes("Retry 1/1"))).toContain(`BatonStepError('baton worker pid ${killed} died mid-step`);
    // The log names the worker each attempt ran in: the killed one, then the fresh one started for the retry.
    const named = logs.filter((m) => /^baton worker pid \d+ \((warm|started)\)$/.test(m));
    expect(named).toEqual([expect.stringMatching(new RegExp(`^baton worker pid ${killed} `)), `baton worker pid ${retry} (started)`]);
    const states = await api()<Json[]>("GET", `/task_run_states/?task_run_id=${task.id}`);
    expect(states.map((s) => s.name)).toEqual(expect.arrayContaining(["Running", "Retrying", "Completed"]));
    // One materialization, the retry's: the killed attempt emitted none.
    const events = await materialized(run.flowRunId, "held");
    expect(events).toHaveLength(1);
    const record = await new LocalIOStore(storage).readRecord(["held"], undefined);
    expect(events[0]!.payload.content_hash).toBe(record!.contentHash);
  });

  it("two flow runs at once (the same build, one worker key) each run in a worker of the pool, and both succeed", async () => {
    // One a deployment run under `prefect flow-run execute`, one the flow called in the driver.
    const deployed = await driver.request<{ flowRunId: string }>("start_run", { assets: ["pair/a"], logFile: join(tmp, "pair-a.log") });
    const direct = driver.request<DriverRun>("materialize", { assets: ["pair/b"] });
    const [a, b] = await Promise.all([pidOf("pair-a"), pidOf("pair-b")]);
    // Both steps are running now, each in its own slot of the key's pool.
    expect(a).not.toBe(b);
    expect(workerPids(workers)).toEqual(expect.arrayContaining([a, b]));
    release("pair-a");
    release("pair-b");
    const runs = { "pair/b": await direct, "pair/a": await driver.request<DriverRun>("finish_run", { assets: ["pair/a"], flowRunId: deployed.flowRunId }) };
    for (const [asset, run] of Object.entries(runs)) {
      expect(run.state, `the flow run of ${asset}: ${run.message}`).toBe("Completed");
      expect(await materialized(run.flowRunId, asset)).toHaveLength(1);
    }
  });

  it("a rebuilt project (a changed manifest) under a running worker: the next flow run starts a new worker, which the one after reuses", async () => {
    // After the rebuild, as a deployment's runs do: a new process (`prefect flow-run execute`) imports the new flows.py.
    const runWho = async (version: string, name: string): Promise<{ pid: number; run: DriverRun }> => {
      rmSync(join(control, `who-${version}.pid`), { force: true });
      const started = await driver.request<{ flowRunId: string }>("start_run", { assets: ["who"], logFile: join(tmp, `${name}.log`) });
      const run = await driver.request<DriverRun>("finish_run", { assets: ["who"], flowRunId: started.flowRunId });
      expect(run.state, `${name}: ${run.message}`).toBe("Completed");
      return { pid: await pidOf(`who-${version}`), run };
    };
    // Before it, the driver's own flows.py (the first build).
    const first = await driver.request<DriverRun>("materialize", { assets: ["who"] });
    expect(first.state).toBe("Completed");
    const before = { pid: await pidOf("who-1") };
    expect(workerPids(workers)).toContain(before.pid);
    await build("rebuilt");
    const after = await runWho("2", "who-after");
    expect(after.pid, "the rebuilt project's step ran in the old build's worker").not.toBe(before.pid);
    expect(workerPids(workers)).toContain(after.pid);
    const again = await runWho("2", "who-again");
    expect(again.pid, "the next step of the same build did not reuse its warm worker").toBe(after.pid);
    // The task log names the worker: started for the new build, warm for the run after.
    const taskOf = async (r: DriverRun) => (await taskRunsByName(r.flowRunId)).who!.id as string;
    expect((await taskRunLogs(await taskOf(after.run), `worker pid ${after.pid}`)).join("\n")).toContain(`baton worker pid ${after.pid} (started)`);
    expect((await taskRunLogs(await taskOf(again.run), `worker pid ${after.pid}`)).join("\n")).toContain(`baton worker pid ${after.pid} (warm)`);
  });
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));
