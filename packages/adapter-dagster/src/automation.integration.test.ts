/**
 * The conformance fixtures' schedule, sensor and resources as a Dagster user meets them: a
 * `dagster-webserver` and a `dagster-daemon` on one instance (the QueuedRunCoordinator: the
 * webserver only queues runs, the daemon launches them from its own code server). Everything is
 * read from the webserver's GraphQL API, what the UI shows:
 * - each schedule and sensor runs a named asset job (`<name>_job`), partitioned like its assets;
 * - the sensor's "Test sensor" preview lists the partition of each run request;
 * - a running sensor's tick log holds the lines the sensor logged in Node, and its runs are runs
 *   of its job, one per partition;
 * - resources are bound in the run: the webserver (which loads the code location and validates
 *   launches) has none of a resource's variables, the daemon's host has them, and the step sees the
 *   run's values; a value in run config wins.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { freePort, makeHarnessEnvironment, waitFor, type HarnessEnvironment } from "@baton/testing";
import { assertBuilt, buildProject, type DagsterProject } from "./__tests__/dagster-harness.js";
import { expectType, queuedInstance, REPO, startDaemon, startWebserver, STARTUP_MS, stopGroup, writeWorkspace, type DagsterDaemon, type DagsterDev } from "./__tests__/dagster-dev.js";

const RUN_MS = 240_000;
vi.setConfig({ testTimeout: RUN_MS + 60_000 });

const DAEMON_API_URL = "https://audit.daemon-host.test/v1";
const RUN_CONFIG_API_URL = "https://audit.from-run-config.test/v1";
/** The variables of the fixtures' audit_api resource: set on the daemon's host only. */
const AUDIT_VARIABLES = ["FIXTURE_API_URL", "FIXTURE_API_TOKEN", "FIXTURE_AUDIT_DIR"] as const;

let environment: HarnessEnvironment;
let project: DagsterProject;
let web: DagsterDev | undefined;
let daemon: DagsterDaemon | undefined;

const gql = <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => web!.gql<T>(query, variables);
const tail = () => `\n--- dagster-daemon (tail) ---\n${daemon?.log().slice(-8000) ?? ""}\n--- dagster-webserver (tail) ---\n${web?.log().slice(-4000) ?? ""}`;

interface RunInfo {
  runId: string;
  jobName: string;
  status: string;
  tags: { key: string; value: string }[];
  assetMaterializations: { assetKey: { path: string[] }; partition: string | null }[];
  eventConnection: { events: { __typename: string; message?: string; error?: { message: string } | null }[] };
}
const RUN_FIELDS = `runId jobName status tags { key value } assetMaterializations { assetKey { path } partition }
  eventConnection(limit: 2000) { events { __typename ... on MessageEvent { message } ... on ExecutionStepFailureEvent { error { message } } } }`;

