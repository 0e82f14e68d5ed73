import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LocalIOStore, loadDefinitions, materialize, type MaterializeResult } from "@baton/core";
import { waitFor, freePort } from "@baton/testing";
import { assertBuilt, dagsterEnv } from "./__tests__/dagster-harness.js";
import { moduleName } from "./project.js";
import { expectType, REPO, startDagsterDev, STARTUP_MS, stopGroup, type DagsterDev } from "./__tests__/dagster-dev.js";

// What a Dagster user does with the example: `baton dagster build`, then `dagster dev`, then the
// UI. This test does the same and reads what the UI reads (the webserver's GraphQL API): the
// TypeScript assets, partitions, check, schedule and sensor, and runs launched like the UI's
// "Materialize" button, compared byte for byte (content hashes) with Baton's embedded executor.

const exampleDir = fileURLToPath(new URL("../../../examples/customer-metrics/", import.meta.url));
// Condition waits, with deadlines a loaded 2-core machine still meets; each names what it waited for.
const RUN_MS = 240_000;
const TEST_MS = 300_000;
const ROWS = "10000";

let dev: DagsterDev | undefined;
let workDir: string;
let storage: string;
let embedded: { metrics: MaterializeResult; revenue: MaterializeResult };

// Every test waits on GraphQL and runs: the package's 30 s default is too short on a busy machine.
vi.setConfig({ testTimeout: TEST_MS });

const gql = <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => dev!.gql<T>(query, variables);

interface RunInfo {
  runId: string;
  status: string;
  tags: { key: string; value: string }[];
  assetMaterializations: {
    assetKey: { path: string[] };
    partition: string | null;
    metadataEntries: { __typename: string; label: string; intRepr?: string; text?: string; path?: string }[];
  }[];
  eventConnection: {
    events: {
      __typename: string;
      message?: string;
      error?: { message: string } | null;
      evaluation?: { checkName: string; success: boolean; severity: string; assetKey: { path: string[] } };
    }[];
  };
}

const RUN_QUERY = `query($id: ID!) { runOrError(runId: $id) { __typename ... on Run {
  runId status tags { key value }
  assetMaterializations { assetKey { path } partition metadataEntries { __typename label
    ... on IntMetadataEntry { intRepr } ... on TextMetadataEntry { text } ... on PathMetadataEntry { path } } }
  eventConnection(limit: 1000) { events { __typename
    ... on MessageEvent { message }
    ... on ExecutionStepFailureEvent { error { message } }
    ... on RunFailureEvent { pipelineName }
    ... on AssetCheckEvaluationEvent { evaluation { checkName success severity assetKey { path } } } } }
} ... on PythonError { message } } }`;

