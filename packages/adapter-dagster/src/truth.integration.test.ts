import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalIOStore } from "@baton/core";
import { waitFor, type HarnessEnvironment, type HarnessRun, processAlive } from "@baton/testing";
import { dagsterEnv, startDagster, type DagsterDriver } from "./__tests__/dagster-harness.js";

// What Dagster itself records (its event log, run and step status) for the failure modes of
// issue 10 that the shared conformance fixtures cannot show on their own: results streamed while
// Node runs, one resource's missing variable, Node missing, and a killed Python process.

const fixtureModule = fileURLToPath(new URL("./__tests__/truth-definitions.mjs", import.meta.url));

interface RunEvent {
  type: string | null;
  step: string | null;
  asset: string | null;
  timestamp: number;
  message: string;
}

type Run = HarnessRun & { runId: string; runStatus: string };

const CANARY = `canary-${Math.random().toString(36).slice(2)}-value`;
let driver: DagsterDriver;
let environment: HarnessEnvironment;
let projectDir: string;
let projectModule: string;
let store: LocalIOStore;

const events = async (run: Run) => (await driver.request<{ events: RunEvent[] }>({ op: "events", runId: run.runId })).events;
const materialize = (assets: string[]) => driver.request<Run>({ op: "materialize", assets });

beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), "baton-dagster-truth-"));
  for (const d of ["storage", "work", "config", "control"]) mkdirSync(join(root, d), { recursive: true });
  environment = {
    fixtureModule,
    exportName: "default",
    storage: join(root, "storage"),
    storageDir: join(root, "storage"),
    workDir: join(root, "work"),
    configDir: join(root, "config"),
    env: { BATON_STORAGE: join(root, "storage"), TRUTH_CONTROL_DIR: join(root, "control"), TRUTH_CANARY: CANARY },
  };
  delete process.env.TRUTH_VAULT_TOKEN;
  const started = await startDagster(environment);
  driver = started.driver;
  projectDir = started.project.outDir;
  projectModule = started.project.module;
  store = new LocalIOStore(environment.storageDir);
}, 600_000);

afterAll(async () => {
  await driver?.close();
});

describe("Dagster records what the Node step reported, as it reports it", () => {
  it("a multi-asset step's materializations are in the event log as each asset finishes, not when Node exits", async () => {
    const run = await materialize(["stream/first", "stream/second"]);
    expect(run.status).toBe("success");
    const log = await events(run);
    const at = (asset: string) => log.find((e) => e.type === "ASSET_MATERIALIZATION" && e.asset === asset)?.timestamp;
    const [first, second] = [at("stream/first"), at("stream/second")];
    expect([first, second].every((t) => t !== undefined), "both assets are materialized in the event log").toBe(true);
    // stream/second takes 4 s after stream/first: the first materialization must not wait for it.
    expect(second! - first!, "stream/first was recorded only when the whole step ended").toBeGreaterThan(3);
  }, 240_000);
});

describe("one resource's unset variable fails only the assets that use it", () => {
  it("an asset without that resource materializes, in a code location whose other resource has no variable", async () => {
    const run = await materialize(["plain"]);
    expect({ status: run.status, plain: run.assets.plain }).toEqual({ status: "success", plain: { status: "success", attempts: 1, error: null } });
    expect(run.materializations).toEqual([{ asset: "plain", partitionKey: null, metadata: {} }]);
  }, 240_000);

  // `dg launch --assets` runs the same command in process (dagster-dg-cli's launch.py: asset_materialize_command_impl).
  it("`dagster asset materialize --select plain` succeeds, as the user's own command (it failed on the other resource's config)", () => {
    const home = join(environment.workDir, "cli-home");
    mkdirSync(home, { recursive: true });
    const cli = spawnSync(dagsterEnv().bin("dagster"), ["asset", "materialize", "-m", `${projectModule}.definitions`, "-d", "src", "--select", "plain"], {
      cwd: projectDir,
      env: { ...process.env, ...environment.env, DAGSTER_HOME: home },
      encoding: "utf8",
      timeout: 180_000,
    });
    expect({ exit: cli.status, config: /DagsterInvalidConfigError|TRUTH_VAULT_TOKEN/.test(cli.stderr + cli.stdout) }, cli.stderr.slice(-3000)).toEqual({ exit: 0, config: false });
  }, 240_000);

  it("the asset that uses it fails once, naming the variable, although its retry policy allows two retries", async () => {
    const run = await materialize(["needs_vault"]);
    expect(run.status).toBe("failure");
    expect(run.assets.needs_vault?.status).toBe("failure");
    expect(run.assets.needs_vault?.error ?? "").toContain("TRUTH_VAULT_TOKEN");
    expect(run.assets.needs_vault?.attempts, "a deterministic failure was retried").toBe(1);
    const log = await events(run);
    expect(log.filter((e) => e.type === "STEP_UP_FOR_RETRY")).toEqual([]);
  }, 240_000);
});

