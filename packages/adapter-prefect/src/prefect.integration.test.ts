import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalIOStore } from "@baton/core";
import { controlFile, describeConformance, makeHarnessEnvironment, processAlive, startIcebergCatalog, startMoto, startedMarker, waitFor, type IcebergCatalogServer, type MotoServer } from "@baton/testing";
import { ICEBERG_CATALOG, ICEBERG_DAILY, ORDER_COUNT, ORDER_COUNT_DOWNSTREAM, STANDALONE_CHECKS } from "@baton/testing/fixtures";
import { PREFECT_CAPABILITIES, prefectHarness, type DriverRun } from "./__tests__/prefect/harness.js";
import { expectedPullSteps } from "./__tests__/prefect/pull-steps.js";
import { prefectServerPerFile } from "./__tests__/prefect/server-per-file.js";

/*
 * Against a real Prefect 3.9.1 server on loopback (one per file: start-up is slow on two cores),
 * from the pinned virtual environment. Nothing here skips: no uv, no PyPI or no server is a failure.
 */
const perFile = prefectServerPerFile("baton-prefect-server-");

/** The parent of process `pid` (field 4 of /proc/<pid>/stat, after the command in parentheses). */
const parentPid = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);

/**
 * The Prefect engine process of a flow run that `prefect flow-run execute` (pid `supervisor`) runs:
 * its child (prefect/cli/flow_run.py starts the engine as a process). Not the Node step's parent: a
 * warm worker is nobody's child of this run.
 */
function enginePid(supervisor: number): number {
  const children = readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => {
      try {
        return parentPid(pid) === supervisor;
      } catch {
        return false; // it ended meanwhile
      }
    });
  if (children.length !== 1) throw new Error(`prefect flow-run execute (pid ${supervisor}) has ${children.length} child processes, not one engine: ${children.join(", ")}`);
  return children[0]!;
}

const options = { python: perFile.python, server: perFile.server };


describeConformance("prefect", prefectHarness({ ...options, flowName: "baton-conformance" }), { capabilities: PREFECT_CAPABILITIES, timeoutMs: 300_000 });