/** Launch a run of the implicit asset job, as the UI's Materialize button does, and wait for it to end. */
async function launchAndWait(assets: string[], tags: { key: string; value: string }[] = []): Promise<RunInfo> {
  const { launchRun } = await gql<{ launchRun: { __typename: string; run?: { runId: string }; message?: string; errors?: unknown } }>(
    `mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
      ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } ... on InvalidSubsetError { message }
      ... on RunConfigValidationInvalid { errors { message } } ... on PipelineNotFoundError { message } } }`,
    {
      p: {
        selector: { ...REPO, jobName: "__ASSET_JOB", assetSelection: assets.map((a) => ({ path: a.split("/") })) },
        executionMetadata: { tags },
      },
    },
  );
  const runId = expectType(launchRun, "LaunchRunSuccess", `launchRun of ${assets.join(", ")}`).run!.runId;
  const run = await waitFor(
    async () => {
      const { runOrError } = await gql<{ runOrError: RunInfo & { __typename: string } }>(RUN_QUERY, { id: runId });
      const run = expectType(runOrError, "Run", `run ${runId}`);
      return ["SUCCESS", "FAILURE", "CANCELED"].includes(run.status) ? run : undefined;
    },
    { timeoutMs: RUN_MS, intervalMs: 500, what: `run ${runId} of ${assets.join(", ")} to reach a terminal state` },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n--- dagster dev output (tail) ---\n${dev!.log()}`);
  });
  if (run.status !== "SUCCESS") {
    const errors = run.eventConnection.events.filter((e) => e.__typename.includes("Failure")).map((e) => `${e.__typename}: ${e.message ?? ""} ${e.error?.message ?? ""}`);
    throw new Error(`run ${runId} of ${assets.join(", ")} ended ${run.status}:\n${errors.join("\n")}\n--- dagster dev output (tail) ---\n${dev!.log()}`);
  }
  return run;
}

function materializationOf(run: RunInfo, key: string) {
  const m = run.assetMaterializations.find((x) => x.assetKey.path.join("/") === key);
  if (!m) throw new Error(`run ${run.runId} has no materialization of ${key}; it has ${run.assetMaterializations.map((x) => x.assetKey.path.join("/")).join(", ") || "none"}`);
  const meta = Object.fromEntries(m.metadataEntries.map((e) => [e.label, e.intRepr ?? e.text ?? e.path ?? e.__typename]));
  return { partition: m.partition, meta };
}

const embeddedHash = (result: MaterializeResult, id: string) => result.assets[id]?.materializations[0]?.metadata.contentHash;

describe("examples/customer-metrics in `dagster dev` (webserver GraphQL)", () => {
  beforeAll(async () => {
    assertBuilt();
    workDir = mkdtempSync(join(tmpdir(), "baton-dagster-dev-"));
    const projectDir = join(workDir, "dagster");
    const home = join(workDir, "dagster-home");
    const drops = join(workDir, "drops");
    storage = join(workDir, "storage");
    for (const d of [home, drops, storage]) mkdirSync(d, { recursive: true });
    writeFileSync(join(home, "dagster.yaml"), "telemetry:\n  enabled: false\n");
    writeFileSync(join(drops, "2024-01-04.csv"), "order_id\n1\n");
    writeFileSync(join(drops, "2024-01-05.csv"), "order_id\n2\n");

    // What the README tells a user to run.
    try {
      execFileSync("pnpm", ["exec", "baton", "dagster", "build", "--out", projectDir], { cwd: exampleDir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`\`pnpm exec baton dagster build\` failed in ${exampleDir}: ${err.message}\n${err.stdout ?? ""}${err.stderr ?? ""}`, { cause: e });
    }
    dagsterEnv(); // create the venv (with dagster-webserver) before the clock starts

    const env = {
      DAGSTER_HOME: home,
      BATON_STORAGE: storage,
      BATON_NODE: process.execPath,
      ORDERS_DROP_DIR: drops,
      WAREHOUSE_URL: join(workDir, "warehouse"),
      CUSTOMER_METRICS_ROWS: ROWS,
    };
    const starting = startDagsterDev({ outDir: projectDir, module: moduleName("customer-metrics") }, env, await freePort(), (d) => (dev = d));
    starting.catch(() => undefined);
    // Meanwhile, the reference: the same assets through Baton's embedded executor.
    process.env.CUSTOMER_METRICS_ROWS = ROWS;
    const defs = await loadDefinitions(join(exampleDir, "src", "definitions.ts"));
    const store = new LocalIOStore(join(workDir, "embedded-storage"));
    const metrics = await materialize(defs, { selection: "+customer_metrics", store });
    const revenue = await materialize(defs, { selection: "daily_revenue", partition: "2024-01-03", store });
    embedded = { metrics, revenue };
    expect([metrics.status, revenue.status], "the embedded reference run failed").toEqual(["success", "success"]);
    await starting;
  }, STARTUP_MS + 120_000);

  afterAll(async () => {
    if (dev) await stopGroup(dev.child);
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  }, 40_000);

  it("shows the five assets as TypeScript assets with their groups, deps, partitions and check", async () => {
    const { assetNodes } = await gql<{
      assetNodes: {
        assetKey: { path: string[] };
        kinds: string[];
        groupName: string;
        isMaterializable: boolean;
        isPartitioned: boolean;
        partitionKeys: string[];
        partitionDefinition: { type: string; description: string; fmt: string | null } | null;
        dependencyKeys: { path: string[] }[];
        assetChecksOrError: { __typename: string; checks?: { name: string }[] };
      }[];
    }>(`{ assetNodes { assetKey { path } kinds groupName isMaterializable isPartitioned partitionKeys
        partitionDefinition { type description fmt } dependencyKeys { path }
        assetChecksOrError { __typename ... on AssetChecks { checks { name } } } } }`);
    const seen = Object.fromEntries(
      assetNodes.map((n) => [
        n.assetKey.path.join("/"),
        {
          kinds: [...n.kinds].sort(),
          group: n.groupName,
          materializable: n.isMaterializable,
          partitioned: n.isPartitioned,
          deps: n.dependencyKeys.map((d) => d.path.join("/")).sort(),
          checks: expectType(n.assetChecksOrError, "AssetChecks", `checks of ${n.assetKey.path.join("/")}`).checks!.map((c) => c.name),
        },
      ]),
    );
    // Kinds: the language, and the format the output is stored in (a side effect stores nothing).
    const ts = (deps: string[], checks: string[] = [], partitioned = false, kinds = ["parquet", "typescript"]) => ({ kinds, group: "sales", materializable: true, partitioned, deps, checks });
    expect(seen, "the asset graph dagster dev shows").toEqual({
      orders: ts([], ["orders_have_customers"]),
      customers: ts([]),
      customer_metrics: ts(["customers", "orders"], ["spend_is_positive"]),
      published_metrics: ts(["customer_metrics"], [], false, ["typescript"]),
      daily_revenue: ts(["orders"], [], true),
    });

    const revenue = assetNodes.find((n) => n.assetKey.path.join("/") === "daily_revenue")!;
    expect(revenue.partitionDefinition, "daily_revenue's partitions definition").toEqual({ type: "TIME_WINDOW", description: "Daily, starting 2024-01-01 UTC.", fmt: "%Y-%m-%d" });
    expect([revenue.partitionKeys.length, revenue.partitionKeys[0], revenue.partitionKeys.at(-1)], "daily_revenue's partition keys (count, first, last)").toEqual([31, "2024-01-01", "2024-01-31"]);
  });

  it("shows the schedule nightly_revenue at 01:15 Europe/Paris, which runs its job on yesterday's daily_revenue partition", async () => {
    const { scheduleOrError, assetNodes } = await gql<{
      assetNodes: { assetKey: { path: string[] } }[];
      scheduleOrError: {
        __typename: string;
        pipelineName: string;
        cronSchedule: string;
        executionTimezone: string;
        winter: { results: { timestamp: number }[] };
        summer: { results: { timestamp: number }[] };
      };
    }>(
      `query($s: ScheduleSelector!, $j: PipelineSelector!) { scheduleOrError(scheduleSelector: $s) { __typename ... on Schedule {
        pipelineName cronSchedule executionTimezone
        winter: futureTicks(cursor: 1704369600, limit: 1) { results { timestamp } }
        summer: futureTicks(cursor: 1719792000, limit: 1) { results { timestamp } } } }
        assetNodes(pipeline: $j) { assetKey { path } } }`,
      { s: { ...REPO, scheduleName: "nightly_revenue" }, j: { ...REPO, pipelineName: "nightly_revenue_job" } },
    );
    const s = expectType(scheduleOrError, "Schedule", "schedule nightly_revenue");
    const iso = (t: number | undefined) => (t === undefined ? "no tick" : new Date(t * 1000).toISOString());
    const shown = {
      job: s.pipelineName,
      cron: s.cronSchedule,
      timezone: s.executionTimezone,
      assets: assetNodes.map((n) => n.assetKey.path.join("/")),
      // 01:15 in Paris is 00:15 UTC in winter (CET) and 23:15 UTC the day before in summer (CEST).
      afterJan4Noon: iso(s.winter.results[0]?.timestamp),
      afterJul1Midnight: iso(s.summer.results[0]?.timestamp),
    };
    expect(shown, "nightly_revenue as dagster dev shows it").toEqual({
      job: "nightly_revenue_job",
      cron: "15 1 * * *",
      timezone: "Europe/Paris",
      assets: ["daily_revenue"],
      afterJan4Noon: "2024-01-05T00:15:00.000Z",
      afterJul1Midnight: "2024-07-01T23:15:00.000Z",
    });

    // The UI's "Test schedule" at the 2024-01-05 01:15 Paris tick.
    const { scheduleDryRun } = await gql<{
      scheduleDryRun: { __typename: string; evaluationResult?: { skipReason: string | null; error: { message: string; stack: string[]; cause: { message: string; stack: string[] } | null } | null; runRequests: { runKey: string | null; tags: { key: string; value: string }[] }[] | null } };
    }>(
      `mutation($s: ScheduleSelector!, $t: Float) { scheduleDryRun(selectorData: $s, timestamp: $t) { __typename
        ... on DryRunInstigationTick { evaluationResult { skipReason error { message } runRequests { runKey tags { key value } } } }
        ... on PythonError { message } } }`,
      { s: { ...REPO, scheduleName: "nightly_revenue" }, t: Date.parse("2024-01-05T00:15:00Z") / 1000 },
    );
    const tick = expectType(scheduleDryRun, "DryRunInstigationTick", "scheduleDryRun of nightly_revenue").evaluationResult!;
    expect(tick.error, "the schedule's evaluation error").toBeNull();
    expect(
      tick.runRequests?.map((r) => ({ runKey: r.runKey, partition: r.tags.find((t) => t.key === "dagster/partition")?.value })),
      "nightly_revenue's run requests at 2024-01-05 01:15 Paris",
    ).toEqual([{ runKey: "2024-01-04", partition: "2024-01-04" }]);
  });

  it("shows the sensor orders_landed, whose evaluation runs in Node and keeps Dagster's cursor", async () => {
    const { sensorOrError, assetNodes } = await gql<{ sensorOrError: { __typename: string; minIntervalSeconds: number; targets: { pipelineName: string }[] }; assetNodes: { assetKey: { path: string[] } }[] }>(
      `query($s: SensorSelector!, $j: PipelineSelector!) { sensorOrError(sensorSelector: $s) { __typename ... on Sensor { minIntervalSeconds targets { pipelineName } } }
        assetNodes(pipeline: $j) { assetKey { path } } }`,
      { s: { ...REPO, sensorName: "orders_landed" }, j: { ...REPO, pipelineName: "orders_landed_job" } },
    );
    const s = expectType(sensorOrError, "Sensor", "sensor orders_landed");
    expect({ interval: s.minIntervalSeconds, jobs: s.targets.map((t) => t.pipelineName), assets: assetNodes.map((n) => n.assetKey.path.join("/")).sort() }, "orders_landed's interval, job and its assets").toEqual({
      interval: 60,
      jobs: ["orders_landed_job"],
      assets: ["customer_metrics", "published_metrics"],
    });

    // The UI's "Test sensor", first with no cursor, then with the cursor it returned.
    const dryRun = async (cursor: string | null) => {
      const { sensorDryRun } = await gql<{
        sensorDryRun: {
          __typename: string;
          evaluationResult?: { skipReason: string | null; cursor: string | null; error: { message: string; stack: string[]; cause: { message: string; stack: string[] } | null } | null; runRequests: { runKey: string | null; assetSelection: { path: string[] }[] | null }[] | null };
        };
      }>(
        `mutation($s: SensorSelector!, $c: String) { sensorDryRun(selectorData: $s, cursor: $c) { __typename
          ... on DryRunInstigationTick { evaluationResult { skipReason cursor error { message stack cause { message stack } } runRequests { runKey assetSelection { path } } } }
          ... on PythonError { message } } }`,
        { s: { ...REPO, sensorName: "orders_landed" }, c: cursor },
      );
      const r = expectType(sensorDryRun, "DryRunInstigationTick", `sensorDryRun of orders_landed (cursor ${cursor})`).evaluationResult!;
      // The whole error (its cause is the Node side's message) when it fails.
      expect(r.error && `${r.error.message}${r.error.stack.join("")}\n${r.error.cause?.message ?? ""}${r.error.cause?.stack.join("") ?? ""}`, `the sensor's evaluation error (cursor ${cursor})`).toBeNull();
      return {
        skip: r.skipReason,
        cursor: r.cursor,
        runs: (r.runRequests ?? []).map((q) => ({ runKey: q.runKey, assets: q.assetSelection?.map((k) => k.path.join("/")).sort() })),
      };
    };
    expect(await dryRun(null), "orders_landed with two drops and no cursor").toEqual({
      skip: null,
      cursor: "2024-01-05.csv",
      runs: [{ runKey: "2024-01-05.csv", assets: ["customer_metrics", "published_metrics"] }],
    });
    expect(await dryRun("2024-01-05.csv"), "orders_landed with nothing new after its cursor").toEqual({ skip: "no new orders drop", cursor: "2024-01-05.csv", runs: [] });
  });

  it("materializes orders, customers and customer_metrics from the UI, with row counts, the passing check and Baton's bytes", async () => {
    const run = await launchAndWait(["orders", "customers", "customer_metrics"]);
    expect(run.assetMaterializations.map((m) => m.assetKey.path.join("/")).sort(), "assets materialized by the run").toEqual(["customer_metrics", "customers", "orders"]);
    for (const id of ["orders", "customers", "customer_metrics"]) {
      const { meta } = materializationOf(run, id);
      expect(meta["dagster/row_count"], `${id}: dagster/row_count`).toBe(String(embedded.metrics.assets[id]!.materializations[0]!.metadata.rowCount));
      expect(meta["baton/content_hash"], `${id}: baton/content_hash equals the embedded executor's`).toBe(embeddedHash(embedded.metrics, id));
      expect(String(meta["baton/path"]).startsWith(storage + "/"), `${id}: baton/path ${meta["baton/path"]} is in BATON_STORAGE ${storage}`).toBe(true);
    }
    expect(materializationOf(run, "customer_metrics").meta["dagster/row_count"]).toBe("1000");
    expect(materializationOf(run, "orders").meta["dagster/row_count"]).toBe(ROWS);

    const evaluations = run.eventConnection.events.filter((e) => e.__typename === "AssetCheckEvaluationEvent").map((e) => e.evaluation);
    // The inline check in customer_metrics' step; the standalone one (orders, reading customers) in an op of its own.
    expect(evaluations.sort((a, b) => (a?.checkName ?? "").localeCompare(b?.checkName ?? "")), "asset check evaluations in the run").toEqual([
      { checkName: "orders_have_customers", success: true, severity: "ERROR", assetKey: { path: ["orders"] } },
      { checkName: "spend_is_positive", success: true, severity: "ERROR", assetKey: { path: ["customer_metrics"] } },
    ]);

    // What the asset page shows afterwards: the latest materialization, its data version and check.
    const { assetNodes } = await gql<{
      assetNodes: { dataVersion: string | null; assetMaterializations: { runId: string }[]; assetCheckOrError: { __typename: string; executionForLatestMaterialization?: { runId: string; status: string } | null } }[];
    }>(
      `{ assetNodes(assetKeys: [{ path: ["customer_metrics"] }]) { dataVersion assetMaterializations(limit: 1) { runId }
        assetCheckOrError(checkName: "spend_is_positive") { __typename ... on AssetCheck { executionForLatestMaterialization { runId status } } } } }`,
    );
    const node = assetNodes[0]!;
    expect({
      dataVersion: node.dataVersion,
      latestRun: node.assetMaterializations[0]?.runId,
      check: expectType(node.assetCheckOrError, "AssetCheck", "customer_metrics' check spend_is_positive").executionForLatestMaterialization,
    }).toEqual({ dataVersion: embeddedHash(embedded.metrics, "customer_metrics"), latestRun: run.runId, check: { runId: run.runId, status: "SUCCEEDED" } });
  });

  it("materializes one daily_revenue partition from the UI (reading orders from the previous run)", async () => {
    const run = await launchAndWait(["daily_revenue"], [{ key: "dagster/partition", value: "2024-01-03" }]);
    const { partition, meta } = materializationOf(run, "daily_revenue");
    expect({ partition, rows: meta["dagster/row_count"], hash: meta["baton/content_hash"] }, "daily_revenue [2024-01-03]").toEqual({
      partition: "2024-01-03",
      rows: String(embedded.revenue.assets.daily_revenue!.materializations[0]!.metadata.rowCount),
      hash: embeddedHash(embedded.revenue, "daily_revenue"),
    });
    const { assetNodes } = await gql<{ assetNodes: { partitionStats: { numMaterialized: number; numPartitions: number; numFailed: number } | null }[] }>(
      `{ assetNodes(assetKeys: [{ path: ["daily_revenue"] }]) { partitionStats { numMaterialized numPartitions numFailed } } }`,
    );
    expect(assetNodes[0]?.partitionStats, "daily_revenue's partition stats").toEqual({ numMaterialized: 1, numPartitions: 31, numFailed: 0 });
  });
});