describe("secrets in what Node prints", () => {
  // A one-off step process (BATON_WORKER=off): its fds 1 and 2 are the pipes baton_dagster.step
  // reads. On a warm worker they are the worker's own (its log): only process.stdout/stderr writes
  // and console.* reach the step's connection (README, "The warm step worker").
  it("a secret written straight to fd 1 and 2 is redacted before Dagster's compute logs, and stored nowhere", async () => {
    await driver.request({ op: "setenv", env: { BATON_WORKER: "off" } });
    let run: Run;
    try {
      run = await materialize(["raw_print"]);
    } finally {
      await driver.request({ op: "setenv", env: { BATON_WORKER: null } });
    }
    expect(run.status).toBe("success");
    // The compute logs kept the lines (so the test proves something), without the value.
    expect(run.recordsText).toContain("raw_print fd1 token=***");
    expect(run.recordsText).toContain("raw_print fd2 token=***");
    expect(run.recordsText).not.toContain(CANARY);
    const leaks = filesUnder(environment.workDir).filter((f) => readFileSync(f).includes(Buffer.from(CANARY)));
    expect(leaks, "files under the Dagster home holding the canary").toEqual([]);
  }, 240_000);
});

describe("Node missing", () => {
  it("fails the step once, saying to set BATON_NODE, instead of a FileNotFoundError", async () => {
    await driver.request({ op: "setenv", env: { BATON_NODE: "/nonexistent/bin/node" } });
    try {
      const run = await materialize(["retried"]);
      expect(run.status).toBe("failure");
      const error = run.assets.retried?.error ?? "";
      expect(error).toContain("BATON_NODE");
      expect(error).not.toContain("FileNotFoundError");
      expect(run.assets.retried?.attempts, "Node missing was retried").toBe(1);
    } finally {
      await driver.request({ op: "setenv", env: { BATON_NODE: null } });
    }
  }, 240_000);
});

describe("a killed Python process does not leave its Node step behind", () => {
  it("SIGKILL to the Python process running the step stops its Node step, which then commits nothing", async () => {
    const control = environment.env.TRUTH_CONTROL_DIR!;
    const started = join(control, "hang.started");
    const home = join(environment.workDir, "cli-home");
    mkdirSync(home, { recursive: true });
    const cli = spawn(dagsterEnv().bin("dagster"), ["asset", "materialize", "-m", `${projectModule}.definitions`, "-d", "src", "--select", "hang"], {
      cwd: projectDir,
      env: { ...process.env, ...environment.env, DAGSTER_HOME: home },
      stdio: "ignore",
    });
    const exited = new Promise((r) => cli.once("exit", r));
    try {
      await waitFor(() => existsSync(started), { what: "the hang asset's Node step to start" });
      const pid = Number(readFileSync(started, "utf8").trim());
      // The process running the step: Dagster's step worker, the multiprocess executor's child
      // (start method "spawn", dagster/_core/executor/multiprocess.py: `spawn_main` in its command).
      // Node is its child, or a warm worker (started by an earlier step) serving it over a socket:
      // either way its death must stop the step.
      const steps = descendants(cli.pid!).filter((p) => cmdline(p).includes("spawn_main"));
      expect(steps.length, "the Python step processes under `dagster asset materialize`").toBe(1);
      process.kill(steps[0]!, "SIGKILL");
      await waitFor(() => !processAlive(pid), { what: `the orphaned Node step (pid ${pid}) to exit` });
      writeFileSync(join(control, "hang.release"), "");
      // A watch window, not a synchronisation: a surviving step, released, would commit within it.
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await store.readRecord(["hang"], undefined), "the orphaned step committed its output").toBeUndefined();
    } finally {
      cli.kill("SIGKILL");
      await exited;
    }
  }, 240_000);
});

const cmdline = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
};

/** The processes under `root`, parents before their children (from /proc). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const visit = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      out.push(child);
      visit(child);
    }
  };
  visit(root);
  return out;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