// Each test waits on conditions (runs, events, processes) with deadlines for a loaded two-core machine.
describe("prefect: what a Prefect user sees", { timeout: 600_000 }, () => {
  const harness = prefectHarness({ ...options, flowName: "baton-fixtures" });
  const SALES = ["raw/orders", "raw/customers", "customer_metrics", "region_customers", "region_report", "audit_log"];

  // The fixtures' Iceberg catalog (resource "lake"): moto and a REST catalog of this file's own.
  let moto: MotoServer | undefined;
  let catalog: IcebergCatalogServer | undefined;

  beforeAll(async () => {
    moto = await startMoto();
    catalog = await startIcebergCatalog(moto);
    await harness.setup(makeHarnessEnvironment({ iceberg: catalog }));
  }, 600_000);
  afterAll(async () => {
    try {
      await harness.teardown();
    } finally {
      await catalog?.stop();
      await moto?.stop();
    }
  }, 120_000);

  it("the flow and task runs Prefect reports for a run equal the manifest's graph", async () => {
    const run = await harness.run({ assets: SALES });
    expect(run.status).toBe("success");
    expect(run.flowName).toBe("baton-fixtures");
    expect(Object.keys(run.assets).sort()).toEqual([...SALES].sort());
    const assetOfTaskRun = new Map(Object.entries(run.assets).map(([id, a]) => [a.taskRunId, id]));
    const reported = Object.entries(run.assets).flatMap(([id, a]) => (a.upstream ?? []).map((up) => `${assetOfTaskRun.get(up)} -> ${id}`)).sort();
    const manifest = harness.project().manifest;
    const expected = manifest.assets
      .filter((a) => SALES.includes(a.id))
      .flatMap((a) => [...new Set(a.deps.map((d) => d.id))].filter((up) => SALES.includes(up)).map((up) => `${up} -> ${a.id}`))
      .sort();
    expect(reported).toEqual(expected);
    expect(reported).toContain("customer_metrics -> audit_log");
  });

  it("each task emits a Prefect asset event with the materialization metadata", async () => {
    const assets = ["raw/orders", "raw/customers", "customer_metrics"];
    const run = await harness.run({ assets });
    const { events } = await harness.driver().request<{ events: { event: string; resource: Record<string, string>; related: Record<string, string>[]; payload: Record<string, unknown> }[] }>("events", {
      flowRunId: run.flowRunId,
      expected: 5,
    });
    const materialized = events.filter((e) => e.event === "prefect.asset.materialization.succeeded");
    // Each asset's key is its folder in the store (a file:// URI here), which Prefect groups by scheme.
    const key = (...parts: string[]) => `file://${[harness.environment().storageDir, ...parts].join("/")}`;
    expect(materialized.map((e) => e.resource["prefect.resource.id"]).sort()).toEqual([key("customer_metrics"), key("raw", "customers"), key("raw", "orders")]);
    const metrics = materialized.find((e) => e.resource["prefect.resource.name"] === "customer_metrics")!;
    const record = await new LocalIOStore(harness.environment().storageDir).readRecord(["customer_metrics"], undefined);
    expect(metrics.payload).toMatchObject({ row_count: record!.rowCount, content_hash: record!.contentHash, format: "parquet", code_version: "1" });
    expect(String(metrics.payload.path)).toContain("customer_metrics");
    expect(metrics.payload.schema).toEqual(record!.schema.map((c) => `${c.name}: ${c.type}`));
    expect(metrics.resource["prefect.resource.name"]).toBe("customer_metrics");
    const upstream = metrics.related.filter((r) => r["prefect.resource.role"] === "asset").map((r) => r["prefect.resource.id"]).sort();
    expect(upstream).toEqual([key("raw", "customers"), key("raw", "orders")]);
    expect(metrics.related.some((r) => r["prefect.resource.id"] === "baton" && r["prefect.resource.role"] === "asset-materialized-by")).toBe(true);
    const orders = materialized.find((e) => e.resource["prefect.resource.name"] === "raw/orders")!;
    expect(orders.resource["prefect.asset.owners"]).toBe('["team:data"]');
  });

  it("an Iceberg table output: the asset event names the table and the snapshot its record pins, the task log and the table artifact each commit", async () => {
    const day = ICEBERG_DAILY.days[0];
    const assets = [ICEBERG_DAILY.asset, ICEBERG_DAILY.downstream];
    const run = await harness.run({ assets, partitionKey: day });
    expect(run.status).toBe("success");
    const record = await new LocalIOStore(harness.environment().storageDir).readRecord([ICEBERG_DAILY.asset], day);
    const table = record!.table!;
    // Two materializations and the downstream's reference of its upstream.
    const { events } = await harness.driver().request<{ events: { event: string; resource: Record<string, string>; payload: Record<string, unknown> }[] }>("events", { flowRunId: run.flowRunId, expected: 3 });
    const payload = (asset: string) => events.find((e) => e.event === "prefect.asset.materialization.succeeded" && e.resource["prefect.resource.name"] === asset)!.payload;
    expect(payload(ICEBERG_DAILY.asset)).toMatchObject({
      format: "iceberg",
      path: null,
      table: ICEBERG_DAILY.table,
      snapshot_id: table.snapshotId,
      catalog: ICEBERG_CATALOG,
      partition_key: day,
      row_count: record!.rowCount,
      content_hash: record!.contentHash,
    });
    expect(payload(ICEBERG_DAILY.asset).table_location ?? null).toBe(table.location);
    // The downstream asset's output is a file: no table keys.
    expect(payload(ICEBERG_DAILY.downstream)).toMatchObject({ format: "parquet" });
    expect(Object.keys(payload(ICEBERG_DAILY.downstream))).not.toContain("snapshot_id");
    const line = `${ICEBERG_DAILY.asset} [${day}]: Iceberg table ${ICEBERG_DAILY.table} (catalog ${ICEBERG_CATALOG}) at snapshot ${table.snapshotId}, ${record!.rowCount} rows`;
    const { messages } = await harness.driver().request<{ messages: string[] }>("logs", { flowRunId: run.flowRunId, contains: line });
    expect(messages).toContain(line);
    const { artifacts } = await harness.driver().request<{ artifacts: { key: string; type: string; rows: unknown[] }[] }>("artifacts", { flowRunId: run.flowRunId });
    expect(artifacts.filter((a) => a.key.endsWith("-table"))).toEqual([
      {
        key: "iceberg-daily-events-table",
        type: "table",
        rows: [{ table: ICEBERG_DAILY.table, snapshot_id: table.snapshotId, partition_key: day, row_count: record!.rowCount, catalog: ICEBERG_CATALOG, format: "iceberg", location: table.location }],
      },
    ]);
  });

  it("a TypeScript failure fails the task with the TypeScript message and stack", async () => {
    const run = await harness.run({ assets: ["broken", "after_broken"] });
    expect(run.assets.broken?.state).toBe("Failed");
    expect(run.assets.broken?.error).toContain("TypeError: broken: this asset always fails");
    expect(run.assets.broken?.error).toMatch(/TypeScript stack:\n\s+at .*definitions\.[tj]s:\d+/);
    expect(run.assets.after_broken?.state).toBe("NotReady");
    expect(run.message).toContain("broken failed");
  });

  it("resource config comes from Prefect blocks and variables, and secrets reach no log, parameter or result", async () => {
    const token = harness.environment().env.FIXTURE_API_TOKEN!;
    const run = await harness.run({ assets: ["raw/orders", "raw/customers", "customer_metrics", "audit_log"] });
    expect(run.status).toBe("success");
    const audit = readFileSync(join(harness.environment().env.FIXTURE_AUDIT_DIR!, "audit.log"), "utf8");
    expect(audit).toContain(`via ${harness.environment().env.FIXTURE_API_URL} auth=yes`);
    const seen = await harness.driver().request<{ messages: string[]; parameters: unknown; taskParameters: string[] }>("logs", { flowRunId: run.flowRunId, contains: "audit recorded at" });
    expect(seen.messages.some((m) => m.includes(`audit recorded at ${harness.environment().env.FIXTURE_API_URL}`))).toBe(true);
    expect(JSON.stringify(seen)).not.toContain(token);
    expect(JSON.stringify(run)).not.toContain(token);
    expect(readFileSync(join(harness.project().outDir, "flows.py"), "utf8")).not.toContain(token);
    expect(readFileSync(join(harness.project().outDir, "baton", "manifest.json"), "utf8")).not.toContain(token);
  });

  it("sensor run keys start each target deployment run once, with the requested partition", async () => {
    const { mkdirSync, writeFileSync } = await import("node:fs");
    const dir = harness.environment().env.FIXTURE_LANDING_DIR!;
    mkdirSync(dir, { recursive: true });
    for (const day of ["2024-01-05", "2024-01-06"]) writeFileSync(join(dir, `events-${day}.ready`), "");
    type Tick = { runRequests: unknown[]; cursor: string | null; flowRuns: { id: string; parameters: Record<string, unknown>; key: string }[] };
    const first = await harness.driver().request<Tick>("sensor_tick", { name: "new_event_files", cursor: "2024-01-04" });
    const again = await harness.driver().request<Tick>("sensor_tick", { name: "new_event_files", cursor: "2024-01-04" });
    expect(first.flowRuns.map((f) => [f.key, f.parameters.partition_key])).toEqual([
      ["new_event_files:events:2024-01-05", "2024-01-05"],
      ["new_event_files:events:2024-01-06", "2024-01-06"],
    ]);
    expect(again.flowRuns.map((f) => f.id)).toEqual(first.flowRuns.map((f) => f.id));
    expect(first.cursor).toBe("2024-01-06");
  });

  it("a standalone check is a task run 'check <asset>:<name>' after its target's and input's task runs; a failed error one fails it and the flow run, blocking no asset", async () => {
    const { matchesOrders, failsOnPurpose } = STANDALONE_CHECKS;
    const run = await harness.run({ assets: ["raw/orders", ORDER_COUNT, ORDER_COUNT_DOWNSTREAM] });
    const named = (c: { asset: string; check: string }) => run.checkRuns.find((r) => r.name === `check ${c.asset}:${c.check}`);
    expect(named(matchesOrders)?.state).toBe("Completed");
    expect(named(failsOnPurpose)?.state).toBe("Failed");
    expect(run.checkRuns).toHaveLength(2); // the inline check runs in its asset's task
    // The run graph: the check waited for its target's task run and its input's.
    expect([...named(matchesOrders)!.upstream].sort()).toEqual([run.assets[ORDER_COUNT]!.taskRunId, run.assets["raw/orders"]!.taskRunId].sort());
    expect(run.assets[ORDER_COUNT_DOWNSTREAM]?.state).toBe("Completed");
    expect(run.state).toBe("Failed");
    expect(run.message).toContain(`check ${failsOnPurpose.asset}:${failsOnPurpose.check} failed`);
    expect(run.checks).toContainEqual({ asset: failsOnPurpose.asset, check: failsOnPurpose.check, passed: false, partitionKey: null });
    const logs = await harness.driver().request<{ messages: string[] }>("logs", { flowRunId: run.flowRunId, contains: `check ${failsOnPurpose.check} on` });
    expect(logs.messages).toContain(`check ${failsOnPurpose.check} on ${ORDER_COUNT} FAILED (severity error)`);
  });

  it("checks run alone are a run of the checks flow: only check task runs, nothing materialized", async () => {
    const { matchesOrders, oneRow } = STANDALONE_CHECKS;
    await harness.run({ assets: ["raw/orders", ORDER_COUNT] });
    const run = await harness.checks({ checks: [matchesOrders, oneRow] });
    expect(run.flowName).toBe("baton-fixtures-checks");
    expect(run.state).toBe("Completed");
    expect(run.checkRuns.map((r) => [r.name, r.state]).sort()).toEqual([
      [`check ${ORDER_COUNT}:${matchesOrders.check}`, "Completed"],
      [`check ${ORDER_COUNT}:${oneRow.check}`, "Completed"],
    ]);
    expect(run.assets).toEqual({});
    expect(run.materializations).toEqual([]);
    // A check that does not exist fails the flow run before any task, naming the asset's checks.
    const unknown = await harness.checks({ checks: [{ asset: ORDER_COUNT, check: "nope" }] });
    expect(unknown.state).toBe("Failed");
    expect(unknown.message).toContain(`has no check "nope"; its checks: ${oneRow.check}`);
    expect(unknown.checkRuns).toEqual([]);
  });

  it("a sensor deployment is applied with its schedule off, and applying the deployments again keeps what the user set", async () => {
    type States = { before: boolean[]; after: boolean[] };
    const on = await harness.driver().request<States>("sensor_schedule", { name: "new_event_files", active: true });
    expect(on).toEqual({ before: [false], after: [true] });
    const off = await harness.driver().request<States>("sensor_schedule", { name: "new_event_files", active: false });
    expect(off).toEqual({ before: [true], after: [false] });
  });

  /** A stand-in for `node`: prints these step events, then exits with `code` (a step as old cores ended it). */
  function fakeNode(name: string, events: readonly object[], code: number): string {
    const file = join(harness.environment().workDir, `${name}.sh`);
    const lines = events.map((e) => `printf '%s\\n' '@@baton:event ${JSON.stringify(e)}'`);
    writeFileSync(file, `#!/bin/sh\n${lines.join("\n")}\nexit ${code}\n`, { mode: 0o755 });
    return file;
  }

  it("the sensor's log lines (core's log events, before its tick) are the tick's flow run logs, at their level", async () => {
    const tick = { runRequests: [], cursor: "c1", skipReason: "nothing new" };
    const node = fakeNode(
      "sensor-logs",
      [
        { type: "log", level: "warning", message: "baton-sensor-log: the landing folder is slow", asset: null },
        { type: "log", level: "info", message: "baton-sensor-log: looked at 3 files", asset: null },
        { type: "tick", result: tick },
      ],
      0,
    );
    const seen = await harness.driver().request<{ skipReason: string; logs: { level: number; message: string }[]; recordsText: string }>("sensor_tick", { name: "new_event_files", cursor: null, env: { BATON_NODE: node } });
    expect(seen.skipReason).toBe("nothing new");
    const levels = Object.fromEntries(seen.logs.filter((l) => l.message.startsWith("baton-sensor-log:")).map((l) => [l.message, l.level]));
    // Python's levels, as Prefect records them (the API keeps the number).
    expect(levels).toEqual({ "baton-sensor-log: the landing folder is slow": 30, "baton-sensor-log: looked at 3 files": 20 });
    expect(seen.recordsText).toContain("baton-sensor-log: the landing folder is slow");
  });

  it("a step that exits 0 without step_end fails its task, and Prefect records no materialization for it", async () => {
    const node = fakeNode("exits-0-early", [{ type: "step_start", runId: "r", assets: ["raw/orders"], partitionKeys: [], retryNumber: 0 }, { type: "asset_start", asset: "raw/orders", partitionKey: null }], 0);
    const run = await harness.driver().request<DriverRun>("materialize", { assets: ["raw/orders"], env: { BATON_NODE: node } });
    expect(run.status).toBe("failure");
    expect(run.assets["raw/orders"]?.state).toBe("Failed");
    expect(run.assets["raw/orders"]?.error).toContain("ended before it finished");
    expect(run.materializations).toEqual([]);
    const { events } = await harness.driver().request<{ events: { event: string }[] }>("events", { flowRunId: run.flowRunId, expected: 1 });
    expect(events.map((e) => e.event)).not.toContain("prefect.asset.materialization.succeeded");
    expect(events.map((e) => e.event)).toContain("prefect.asset.materialization.failed");
  });

  it("a secret of an unmapped resource field (from the worker's environment) is masked in everything Prefect keeps, even when the step itself does not mask it", async () => {
    // `leaky` is mapped nowhere: FIXTURE_API_TOKEN comes from the worker's environment.
    const file = join(harness.environment().workDir, "prints-token.sh");
    const start = { type: "step_start", runId: "r", assets: ["secrets/teardown_throws"], partitionKeys: [], retryNumber: 0 };
    const failure = (text: string) => `{"type":"asset_failure","asset":"secrets/teardown_throws","partitionKey":null,"error":{"name":"Error","message":"${text}"}}`;
    writeFileSync(
      file,
      [
        "#!/bin/sh",
        `printf '%s\\n' '@@baton:event ${JSON.stringify(start)}'`,
        'echo "stdout token=$FIXTURE_API_TOKEN"',
        'echo "stderr token=$FIXTURE_API_TOKEN" >&2',
        `printf '%s\\n' "@@baton:event {\\"type\\":\\"log\\",\\"level\\":\\"info\\",\\"message\\":\\"log token=$FIXTURE_API_TOKEN\\",\\"asset\\":null}"`,
        `printf '%s\\n' "@@baton:event ${failure("teardown token=$FIXTURE_API_TOKEN").replaceAll('"', '\\"')}"`,
        "exit 1",
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const token = harness.environment().env.FIXTURE_API_TOKEN!;
    const run = await harness.driver().request<DriverRun>("materialize", { assets: ["secrets/teardown_throws"], env: { BATON_NODE: file } });
    expect(run.assets["secrets/teardown_throws"]?.error).toContain("teardown token=***");
    expect(run.recordsText).toContain("stdout token=***");
    expect(run.recordsText).toContain("stderr token=***");
    expect(run.recordsText).toContain("log token=***");
    expect(run.recordsText.includes(token), "the worker-environment secret reached Prefect").toBe(false);
    expect(JSON.stringify(run.assets).includes(token)).toBe(false);
  });

  it("a deterministic failure (exit 3) fails the task at once, despite the asset's retries", async () => {
    const error = { name: "BatonError", message: 'asset "flaky": FIXTURE_X is not set', code: "MISSING_ENV", retryable: false };
    const node = fakeNode(
      "exits-3",
      [
        { type: "step_start", runId: "r", assets: ["flaky"], partitionKeys: [], retryNumber: 0 },
        { type: "asset_failure", asset: "flaky", partitionKey: null, error },
        { type: "step_end", status: "failure", retryable: false, durationMs: 1 },
      ],
      3,
    );
    const run = await harness.driver().request<DriverRun>("materialize", { assets: ["flaky"], env: { BATON_NODE: node } });
    expect(run.assets.flaky?.state).toBe("Failed");
    expect(run.assets.flaky?.error).toContain("FIXTURE_X is not set");
    expect(run.assets.flaky?.attempts, "a deterministic failure was retried").toBe(1);
  });

  it("a Node that cannot start (exit 127) fails the task at once, despite the asset's retries", async () => {
    const run = await harness.driver().request<DriverRun>("materialize", { assets: ["flaky"], env: { BATON_NODE: "/nonexistent/bin/node" } });
    expect(run.status).toBe("failure");
    expect(run.assets.flaky?.state).toBe("Failed");
    expect(run.assets.flaky?.error).toContain("BATON_NODE");
    expect(run.assets.flaky?.attempts, "exit 127 was retried").toBe(1);
    expect(run.materializations).toEqual([]);
  });

  it("cancelling the flow run (prefect flow-run cancel) stops its Node step, retries nothing and ends the run Cancelled", async () => {
    const marker = startedMarker(harness.environment(), "truth/sleeper");
    rmSync(marker, { force: true });
    rmSync(controlFile(harness.environment().env.FIXTURE_CONTROL_DIR!, "truth/sleeper", "release"), { force: true });
    const run = await harness.run({ assets: ["truth/sleeper"], cancelAfterStart: "truth/sleeper" });
    expect(run.state).toBe("Cancelled");
    expect(run.status).toBe("failure");
    expect(run.assets["truth/sleeper"]?.status).not.toBe("success");
    expect(run.assets["truth/sleeper"]?.attempts ?? 0).toBeLessThanOrEqual(1);
    expect(run.materializations).toEqual([]);
    const node = Number(readFileSync(marker, "utf8").trim());
    await waitFor(() => !processAlive(node), { what: `the cancelled step's Node process ${node} to exit` });
    expect(await new LocalIOStore(harness.environment().storageDir).readRecord(["truth", "sleeper"], undefined)).toBeUndefined();
  });

  it("a SIGTERM to the flow-run process alone (how `serve` stops a run) stops its Node step, which commits nothing", async () => {
    const env = harness.environment();
    const marker = startedMarker(env, "truth/sleeper");
    const release = controlFile(env.env.FIXTURE_CONTROL_DIR!, "truth/sleeper", "release");
    rmSync(marker, { force: true });
    rmSync(release, { force: true });
    const started = await harness.driver().request<{ flowRunId: string; pid: number }>("start_run", { assets: ["truth/sleeper"], logFile: join(env.workDir, "sigterm-run.log") });
    await waitFor(() => existsSync(marker), { what: `truth/sleeper to start in flow run ${started.flowRunId}` });
    // The step's process: its own Node process, or the warm worker running it (which exits after a cancelled step).
    const node = Number(readFileSync(marker, "utf8").trim());
    const engine = enginePid(started.pid);
    process.kill(engine, "SIGTERM");
    try {
      await waitFor(() => !processAlive(node), { what: `Node step ${node} to stop after its flow-run process ${engine} got SIGTERM` });
    } finally {
      writeFileSync(release, ""); // a step still running would now commit
      await harness.driver().request<DriverRun>("finish_run", { assets: ["truth/sleeper"], flowRunId: started.flowRunId });
      rmSync(release, { force: true });
    }
    expect(await new LocalIOStore(env.storageDir).readRecord(["truth", "sleeper"], undefined), "truth/sleeper committed after its process was told to stop").toBeUndefined();
  });

  it("a killed flow-run process does not leave its Node step running, even with its supervisor gone", async () => {
    const marker = startedMarker(harness.environment(), "truth/sleeper");
    rmSync(marker, { force: true });
    const started = await harness.driver().request<{ flowRunId: string; pid: number }>("start_run", { assets: ["truth/sleeper"], logFile: join(harness.environment().workDir, "killed-run.log") });
    await waitFor(() => existsSync(marker), { what: `truth/sleeper to start in flow run ${started.flowRunId}` });
    const node = Number(readFileSync(marker, "utf8").trim());
    const parent = enginePid(started.pid);
    // First the supervisor (`prefect flow-run execute`, which would clean its process group up), then
    // the Prefect engine process that runs the task: only the step runner itself can stop Node now
    // (a Node step watches its parent; a warm worker sees its client's connection end).
    process.kill(started.pid, "SIGKILL");
    process.kill(parent, "SIGKILL");
    try {
      await waitFor(() => !processAlive(node), { what: `Node step ${node} to exit after its Python parent ${parent} was killed` });
    } finally {
      if (processAlive(node)) process.kill(node, "SIGKILL");
      await harness.driver().request("abandon_run", { flowRunId: started.flowRunId });
    }
  });

  it("prefect.yaml deploys the same deployments with the Prefect CLI", async () => {
    const prefect = join(dirname(perFile.python()), "prefect");
    const env = { ...process.env, ...perFile.server().env };
    const cwd = harness.project().outDir;
    execFileSync(prefect, ["work-pool", "create", "baton", "--type", "process", "--overwrite"], { cwd, env, stdio: "pipe" });
    execFileSync(prefect, ["--no-prompt", "deploy", "--all"], { cwd, env, stdio: "pipe" });
    const response = await fetch(`${perFile.server().apiUrl}/deployments/filter`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ work_pools: { name: { any_: ["baton"] } } }) });
    const deployed = (await response.json()) as { name: string; entrypoint: string; parameters: unknown; schedules: { schedule: Record<string, unknown> }[]; pull_steps: unknown[] }[];
    const byName = Object.fromEntries(deployed.map((d) => [d.name, d]));
    expect(Object.keys(byName).sort()).toEqual(harness.project().deployments.map((d) => d.name).sort());
    expect(Object.keys(byName)).toEqual(expect.arrayContaining(["daily_events", "materialize", "new_event_files", "new_event_files-runs"]));
    expect(byName.daily_events!.entrypoint).toBe("flows.py:materialize_assets");
    expect(byName.daily_events!.schedules.map((s) => [s.schedule.cron, s.schedule.timezone])).toEqual([["0 2 * * *", "Europe/Paris"]]);
    expect(byName.daily_events!.parameters).toEqual({ assets: ["web/events", "daily_event_counts"], schedule: "daily_events" });
    // One flow run per hour polls every 30 s; deployed off (the user turns the schedule on).
    const sensorSchedules = (byName.new_event_files!.schedules as unknown as { active: boolean; schedule: { interval: number; anchor_date: string } }[]).map((s) => [s.schedule.interval, new Date(s.schedule.anchor_date).toISOString(), s.active]);
    expect(sensorSchedules).toEqual([[3600, "2024-01-01T00:00:00.000Z", false]]);
    expect(byName.materialize!.pull_steps).toEqual(expectedPullSteps(cwd));
  });

  it("a schedule deployment's cron and timezone pick the scheduled start and its partition", async () => {
    // 00:30 UTC on Jan 5 is 01:30 in Paris: the 02:00 tick of Jan 5 has not fired, Jan 4's has.
    const tick = await harness.driver().request<{ scheduledStart: string; runRequests: { partitionKey: string }[]; cron: string; timezone: string }>("schedule_tick", {
      name: "daily_events",
      at: "2024-01-05T00:30:00Z",
    });
    expect([tick.cron, tick.timezone]).toEqual(["0 2 * * *", "Europe/Paris"]);
    expect(new Date(tick.scheduledStart).toISOString()).toBe("2024-01-04T01:00:00.000Z");
    expect(tick.runRequests.map((r) => r.partitionKey)).toEqual(["2024-01-03"]);
  });
});
