/**
 * The warm step worker under Dagster (issue 13, packages/core/WORKER-CONTRACT.md), in one `dagster dev`:
 * runs launched as the UI launches them (the webserver's launchRun), each run worker a new Python
 * process that hands its step to a warm Node worker. What is asserted is Dagster's own record of each
 * run (status, materializations, the event log) and the IO store:
 *
 * - the worker SIGKILLed mid-step: that attempt fails as retryable, saying the worker died, nothing
 *   is committed; Dagster's retry runs on a fresh worker and succeeds;
 * - two Dagster runs at once on one build: both succeed, on two workers (two slots);
 * - one worker serves successive runs; a rebuild under it (changed code, so a changed manifest) is
 *   served by a new worker running the new code.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalIOStore } from "@baton/core";
import { freePort, processAlive, waitFor, stopWorkers, workerPids } from "@baton/testing";
import { assertBuilt, buildProject, fixtureProject, type DagsterProject } from "./__tests__/dagster-harness.js";
import { expectType, REPO, startDagsterDev, stopGroup, type DagsterDev } from "./__tests__/dagster-dev.js";

const fixture = fileURLToPath(new URL("./__tests__/worker-definitions.mjs", import.meta.url));
let dev: DagsterDev | undefined;
let root: string;
let control: string;
let definitionsFile: string;
let project: DagsterProject;
let store: LocalIOStore;
/** The pids of the two runs at once (left, right): the build's two workers. */
let pair: number[] = [];

interface RunInfo {
  status: string;
  assetMaterializations: { assetKey: { path: string[] } }[];
  eventConnection: { events: { __typename: string; message?: string; error?: { message: string; causes: { message: string }[] } | null }[] };
}
const RUN_FIELDS = `status assetMaterializations { assetKey { path } }
  eventConnection(limit: 2000) { events { __typename ... on MessageEvent { message } ... on ErrorEvent { error { message causes { message } } } } }`;

/** An error event's message with its causes (a retry's error is RetryRequested, caused by the step's Failure). */
const errorText = (e: RunInfo["eventConnection"]["events"][number]) => (e.error ? [e.error.message, ...e.error.causes.map((c) => c.message)].join("\n") : "");

beforeAll(async () => {
  assertBuilt();
  root = mkdtempSync(join(tmpdir(), "baton-dagster-worker-"));
  const home = join(root, "dagster-home");
  control = join(root, "control");
  const storage = join(root, "storage");
  for (const d of [home, control, storage]) mkdirSync(d, { recursive: true });
  writeFileSync(join(home, "dagster.yaml"), "telemetry:\n  enabled: false\n");
  // Inside the fixture project, as a user's source is, so the test can change it and rebuild.
  mkdirSync(join(fixtureProject(), "src"), { recursive: true });
  definitionsFile = join(fixtureProject(), "src", "worker-definitions.mjs");
  copyFileSync(fixture, definitionsFile);
  project = await buildProject(definitionsFile, join(root, "project"));
  store = new LocalIOStore(storage);
  const env = {
    DAGSTER_HOME: home,
    BATON_STORAGE: storage,
    BATON_NODE: process.execPath,
    WORKER_CONTROL_DIR: control,
    // The worker on (whatever the caller's environment says), its sockets in this test's folder.
    BATON_WORKER: "on",
    BATON_WORKER_DIR: workers(),
    // Longer than the test: a worker idling out would look like one the rebuild stopped.
    BATON_WORKER_IDLE_SECONDS: "900",
  };
  // Run from the folder above the project: the rebuild swaps the project folder under dagster dev.
  await startDagsterDev(project, env, await freePort(), (d) => (dev = d), root);
}, 600_000);

afterAll(async () => {
  if (dev) await stopGroup(dev.child);
  // Workers outlive the runs that started them (sessions of their own): stop ours now.
  await stopWorkers(workers());
}, 60_000);

const workers = () => join(root, "w");

type LaunchResult = { __typename: string; run?: { runId: string }; message?: string };

async function launchOrError(asset: string): Promise<LaunchResult> {
  const { launchRun } = await dev!.gql<{ launchRun: LaunchResult }>(
    `mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename ... on LaunchRunSuccess { run { runId } } ... on Error { message } } }`,
    { p: { selector: { ...REPO, jobName: "__ASSET_JOB", assetSelection: [{ path: [asset] }] } } },
  );
  return launchRun;
}

async function launch(asset: string): Promise<string> {
  return expectType(await launchOrError(asset), "LaunchRunSuccess", `launchRun of ${asset}`).run!.runId;
}

async function runInfo(runId: string): Promise<RunInfo> {
  const { runOrError } = await dev!.gql<{ runOrError: RunInfo }>(`query($id: ID!) { runOrError(runId: $id) { ... on Run { ${RUN_FIELDS} } } }`, { id: runId });
  return runOrError;
}

function finished(runId: string): Promise<RunInfo> {
  return waitFor(
    async () => {
      const run = await runInfo(runId);
      return ["SUCCESS", "FAILURE", "CANCELED"].includes(run.status) ? run : undefined;
    },
    { timeoutMs: 400_000, intervalMs: 500, what: `run ${runId} to finish` },
  );
}

/** The run's failures as text, for a message that says why a run did not succeed. */
const failures = (run: RunInfo) =>
  run.eventConnection.events
    .filter((e) => e.error)
    .map((e) => `${e.__typename}: ${errorText(e)}`)
    .join("\n");

