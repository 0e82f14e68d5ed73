import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LocalIOStore } from "@baton/core";
import { freePort, processAlive, waitFor } from "@baton/testing";
import { buildProject, dagsterEnv, fixtureProject, type DagsterProject } from "./__tests__/dagster-harness.js";
import { expectType, REPO, startDagsterDev, stopGroup, type DagsterDev } from "./__tests__/dagster-dev.js";

// What Dagster itself records for the native mappings of issue 12, through `dagster dev` and its
// GraphQL API (what the UI shows): blocking and non-blocking checks, a check run on its own (the
// UI's "Execute check"), a backfill run per partition, a pool limit, the step launcher's timeout
// and code references. One `dagster dev` for the file; runs are launched as the UI launches them.

const fixture = fileURLToPath(new URL("./__tests__/native-definitions.mjs", import.meta.url));
// Generous: on a loaded 2-core machine a run of a few steps has taken over 3 minutes.
const RUN_MS = 420_000;
const SOURCE_URL = "https://git.example.test/acme/data/blob/main";
vi.setConfig({ testTimeout: RUN_MS + 60_000 });

let dev: DagsterDev | undefined;
let project: DagsterProject;
let home: string;
let controlDir: string;
let store: LocalIOStore;

/**
 * The webserver (uvicorn) closes idle keep-alive connections; a request sent on one as it closes
 * fails with "other side closed" before the server read it: sent again once.
 */
async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  try {
    return await dev!.gql<T>(query, variables);
  } catch (e) {
    if ((e as { cause?: { code?: string } }).cause?.code !== "UND_ERR_SOCKET") throw e;
    return dev!.gql<T>(query, variables);
  }
}

interface Entry {
  label: string;
  intRepr?: string;
  text?: string;
  jsonString?: string;
  codeReferences?: { __typename: string; url?: string; filePath?: string; lineNumber?: number; label?: string }[];
}
interface Evaluation {
  checkName: string;
  success: boolean;
  severity: string;
  partition: string | null;
  assetKey: { path: string[] };
}
interface RunInfo {
  runId: string;
  status: string;
  tags: { key: string; value: string }[];
  stepStats: { stepKey: string; status: string | null; startTime: number | null; endTime: number | null }[];
  assetMaterializations: { assetKey: { path: string[] }; partition: string | null; tags: { key: string; value: string }[]; metadataEntries: Entry[] }[];
  eventConnection: { events: { __typename: string; stepKey?: string | null; message?: string; error?: { message: string } | null; evaluation?: Evaluation }[] };
}

const ENTRY = `label ... on IntMetadataEntry { intRepr } ... on TextMetadataEntry { text } ... on JsonMetadataEntry { jsonString }
  ... on CodeReferencesMetadataEntry { codeReferences { __typename ... on UrlCodeReference { url label } ... on LocalFileCodeReference { filePath lineNumber label } } }`;
const RUN_FIELDS = `runId status tags { key value } stepStats { stepKey status startTime endTime }
  assetMaterializations { assetKey { path } partition tags { key value } metadataEntries { ${ENTRY} } }
  eventConnection(limit: 5000) { events { __typename ... on StepEvent { stepKey } ... on MessageEvent { message }
    ... on ExecutionStepFailureEvent { error { message } }
    ... on AssetCheckEvaluationEvent { evaluation { checkName success severity partition assetKey { path } } } } }`;

async function runById(runId: string): Promise<RunInfo> {
  const { runOrError } = await gql<{ runOrError: RunInfo & { __typename: string } }>(`query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { ${RUN_FIELDS} } } }`, { id: runId });
  return expectType(runOrError, "Run", `run ${runId}`);
}

