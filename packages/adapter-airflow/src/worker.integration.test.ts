import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "@baton/core";
import { buildTarget } from "@baton/core/build";
import { processAlive, stopWorkers } from "@baton/testing";
import { adapter } from "./adapter.js";
import { airflowPython, packageDir } from "./testing/airflow.js";
import { AirflowCluster } from "./testing/celery.js";

// Issue 13's fault tests on Airflow: the warm step worker under a real scheduler with the LocalExecutor,
// where each task is a task process under Airflow's supervisor (airflow/sdk/execution_time/supervisor.py)
// that ends after its task while the worker it started stays up for the next. One Airflow for the file.
// Everything asserted is Airflow's own record (REST: DAG runs, task instances and their tries, task logs,
// asset events) or the store; which process ran a step comes from the computes (pids.log, see
// src/__tests__/worker-fault-definitions.ts).
const PROJECT = fileURLToPath(new URL("./__tests__/worker-fault-definitions.ts", import.meta.url));
const DAG = "baton_assets";
const RUN_MS = 600_000;

interface DagRun {
  readonly dag_run_id: string;
  readonly state: string;
}
interface TaskTry {
  readonly try_number: number;
  readonly state: string | null;
}
interface AssetEvent {
  readonly uri: string;
  readonly source_task_id: string | null;
}

let root: string;
let storage: string;
let control: string;
let central: string;
let cluster: AirflowCluster | undefined;
/** BATON_WORKER_DIR of every Airflow process: short (a socket path has at most 107 bytes) and this test's own. */
let workerDir: string | undefined;

/** Process environment without Airflow, Baton or test-runner variables, plus what the steps need. */
function baseEnv(workerDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(AIRFLOW|BATON_|AWS_|FIXTURE_|FAULT_|VITEST)/.test(k) || k === "NODE_OPTIONS" || k === "DEV") continue;
    env[k] = v;
  }
  // The worker's sockets in a folder of this test (short: a socket path has at most 107 bytes); idle
  // workers stop on their own soon after the test.
  return { ...env, FAULT_CONTROL_DIR: control, BATON_WORKER_DIR: workerDir, BATON_WORKER_IDLE_SECONDS: "120" };
}

/** `baton airflow build` of the fault project; FAULT_BUILD changes an asset's description (a new manifest). */
async function build(outDir: string, version?: string): Promise<void> {
  const saved = process.env.FAULT_BUILD;
  if (version === undefined) delete process.env.FAULT_BUILD;
  else process.env.FAULT_BUILD = version;
  try {
    await buildTarget(adapter, { projectRoot: packageDir, definitionsFile: PROJECT, outDir, storage });
  } finally {
    if (saved === undefined) delete process.env.FAULT_BUILD;
    else process.env.FAULT_BUILD = saved;
  }
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "baton-airflow-worker-"));
  storage = join(root, "storage");
  control = join(root, "control");
  mkdirSync(control, { recursive: true });
  const first = join(root, "build-1");
  await build(first);
  central = join(root, "central", "dags");
  cpSync(first, central, { recursive: true });
  cluster = new AirflowCluster({
    python: airflowPython(),
    root,
    executor: "LocalExecutor",
    dagsFolder: central,
    workers: [],
    baseEnv: baseEnv((workerDir = mkdtempSync(join(tmpdir(), "bw-")))),
  });
  await cluster.start();
  await cluster.until(
    async () => (await cluster!.api<{ dag_id: string }>("GET", `/dags/${DAG}`)).dag_id === DAG,
    { what: `the DAG processor to serialize DAG ${DAG}`, timeoutMs: 300_000, intervalMs: 1000 },
  );
  await cluster.api("PATCH", `/dags/${DAG}?update_mask=is_paused`, { is_paused: false });
}, 900_000);

afterAll(async () => {
  await cluster?.stop();
  // The workers the steps started (each in a session of its own, so stopping Airflow left them running).
  if (workerDir) {
    await stopWorkers(workerDir);
    rmSync(workerDir, { recursive: true, force: true });
  }
  if (root) rmSync(root, { recursive: true, force: true });
}, 120_000);

/** What the computes noted, in order: one line per step attempt. */
function steps(): { asset: string; runId: string; retry: number; pid: number }[] {
  return readFileSync(join(control, "pids.log"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [asset, runId, retry, pid] = line.split(" ");
      return { asset: asset!, runId: runId!, retry: Number(retry), pid: Number(pid) };
    });
}

function stepsOf(runId: string): ReturnType<typeof steps> {
  return existsSync(join(control, "pids.log")) ? steps().filter((s) => s.runId === runId) : [];
}