async function stored(asset: string, column: string): Promise<unknown> {
  const { frame } = await store.read([asset], undefined);
  return frame.getColumn(column).toArray()[0];
}

async function storedPid(asset: string): Promise<number> {
  return Number(await stored(asset, "pid"));
}

const pidLines = (file: string): number[] =>
  existsSync(join(control, file))
    ? readFileSync(join(control, file), "utf8")
        .split("\n")
        .filter(Boolean)
        .map(Number)
    : [];

describe("the warm worker under dagster dev", () => {
  it("SIGKILLed mid-step: the attempt fails as retryable saying the worker died, nothing is committed, and Dagster's retry succeeds on a fresh worker", async () => {
    const runId = await launch("held");
    const [first] = await waitFor(() => (pidLines("held.pids").length >= 1 ? pidLines("held.pids") : undefined), { timeoutMs: 300_000, what: "held's first attempt to start in Node" });
    process.kill(first!, "SIGKILL");

    const pids = await waitFor(() => (pidLines("held.pids").length >= 2 ? pidLines("held.pids") : undefined), { timeoutMs: 300_000, what: "Dagster to retry held after its worker was killed" });
    const second = pids[1]!;
    expect(second, "the retry ran on the killed worker's pid").not.toBe(first);
    // The retry is waiting for held.release: what the killed attempt left is all there is.
    expect(await store.readRecord(["held"], undefined), "the killed attempt committed held").toBeUndefined();
    const during = await runInfo(runId);
    expect(during.assetMaterializations).toEqual([]);
    const retried = during.eventConnection.events.filter((e) => e.__typename === "ExecutionStepUpForRetryEvent");
    expect(retried.length, `no retry in the event log:\n${failures(during)}`).toBe(1);
    // baton_core.worker's line, through the step's Failure: the worker, its pid, died mid-step.
    expect(errorText(retried[0]!)).toContain(`baton worker pid ${first} died mid-step`);

    writeFileSync(join(control, "held.release"), "");
    const run = await finished(runId);
    expect(run.status, failures(run)).toBe("SUCCESS");
    expect(run.assetMaterializations.map((m) => m.assetKey.path)).toEqual([["held"]]);
    expect(await storedPid("held"), "held's output came from another process than the retry").toBe(second);
  }, 600_000);

  it("two Dagster runs at once on one build both succeed, each on its own worker (two slots)", async () => {
    const ids = await Promise.all(["left", "right"].map(launch));
    const runs = await Promise.all(ids.map(finished));
    for (const run of runs) expect(run.status, failures(run)).toBe("SUCCESS");
    expect(runs.map((r) => r.assetMaterializations.map((m) => m.assetKey.path))).toEqual([[["left"]], [["right"]]]);
    pair = [await storedPid("left"), await storedPid("right")];
    expect(pair[0], "both runs' steps ran in one process").not.toBe(pair[1]);
    expect(workerPids(workers()).sort(), "the workers serving this build").toEqual(expect.arrayContaining([...pair].sort()));
  }, 600_000);

  it("a later run reuses an idle worker; after a rebuild (new code, so a new manifest) a new worker runs the new code", async () => {
    const first = await finished(await launch("version"));
    expect(first.status, failures(first)).toBe("SUCCESS");
    expect(await stored("version", "build")).toBe("v1");
    const warm = await storedPid("version");
    expect(pair, "the run did not reuse an idle worker of the runs before").toContain(warm);

    writeFileSync(definitionsFile, readFileSync(fixture, "utf8").replace('const BUILD = "v1";', 'const BUILD = "v2";'));
    await buildProject(definitionsFile, project.outDir);
    // "Reload definitions" in the UI; the code server restarts on the new folder. Until it
    // serves, a launch may be refused (a PythonError): launched once it is accepted.
    const reload = () =>
      dev!.gql<{ reloadRepositoryLocation: { __typename: string } }>(
        `mutation($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) { __typename ... on Error { message } } }`,
        { name: REPO.repositoryLocationName },
      );
    // The build took longer than the webserver keeps an idle connection open: a request racing its
    // close fails with "fetch failed" (other side closed) and is sent again on a new connection.
    const { reloadRepositoryLocation } = await reload().catch((e: Error) => {
      if (!e.message.includes("fetch failed")) throw e;
      return reload();
    });
    expectType(reloadRepositoryLocation, "WorkspaceLocationEntry", "reloadRepositoryLocation");
    let refused: LaunchResult | undefined;
    const runId = await waitFor(
      async () => {
        const result = await launchOrError("version");
        if (result.__typename === "LaunchRunSuccess") return result.run!.runId;
        refused = result;
        return undefined;
      },
      { timeoutMs: 300_000, intervalMs: 1_000, what: "a run of version launched on the reloaded code location" },
    ).catch((e: Error) => {
      throw new Error(`${e.message}; last answer: ${JSON.stringify(refused)}`);
    });

    const run = await finished(runId);
    expect(run.status, failures(run)).toBe("SUCCESS");
    expect(await stored("version", "build"), "the run after the rebuild ran the old code").toBe("v2");
    const after = await storedPid("version");
    expect(pair, "an old build's worker ran the new build's step").not.toContain(after);
    // The old workers were not restarted for the new build: they are still there, idle, until their timeout.
    expect(processAlive(warm), "the old build's worker was stopped by the new build").toBe(true);
  }, 900_000);
});