async function finished(runId: string, what: string): Promise<RunInfo> {
  const run = await waitFor(
    async () => {
      const { runOrError } = await gql<{ runOrError: RunInfo & { __typename: string } }>(`query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { ${RUN_FIELDS} } } }`, { id: runId });
      const r = expectType(runOrError, "Run", `run ${runId}`);
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

/** Queue a run of the asset job from the webserver, as the UI's Materialize button or launchpad does. */
async function launch(assets: string[], runConfigData: Record<string, unknown> = {}): Promise<string> {
  const { launchRun } = await gql<{ launchRun: { __typename: string; run?: { runId: string }; message?: string; errors?: unknown } }>(
    `mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
      ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } ... on InvalidSubsetError { message }
      ... on RunConfigValidationInvalid { errors { message } } } }`,
    { p: { selector: { ...REPO, jobName: "__ASSET_JOB", assetSelection: assets.map((a) => ({ path: a.split("/") })) }, runConfigData } },
  );
  return expectType(launchRun, "LaunchRunSuccess", `launchRun of ${assets.join(", ")}`).run!.runId;
}

const tag = (run: { tags: { key: string; value: string }[] }, key: string) => run.tags.find((t) => t.key === key)?.value;
const auditLines = () => {
  const file = join(environment.env.FIXTURE_AUDIT_DIR!, "audit.log");
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
};

beforeAll(async () => {
  assertBuilt();
  environment = makeHarnessEnvironment({ name: "dagster-automation" });
  project = await buildProject(environment.fixtureModule, join(environment.workDir, "project"));
  const home = join(environment.workDir, "dagster-home");
  queuedInstance(home);
  const workspace = writeWorkspace(project);
  mkdirSync(environment.env.FIXTURE_LANDING_DIR!, { recursive: true });
  writeFileSync(join(environment.env.FIXTURE_LANDING_DIR!, "events-2024-01-03.ready"), "");

  const base = { ...process.env, DAGSTER_HOME: home, BATON_NODE: process.execPath, PYTHONWARNINGS: "ignore::UserWarning" } as Record<string, string>;
  for (const name of AUDIT_VARIABLES) delete base[name];
  // The daemon's host (it runs the sensor's ticks and every run): the whole environment.
  const daemonEnv = { ...base, ...environment.env, FIXTURE_API_URL: DAEMON_API_URL };
  // The webserver's host loads the code location, previews ticks and validates launches without
  // any of audit_api's variables.
  const webEnv = { ...base, ...environment.env } as Record<string, string>;
  for (const name of AUDIT_VARIABLES) delete webEnv[name];

  const daemonStarting = startDaemon(workspace, daemonEnv, (d) => (daemon = d));
  daemonStarting.catch(() => undefined);
  await startWebserver(workspace, webEnv, await freePort(), (d) => (web = d));
  await daemonStarting;
}, STARTUP_MS * 2 + 120_000);

afterAll(async () => {
  if (web) await stopGroup(web.child);
  if (daemon) await stopGroup(daemon.child);
  if (environment && !process.env.BATON_KEEP_TEST_DIRS) rmSync(join(environment.workDir, ".."), { recursive: true, force: true });
}, 60_000);

describe("the fixtures' schedule, sensor and resources on a Dagster webserver and daemon (GraphQL)", () => {
  it("shows each schedule and sensor with its own named asset job, partitioned like its assets", async () => {
    const { repositoryOrError, scheduleOrError, sensorOrError, pipelineOrError } = await gql<{
      repositoryOrError: { __typename: string; jobs: { name: string }[] };
      scheduleOrError: { __typename: string; pipelineName: string };
      sensorOrError: { __typename: string; targets: { pipelineName: string }[] };
      pipelineOrError: { __typename: string; isAssetJob: boolean; partitionKeysOrError: { partitionKeys: string[] } };
    }>(
      `query($r: RepositorySelector!, $s: ScheduleSelector!, $n: SensorSelector!, $j: PipelineSelector!) {
        repositoryOrError(repositorySelector: $r) { __typename ... on Repository { jobs { name } } }
        scheduleOrError(scheduleSelector: $s) { __typename ... on Schedule { pipelineName } }
        sensorOrError(sensorSelector: $n) { __typename ... on Sensor { targets { pipelineName } } }
        pipelineOrError(params: $j) { __typename ... on Pipeline { isAssetJob partitionKeysOrError(limit: 2) { partitionKeys } } } }`,
      {
        r: REPO,
        s: { ...REPO, scheduleName: "daily_events" },
        n: { ...REPO, sensorName: "new_event_files" },
        j: { ...REPO, pipelineName: "new_event_files_job" },
      },
    );
    const jobs = expectType(repositoryOrError, "Repository", "the repository").jobs.map((j) => j.name);
    expect(jobs.filter((j) => j.startsWith("__anonymous")), "Dagster's anonymous jobs").toEqual([]);
    expect(jobs).toEqual(expect.arrayContaining(["daily_events_job", "new_event_files_job"]));
    expect(expectType(scheduleOrError, "Schedule", "schedule daily_events").pipelineName).toBe("daily_events_job");
    expect(expectType(sensorOrError, "Sensor", "sensor new_event_files").targets.map((t) => t.pipelineName)).toEqual(["new_event_files_job"]);
    const job = expectType(pipelineOrError, "Pipeline", "job new_event_files_job");
    expect({ isAssetJob: job.isAssetJob, first: job.partitionKeysOrError.partitionKeys }).toEqual({ isAssetJob: true, first: ["2024-01-01", "2024-01-02"] });
  });

  it("previews the sensor's and the schedule's run requests with their partition keys (Test sensor, Test schedule)", async () => {
    type Request = { runKey: string | null; jobName: string | null; tags: { key: string; value: string }[] };
    const { sensorDryRun, scheduleDryRun } = await gql<{
      sensorDryRun: { __typename: string; evaluationResult?: { error: { message: string } | null; cursor: string | null; runRequests: Request[] | null } };
      scheduleDryRun: { __typename: string; evaluationResult?: { error: { message: string } | null; runRequests: Request[] | null } };
    }>(
      `mutation($n: SensorSelector!, $s: ScheduleSelector!, $t: Float) {
        sensorDryRun(selectorData: $n, cursor: "2024-01-02") { __typename ... on DryRunInstigationTick { evaluationResult { error { message } cursor runRequests { runKey jobName tags { key value } } } } ... on PythonError { message } }
        scheduleDryRun(selectorData: $s, timestamp: $t) { __typename ... on DryRunInstigationTick { evaluationResult { error { message } runRequests { runKey jobName tags { key value } } } } ... on PythonError { message } } }`,
      { n: { ...REPO, sensorName: "new_event_files" }, s: { ...REPO, scheduleName: "daily_events" }, t: Date.parse("2024-01-05T01:00:00Z") / 1000 },
    );
    const sensor = expectType(sensorDryRun, "DryRunInstigationTick", "sensorDryRun of new_event_files").evaluationResult!;
    expect(sensor.error, "the sensor's evaluation error").toBeNull();
    expect({ cursor: sensor.cursor, requests: sensor.runRequests?.map((r) => [r.runKey, tag(r, "dagster/partition")]) }).toEqual({ cursor: "2024-01-03", requests: [["events:2024-01-03", "2024-01-03"]] });
    const schedule = expectType(scheduleDryRun, "DryRunInstigationTick", "scheduleDryRun of daily_events").evaluationResult!;
    expect(schedule.error, "the schedule's evaluation error").toBeNull();
    expect(schedule.runRequests?.map((r) => [r.runKey, tag(r, "dagster/partition")])).toEqual([["2024-01-04", "2024-01-04"]]);
  });

  it("runs the started sensor in the daemon: its tick's log holds the sensor's own line, and it launches one run of its job per partition", async () => {
    const { startSensor } = await gql<{ startSensor: { __typename: string; message?: string } }>(
      `mutation($n: SensorSelector!) { startSensor(sensorSelector: $n) { __typename ... on PythonError { message } ... on UnauthorizedError { message } } }`,
      { n: { ...REPO, sensorName: "new_event_files" } },
    );
    expectType(startSensor, "Sensor", "startSensor of new_event_files");
    type Tick = { status: string; runIds: string[]; cursor: string | null; error: { message: string } | null; logEvents: { events: { message: string; level: string }[] } };
    const tick = await waitFor(
      async () => {
        const { sensorOrError } = await gql<{ sensorOrError: { sensorState: { ticks: Tick[] } } }>(
          `query($n: SensorSelector!) { sensorOrError(sensorSelector: $n) { ... on Sensor { sensorState { ticks(limit: 10) {
            status runIds cursor error { message } logEvents { events { message level } } } } } } }`,
          { n: { ...REPO, sensorName: "new_event_files" } },
        );
        const ticks = sensorOrError.sensorState.ticks;
        const failed = ticks.find((t) => t.status === "FAILURE");
        if (failed) throw new Error(`a tick of new_event_files failed: ${failed.error?.message}`);
        return ticks.find((t) => t.status === "SUCCESS" && t.runIds.length > 0);
      },
      { timeoutMs: RUN_MS, intervalMs: 1_000, what: "the daemon's first tick of new_event_files that requested a run" },
    ).catch((e: Error) => {
      throw new Error(`${e.message}${tail()}`);
    });
    expect(tick.cursor).toBe("2024-01-03");
    expect(tick.logEvents.events.map((e) => [e.level, e.message]), "the tick's log (the UI's tick details)").toEqual(expect.arrayContaining([["INFO", "baton-sensor-log: 1 new file(s)"]]));

    expect(tick.runIds).toHaveLength(1);
    const run = await finished(tick.runIds[0]!, "the sensor's run");
    expect({ job: run.jobName, sensor: tag(run, "dagster/sensor_name"), partition: tag(run, "dagster/partition"), runKey: tag(run, "dagster/run_key") }).toEqual({
      job: "new_event_files_job",
      sensor: "new_event_files",
      partition: "2024-01-03",
      runKey: "events:2024-01-03",
    });
    expect(run.assetMaterializations.map((m) => `${m.assetKey.path.join("/")}[${m.partition}]`).sort()).toEqual(["daily_event_counts[2024-01-03]", "web/events[2024-01-03]"]);
  });

  it("binds resources in the run: the daemon host's variables reach the step the webserver's host lacks them for, and run config wins", async () => {
    expect(auditLines()).toEqual([]);
    // Two runs at once: one with nothing set, one with the launchpad's resource config for this run.
    const runs = await Promise.all([
      launch(["audit_log"]).then((id) => finished(id, "audit_log with the daemon host's variables")),
      launch(["audit_log"], { resources: { audit_api: { config: { url: RUN_CONFIG_API_URL } } } }).then((id) => finished(id, "audit_log with run config")),
    ]);
    for (const run of runs) expect(run.assetMaterializations.map((m) => m.assetKey.path.join("/"))).toEqual(["audit_log"]);
    expect(auditLines().sort()).toEqual([`published customer_metrics run=ok via ${DAEMON_API_URL} auth=yes`, `published customer_metrics run=ok via ${RUN_CONFIG_API_URL} auth=yes`].sort());
  });
});