async function trigger(assets: string[]): Promise<string> {
  return (await cluster!.api<DagRun>("POST", `/dags/${DAG}/dagRuns`, { logical_date: null, conf: { assets } })).dag_run_id;
}

async function finished(runId: string): Promise<DagRun> {
  return cluster!.until(
    async () => {
      const run = await cluster!.api<DagRun>("GET", `/dags/${DAG}/dagRuns/${encodeURIComponent(runId)}`);
      return run.state === "success" || run.state === "failed" ? run : undefined;
    },
    { what: `DAG run ${runId} to finish`, timeoutMs: RUN_MS, intervalMs: 1000 },
  );
}

const taskPath = (runId: string, task: string) => `/dags/${DAG}/dagRuns/${encodeURIComponent(runId)}/taskInstances/${task}`;

async function taskState(runId: string, task: string): Promise<string | null> {
  return (await cluster!.api<{ state: string | null }>("GET", taskPath(runId, task))).state;
}

/** One try's task log as the UI shows it (Airflow's log endpoint), one line per record. */
async function taskLog(runId: string, task: string, tryNumber: number): Promise<string> {
  const log = await cluster!.api<{ content: ({ event?: string } | string)[] }>("GET", `${taskPath(runId, task)}/logs/${tryNumber}?full_content=true`);
  return log.content.map((r) => (typeof r === "string" ? r : (r.event ?? JSON.stringify(r)))).join("\n");
}

/** The pid the operator logged for the step's worker, and whether it was warm ("baton worker pid N (warm)"). */
function workerLine(log: string): { pid: number; how: string } | undefined {
  const m = /baton worker pid (\d+) \((warm|started)\)/.exec(log);
  return m ? { pid: Number(m[1]), how: m[2]! } : undefined;
}

async function assetEvents(runId: string): Promise<AssetEvent[]> {
  return (await cluster!.api<{ asset_events: AssetEvent[] }>("GET", `/assets/events?source_run_id=${encodeURIComponent(runId)}`)).asset_events;
}