async function finished(runId: string): Promise<RunInfo> {
  return waitFor(
    async () => {
      const run = await runById(runId);
      return ["SUCCESS", "FAILURE", "CANCELED"].includes(run.status) ? run : undefined;
    },
    { timeoutMs: RUN_MS, intervalMs: 1_000, what: `run ${runId} to finish` },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n--- dagster dev (tail) ---\n${dev?.log().slice(-6000)}`);
  });
}

/**
 * launchRun as the UI's "Materialize" (assets and their checks) and "Execute check" (checks, no
 * asset) buttons send it. Without `assetCheckSelection` a GraphQL run selects no check.
 */
async function launch(assets: string[], checks: { asset: string; name: string }[] = []): Promise<RunInfo> {
  const { launchRun } = await gql<{ launchRun: { __typename: string; run?: { runId: string }; message?: string; errors?: unknown } }>(
    `mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
      ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } ... on InvalidSubsetError { message }
      ... on RunConfigValidationInvalid { errors { message } } } }`,
    {
      p: {
        selector: {
          ...REPO,
          jobName: "__ASSET_JOB",
          assetSelection: assets.map((a) => ({ path: a.split("/") })),
          assetCheckSelection: checks.map((c) => ({ assetKey: { path: c.asset.split("/") }, name: c.name })),
        },
        runConfigData: {},
      },
    },
  );
  return finished(expectType(launchRun, "LaunchRunSuccess", `launchRun of ${[...assets, ...checks.map((c) => `${c.asset}:${c.name}`)].join(", ")}`).run!.runId);
}

interface CheckOnly {
  materialized: RunInfo;
  stored: { contentHash: string } | undefined;
  passed: RunInfo;
  failed: RunInfo;
  standalone: RunInfo;
}

const evaluations = (run: RunInfo) => run.eventConnection.events.flatMap((e) => (e.evaluation ? [e.evaluation] : []));
const step = (run: RunInfo, key: string) => run.stepStats.find((s) => s.stepKey === key);
const entries = (list: Entry[]) => Object.fromEntries(list.map((e) => [e.label, e.intRepr ?? e.text ?? e.jsonString ?? e.codeReferences]));
const failures = (run: RunInfo) => run.eventConnection.events.filter((e) => e.__typename === "ExecutionStepFailureEvent").map((e) => `${e.message ?? ""} ${e.error?.message ?? ""}`).join("\n");
const setting = (name: string, value: number) => writeFileSync(join(controlDir, name), String(value));

async function backfill(assets: string[], partitionNames: string[]): Promise<RunInfo[]> {
  const { launchPartitionBackfill } = await gql<{ launchPartitionBackfill: { __typename: string; backfillId?: string; message?: string } }>(
    `mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) { __typename
      ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } ... on InvalidSubsetError { message } } }`,
    { p: { assetSelection: assets.map((a) => ({ path: a.split("/") })), partitionNames, fromFailure: false } },
  );
  const backfillId = expectType(launchPartitionBackfill, "LaunchBackfillSuccess", "launchPartitionBackfill").backfillId!;
  const done = await waitFor(
    async () => {
      const { partitionBackfillOrError: b } = await gql<{ partitionBackfillOrError: { status: string; runs: { runId: string; status: string }[] } }>(
        `query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status runs(limit: 10) { runId status } } } }`,
        { id: backfillId },
      );
      return b.runs.length === partitionNames.length && b.runs.every((r) => ["SUCCESS", "FAILURE", "CANCELED"].includes(r.status)) ? b : undefined;
    },
    { timeoutMs: RUN_MS * 2, intervalMs: 1_000, what: `backfill ${backfillId}: a finished run per partition` },
  );
  return Promise.all(done.runs.map((r) => runById(r.runId)));
}

async function rangeRun(asset: string, start: string, end: string): Promise<RunInfo> {
  const { launchRun } = await gql<{ launchRun: { __typename: string; run?: { runId: string } } }>(
    `mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename ... on LaunchRunSuccess { run { runId } } } }`,
    {
      p: {
        selector: { ...REPO, jobName: "__ASSET_JOB", assetSelection: [{ path: [asset] }] },
        executionMetadata: { tags: [{ key: "dagster/asset_partition_range_start", value: start }, { key: "dagster/asset_partition_range_end", value: end }] },
        runConfigData: {},
      },
    },
  );
  return finished(expectType(launchRun, "LaunchRunSuccess", "launchRun of a range").run!.runId);
}

/** Started together once `dagster dev` is up, so the file's runs share the wall-clock time; each test awaits its own. */
const pending: Record<string, Promise<unknown>> = {};
function start<T>(name: string, run: () => Promise<T>): Promise<T> {
  const promise = run();
  promise.catch(() => undefined); // awaited (and reported) by its test
  pending[name] = promise;
  return promise;
}
const result = <T>(name: string) => pending[name] as Promise<T>;

beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), "baton-dagster-native-"));
  home = join(root, "dagster-home");
  controlDir = join(root, "control");
  const storage = join(root, "storage");
  for (const d of [home, controlDir, storage]) mkdirSync(d, { recursive: true });
  // Inside the project root, as a user's source is: the manifest then knows each asset's file and line.
  const definitions = join(fixtureProject(), "src", "native-definitions.mjs");
  mkdirSync(join(fixtureProject(), "src"), { recursive: true });
  copyFileSync(fixture, definitions);
  project = await buildProject(definitions, join(root, "project"));
  store = new LocalIOStore(storage);
  const env = { DAGSTER_HOME: home, BATON_STORAGE: storage, NATIVE_CONTROL_DIR: controlDir, BATON_SOURCE_URL: SOURCE_URL };
  // The limit `baton dagster build` prints for the warehouse pool, set before the instance serves runs; open has none.
  execFileSync(dagsterEnv().bin("dagster"), ["instance", "concurrency", "set", "warehouse", "1"], { env: { ...process.env, DAGSTER_HOME: home }, encoding: "utf8" });
  dev = await startDagsterDev(project, env, await freePort(), (started) => {
    dev = started;
  });
  start("blocking", () => launch(["blocked", "after_blocked", "soft", "after_soft"], [{ asset: "blocked", name: "never" }, { asset: "soft", name: "tiny" }]));
  start("checkOnly", async () => {
    const materialized = await launch(["gate", "limits"], [{ asset: "gate", name: "under_limit" }, { asset: "gate", name: "under_strict" }, { asset: "gate", name: "under_limits" }]);
    const stored = await store.readRecord(["gate"], undefined);
    // A compute would now store 1000 and fail both checks; the stored 5 passes under_limit only.
    setting("gate-value", 1_000);
    setting("strict", 1);
    const [passed, failed, standalone] = await Promise.all([
      launch([], [{ asset: "gate", name: "under_limit" }]),
      launch([], [{ asset: "gate", name: "under_strict" }]),
      launch([], [{ asset: "gate", name: "under_limits" }]),
    ]);
    return { materialized, stored, passed, failed, standalone };
  });
  start("backfill", () => backfill(["days"], ["2024-01-01", "2024-01-02", "2024-01-03"]));
  start("range", () => rangeRun("days", "2024-01-03", "2024-01-04"));
  start("wedged", () => launch(["wedged"]));
  start("poolFree", () => launch(["open_a", "open_b"]));
  start("poolLimited", () => launch(["pool_a", "pool_b"]));
}, 600_000);

afterAll(async () => {
  if (dev) await stopGroup(dev.child);
  if (controlDir) rmSync(controlDir, { recursive: true, force: true });
}, 120_000);

describe("asset checks", () => {
  it("an error check blocks: when it fails Dagster skips the step downstream; a failed warn check does not", async () => {
    const run = await result<RunInfo>("blocking");
    expect(run.status).toBe("FAILURE");
    expect(evaluations(run).sort((a, b) => a.checkName.localeCompare(b.checkName))).toEqual([
      { checkName: "never", success: false, severity: "ERROR", partition: null, assetKey: { path: ["blocked"] } },
      { checkName: "tiny", success: false, severity: "WARN", partition: null, assetKey: { path: ["soft"] } },
    ]);
    // Dagster's executor never starts a step whose upstream step failed (it logs no event for it).
    expect(run.eventConnection.events.filter((e) => e.stepKey === "after"), "events of the step downstream of the failed blocking check").toEqual([]);
    expect(step(run, "after_soft")?.status, "the step downstream of the failed warn check").toBe("SUCCESS");
    expect(run.assetMaterializations.map((m) => m.assetKey.path.join("/")).sort()).toEqual(["after_soft", "blocked", "soft"]);
  });

  it("Dagster's asset graph says which checks block", async () => {
    const { assetNodes } = await gql<{ assetNodes: { assetChecksOrError: { checks?: { name: string; blocking: boolean }[] } }[] }>(
      `{ assetNodes(assetKeys: [{ path: ["blocked"] }, { path: ["soft"] }]) { assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }`,
    );
    const blocking = Object.fromEntries(assetNodes.flatMap((n) => n.assetChecksOrError.checks ?? []).map((c) => [c.name, c.blocking]));
    expect(blocking).toEqual({ never: true, tiny: false });
  });

  it("a check runs on its own against the stored output (the UI's Execute check): no compute, no materialization", async () => {
    const { materialized, stored, passed, failed } = await result<CheckOnly>("checkOnly");
    expect(materialized.status, failures(materialized)).toBe("SUCCESS");
    expect(passed.status, failures(passed)).toBe("SUCCESS");
    expect(evaluations(passed)).toEqual([{ checkName: "under_limit", success: true, severity: "ERROR", partition: null, assetKey: { path: ["gate"] } }]);
    expect(passed.assetMaterializations).toEqual([]);
    expect(evaluations(failed)).toEqual([{ checkName: "under_strict", success: false, severity: "ERROR", partition: null, assetKey: { path: ["gate"] } }]);
    expect(failed.assetMaterializations).toEqual([]);
    // The check step fails after recording the evaluation: Baton's Failure (core's CHECK_FAILED),
    // raised before Dagster's own blocking-check error would be (execute_step.py).
    expect(step(failed, "gate")?.status).toBe("FAILURE");
    expect(failures(failed)).toMatch(/gate: BatonError: asset "gate": asset check "under_strict" failed \(severity error\)/);
    expect((await store.readRecord(["gate"], undefined))?.contentHash, "the stored output was rewritten").toBe(stored?.contentHash);
  });
});

describe("a standalone check (assetCheck)", () => {
  it("is an asset check of its own op, downstream of its target and its input in Dagster's asset graph, not blocking", async () => {
    const { assetNodes } = await gql<{ assetNodes: { assetChecksOrError: { checks?: { name: string; blocking: boolean; additionalAssetKeys: { path: string[] }[]; canExecuteIndividually: string }[] } }[] }>(
      `{ assetNodes(assetKeys: [{ path: ["gate"] }]) { assetChecksOrError { ... on AssetChecks { checks { name blocking additionalAssetKeys { path } canExecuteIndividually } } } } }`,
    );
    const checks = Object.fromEntries((assetNodes[0]?.assetChecksOrError.checks ?? []).map((c) => [c.name, c]));
    expect(checks.under_limits).toEqual({ name: "under_limits", blocking: false, additionalAssetKeys: [{ path: ["limits"] }], canExecuteIndividually: "CAN_EXECUTE" });
    expect(checks.under_limit?.additionalAssetKeys).toEqual([]);
  });

  it("runs in its own step after its target and its input when they materialize, and alone on what they stored", async () => {
    const { materialized, standalone } = await result<CheckOnly>("checkOnly");
    const ran = (run: RunInfo) => run.stepStats.filter((s) => s.stepKey === "gate_under_limits");
    const [own] = ran(materialized);
    expect(own?.status, failures(materialized)).toBe("SUCCESS");
    expect(own!.startTime!, "the check's step starts after its target's (and its input's) step ended").toBeGreaterThanOrEqual(step(materialized, "gate")!.endTime!);
    expect(evaluations(materialized).find((e) => e.checkName === "under_limits")).toEqual({ checkName: "under_limits", success: true, severity: "ERROR", partition: null, assetKey: { path: ["gate"] } });
    expect(standalone.status, failures(standalone)).toBe("SUCCESS");
    expect(standalone.stepStats.map((s) => s.stepKey)).toEqual(["gate_under_limits"]);
    expect(evaluations(standalone)).toEqual([{ checkName: "under_limits", success: true, severity: "ERROR", partition: null, assetKey: { path: ["gate"] } }]);
    expect(standalone.assetMaterializations).toEqual([]);
  });
});

describe("a backfill", () => {
  it("is one run per partition: a bad day fails its own run, every other day has its own row count, data version and check", async () => {
    const days = ["2024-01-01", "2024-01-02", "2024-01-03"];
    const runs = await result<RunInfo[]>("backfill");
    // An asset backfill's run for one partition is tagged as a range of one key.
    const tag = (r: RunInfo, key: string) => r.tags.find((t) => t.key === key)?.value;
    const byDay = new Map(runs.map((r) => [tag(r, "dagster/partition") ?? tag(r, "dagster/asset_partition_range_start"), r]));
    expect([...byDay.keys()].sort()).toEqual(days);
    expect(days.map((d) => byDay.get(d)!.status)).toEqual(["SUCCESS", "FAILURE", "SUCCESS"]);
    expect(failures(byDay.get("2024-01-02")!)).toContain("2024-01-02 is a bad day");
    for (const [day, rows] of [["2024-01-01", 1], ["2024-01-03", 3]] as const) {
      const run = byDay.get(day)!;
      const [m, ...more] = run.assetMaterializations;
      expect(more, `one materialization in the run of ${day}`).toEqual([]);
      const record = await store.readRecord(["days"], day);
      expect({ partition: m!.partition, rows: entries(m!.metadataEntries)["dagster/row_count"], version: m!.tags.find((t) => t.key === "dagster/data_version")?.value }).toEqual({
        partition: day,
        rows: String(rows),
        version: record?.contentHash,
      });
      expect(evaluations(run)).toEqual([{ checkName: "has_rows", success: true, severity: "ERROR", partition: day, assetKey: { path: ["days"] } }]);
    }
  });

  it("a range run (one run over several days) records each day's own row count and a check evaluation per day", async () => {
    const run = await result<RunInfo>("range");
    expect(run.status, failures(run)).toBe("SUCCESS");
    const rows = Object.fromEntries(run.assetMaterializations.map((m) => [m.partition, entries(m.metadataEntries)["dagster/row_count"]]));
    expect(rows).toEqual({ "2024-01-03": "3", "2024-01-04": "4" });
    expect(evaluations(run).map((e) => `${e.checkName}:${e.partition}:${e.success}`).sort()).toEqual(["has_rows:2024-01-03:true", "has_rows:2024-01-04:true"]);
  });
});

describe("a pool", () => {
  it("two ops of a pool without an instance limit overlap; two of a pool limited by `dagster instance concurrency set warehouse 1` never do", async () => {
    const interval = (run: RunInfo, key: string) => {
      const s = step(run, key)!;
      return [s.startTime!, s.endTime!] as const;
    };
    const overlaps = (run: RunInfo, [x, y]: [string, string]) => {
      const [a, b] = [interval(run, x), interval(run, y)];
      return a[0] < b[1] && b[0] < a[1];
    };
    const [free, limited] = await Promise.all([result<RunInfo>("poolFree"), result<RunInfo>("poolLimited")]);
    expect(free.status).toBe("SUCCESS");
    expect(overlaps(free, ["open_a__pool_open", "open_b__pool_open"]), "without a limit, the multiprocess executor runs both at once").toBe(true);
    expect(limited.status).toBe("SUCCESS");
    expect(overlaps(limited, ["pool_a__pool_warehouse", "pool_b__pool_warehouse"]), "with limit 1, Dagster ran both at once").toBe(false);
    const seen = (k: string) => store.read([k], undefined).then(({ frame }) => frame.getColumn("overlapped").toArray());
    expect(await Promise.all(["open_a", "open_b", "pool_a", "pool_b"].map(seen)), "which computes saw the other running").toEqual([[1], [1], [0], [0]]);
  });

  it("is the op's pool in Dagster's asset graph", async () => {
    const { assetNodes } = await gql<{ assetNodes: { pools: string[] }[] }>(`{ assetNodes(assetKeys: [{ path: ["pool_a"] }]) { pools } }`);
    expect(assetNodes[0]?.pools).toEqual(["warehouse"]);
  });
});

describe("timeoutSeconds", () => {
  it("a Node step that cannot stop itself (SIGSTOPped) is killed by the step launcher, and the step says it timed out", async () => {
    const run = await result<RunInfo>("wedged");
    expect(run.status).toBe("FAILURE");
    expect(failures(run)).toMatch(/timed out after 12 s/);
    const pid = Number(readFileSync(join(controlDir, "wedged.pid"), "utf8"));
    expect(processAlive(pid), "the stopped Node process is still there").toBe(false);
    expect(await store.readRecord(["wedged"], undefined)).toBeUndefined();
  });
});

describe("the asset graph", () => {
  it("shows kinds as stored and a code reference to each asset's TypeScript source", async () => {
    const { assetNodes } = await gql<{ assetNodes: { assetKey: { path: string[] }; kinds: string[]; metadataEntries: Entry[] }[] }>(
      `{ assetNodes(assetKeys: [{ path: ["gate"] }]) { assetKey { path } kinds metadataEntries { ${ENTRY} } } }`,
    );
    const gate = assetNodes[0]!;
    expect(gate.kinds.sort()).toEqual(["parquet", "typescript"]);
    // Where core says asset() was called (the manifest's source), as a link under BATON_SOURCE_URL.
    const manifest = JSON.parse(readFileSync(join(project.outDir, "baton", "manifest.json"), "utf8")) as { assets: { id: string; source: { file: string; line: number } }[] };
    const { file, line } = manifest.assets.find((a) => a.id === "gate")!.source;
    expect(file).toBe("src/native-definitions.mjs");
    const references = entries(gate.metadataEntries)["dagster/code_references"] as Entry["codeReferences"];
    // The first is Baton's; dg's component loader adds one to the component's defs.yaml.
    expect(references?.[0]).toEqual({ __typename: "UrlCodeReference", url: `${SOURCE_URL}/${file}#L${line}`, label: `${file}:${line}` });
  });
});
