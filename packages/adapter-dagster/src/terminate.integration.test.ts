import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalIOStore } from "@baton/core";
import { waitFor, processAlive, freePort } from "@baton/testing";
import { assertBuilt, buildProject } from "./__tests__/dagster-harness.js";
import { expectType, REPO, startDagsterDev, STARTUP_MS, stopGroup, type DagsterDev } from "./__tests__/dagster-dev.js";

// Cancellation the way a Dagster user does it: "Terminate" on a run in the UI (the webserver's
// terminateRun mutation), with the run launched by `dagster dev`'s run launcher. The Node step
// must stop, and nothing may be committed afterwards.

const fixtureModule = fileURLToPath(new URL("./__tests__/truth-definitions.mjs", import.meta.url));
let dev: DagsterDev | undefined;
let control: string;
let store: LocalIOStore;

beforeAll(async () => {
  assertBuilt();
  const root = mkdtempSync(join(tmpdir(), "baton-dagster-terminate-"));
  const home = join(root, "dagster-home");
  control = join(root, "control");
  for (const d of [home, control, join(root, "storage")]) mkdirSync(d, { recursive: true });
  writeFileSync(join(home, "dagster.yaml"), "telemetry:\n  enabled: false\n");
  const project = await buildProject(fixtureModule, join(root, "project"));
  store = new LocalIOStore(join(root, "storage"));
  const env = { DAGSTER_HOME: home, BATON_STORAGE: join(root, "storage"), BATON_NODE: process.execPath, TRUTH_CONTROL_DIR: control };
  await startDagsterDev(project, env, await freePort(), (d) => (dev = d));
}, STARTUP_MS + 60_000);

afterAll(async () => {
  if (dev) await stopGroup(dev.child);
}, 60_000);


describe("terminating a run in `dagster dev`", () => {
  it("stops its Node step; the run ends canceled, with no materialization, and nothing is committed afterwards", async () => {
    const { launchRun } = await dev!.gql<{ launchRun: { __typename: string; run?: { runId: string } } }>(
      `mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }`,
      { p: { selector: { ...REPO, jobName: "__ASSET_JOB", assetSelection: [{ path: ["hang"] }] } } },
    );
    const runId = expectType(launchRun, "LaunchRunSuccess", "launchRun of hang").run!.runId;
    const started = join(control, "hang.started");
    await waitFor(() => existsSync(started), { what: `run ${runId}'s hang step to start in Node` });
    const pid = Number(readFileSync(started, "utf8").trim());

    const { terminateRun } = await dev!.gql<{ terminateRun: { __typename: string; message?: string } }>(
      `mutation($id: String!) { terminateRun(runId: $id) { __typename ... on TerminateRunSuccess { run { runId } } ... on TerminateRunFailure { message } ... on PythonError { message } } }`,
      { id: runId },
    );
    expectType(terminateRun, "TerminateRunSuccess", `terminateRun of ${runId}`);

    await waitFor(() => !processAlive(pid), { what: `the terminated run's Node step (pid ${pid}) to exit` });
    const run = await waitFor(
      async () => {
        const { runOrError } = await dev!.gql<{ runOrError: { status: string; assetMaterializations: unknown[] } }>(
          `query($id: ID!) { runOrError(runId: $id) { ... on Run { status assetMaterializations { partition } } } }`,
          { id: runId },
        );
        return ["CANCELED", "FAILURE", "SUCCESS"].includes(runOrError.status) ? runOrError : undefined;
      },
      { what: `run ${runId} to reach a terminal state after terminateRun` },
    );
    expect({ status: run.status, materializations: run.assetMaterializations }).toEqual({ status: "CANCELED", materializations: [] });

    // Release the step: a Node process left behind would now return and commit its output.
    writeFileSync(join(control, "hang.release"), "");
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await store.readRecord(["hang"], undefined), "hang was committed after its run was terminated").toBeUndefined();
  }, 300_000);
});