describe("the warm step worker under Airflow's scheduler (LocalExecutor)", () => {
  it("a worker SIGKILLed mid-step fails the try (up_for_retry, the worker's death in the task log, nothing committed); the retry succeeds on a fresh worker", async () => {
    const runId = await trigger(["fragile"]);
    try {
      const first = await cluster!.until(() => stepsOf(runId).find((s) => s.retry === 0), { what: "fragile's first attempt to start its compute", timeoutMs: RUN_MS, intervalMs: 250 });
      // Nothing is committed while the compute runs; the task is running in Airflow.
      expect(await openStore(storage, {}).readRecord(["fragile"], undefined)).toBeUndefined();
      expect(await taskState(runId, "fragile")).toBe("running");
      process.kill(first.pid, "SIGKILL");
      // The try fails as retryable: Airflow puts the task up for retry (retries 1).
      const states = new Set<string>();
      await cluster!.until(
        async () => {
          const state = await taskState(runId, "fragile");
          if (state) states.add(state);
          return state === "up_for_retry" || stepsOf(runId).some((s) => s.retry === 1);
        },
        { what: "fragile to be up for retry after its worker was killed", timeoutMs: RUN_MS, intervalMs: 250 },
      );
      const run = await finished(runId);
      expect(run.state, cluster!.logs()).toBe("success");
      expect([...states]).toContain("up_for_retry");

      const tries = (await cluster!.api<{ task_instances: TaskTry[] }>("GET", `${taskPath(runId, "fragile")}/tries`)).task_instances;
      expect(tries.map((t) => [t.try_number, t.state])).toEqual([
        [1, "failed"],
        [2, "success"],
      ]);
      const log1 = await taskLog(runId, "fragile", 1);
      expect(workerLine(log1)?.pid, log1).toBe(first.pid);
      // The client's message: the worker (its pid) died mid-step.
      expect(log1).toMatch(new RegExp(`${first.pid}[^\\n]*died|died[^\\n]*${first.pid}`));

      // The retry ran on a fresh worker, started for it, and committed the only record.
      const retry = stepsOf(runId).find((s) => s.retry === 1)!;
      expect(retry.pid).not.toBe(first.pid);
      const log2 = await taskLog(runId, "fragile", 2);
      expect(workerLine(log2), log2).toEqual({ pid: retry.pid, how: "started" });
      const events = await assetEvents(runId);
      expect(events.map((e) => [e.uri, e.source_task_id])).toEqual([["x-baton://fragile", "fragile"]]);
      const { frame } = await openStore(storage, {}).read(["fragile"], undefined);
      expect(frame.getColumn("attempt").toArray()).toEqual([1]);
    } finally {
      writeFileSync(join(control, "fragile.release"), "");
    }
  }, 1_200_000);

  it("two DAG runs at once share the build's worker key: each step holds a worker of its own, both succeed, and a later step is warm", async () => {
    const runs = [await trigger(["meet"]), await trigger(["meet"])];
    const done = await Promise.all(runs.map((r) => finished(r)));
    expect(done.map((r) => r.state), cluster!.logs()).toEqual(["success", "success"]);
    const pids = runs.map((r) => stepsOf(r)[0]!.pid);
    // They met inside their computes, so they ran at the same time: two workers (slots) of one key.
    expect(new Set(pids).size).toBe(2);
    for (const [i, r] of runs.entries()) {
      expect(workerLine(await taskLog(r, "meet", 1))?.pid).toBe(pids[i]);
      expect((await assetEvents(r)).map((e) => e.uri)).toEqual(["x-baton://meet"]);
    }
    // Both workers outlived their task processes, and the next step runs on one of them.
    expect(pids.map((p) => processAlive(p))).toEqual([true, true]);
    const next = await trigger(["versioned"]);
    expect((await finished(next)).state, cluster!.logs()).toBe("success");
    const line = workerLine(await taskLog(next, "versioned", 1));
    expect(line?.how).toBe("warm");
    expect(pids).toContain(line?.pid);
    expect(stepsOf(next)[0]!.pid).toBe(line?.pid);
    // The supervisor finished each task when its task process ended: no worker held the task's sockets.
    const scheduler = cluster!.services.find((x) => x.name === "scheduler")!.log();
    expect(scheduler).not.toContain("Process exited with open sockets");
    expect(scheduler).not.toContain("Task success overtime reached");
  }, 1_200_000);

  it("a task marked failed while its step runs: Airflow stops the task process, the step on the worker is cancelled, nothing is committed", async () => {
    const runId = await trigger(["held"]);
    try {
      const step = await cluster!.until(() => stepsOf(runId)[0], { what: "held to start its compute", timeoutMs: RUN_MS, intervalMs: 250 });
      // As a user does in the UI: the supervisor's next heartbeat is refused and it SIGTERMs the task's process group.
      await cluster!.api("PATCH", `${taskPath(runId, "held")}?update_mask=new_state`, { new_state: "failed" });
      // The worker is in a session of its own, so only the cancel frame reached it: the step stopped, and the
      // worker (whose user code may still run) exited after it.
      await cluster!.until(() => !processAlive(step.pid), { what: `the worker of the cancelled step (pid ${step.pid}) to exit`, timeoutMs: RUN_MS, intervalMs: 250 });
      const run = await finished(runId);
      expect(run.state).toBe("failed");
      expect(await taskState(runId, "held")).toBe("failed");
      const log = await taskLog(runId, "held", 1);
      expect(workerLine(log)?.pid, log).toBe(step.pid);
      expect(log).toContain("shouldn't be running anymore");
      expect(await assetEvents(runId)).toEqual([]);
      expect(await openStore(storage, {}).readRecord(["held"], undefined)).toBeUndefined();
    } finally {
      writeFileSync(join(control, "held.release"), "");
    }
  }, 1_200_000);

  it("a rebuilt DAGs folder (a new manifest) under a running worker: the next step starts a new worker, the old one idles on", async () => {
    const before = await trigger(["versioned"]);
    expect((await finished(before)).state, cluster!.logs()).toBe("success");
    const old = stepsOf(before)[0]!.pid;
    expect(processAlive(old)).toBe(true);
    const seen = new Set(steps().map((s) => s.pid));

    // Deployed as a whole over the old folder, as the README says to deploy a build.
    const second = join(root, "build-2");
    await build(second, "second");
    expect(readFileSync(join(second, "baton", "manifest.json"), "utf8")).not.toBe(readFileSync(join(central, "baton", "manifest.json"), "utf8"));
    cpSync(second, central, { recursive: true, force: true });

    const after = await trigger(["versioned"]);
    expect((await finished(after)).state, cluster!.logs()).toBe("success");
    const line = workerLine(await taskLog(after, "versioned", 1));
    expect(line?.how).toBe("started");
    expect(seen.has(line!.pid)).toBe(false);
    expect(stepsOf(after)[0]!.pid).toBe(line?.pid);
    // The old build's worker was not what stopped: it is still up (it idles out).
    expect(processAlive(old)).toBe(true);
  }, 1_200_000);
});
