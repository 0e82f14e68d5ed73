/**
 * Real Dagster end to end: `__tests__/dagster_e2e.py` materializes assets whose compute launches
 * `node __tests__/dagster-child.mjs` via `dagster.PipesSubprocessClient` (and `open_pipes_session`
 * for the CLI-argument and SIGINT cases), then reports what Dagster recorded.
 *
 * Dagster comes from packages/adapter-dagster/python/requirements-test.txt, installed with uv;
 * a machine that cannot install it fails the test, it never skips.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ensurePythonEnv } from "@baton/testing";
import { join } from "node:path";

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { buildPipesModule, makeTempDir, removeDir, TESTS_DIR } from "./__tests__/harness.js";

const E2E_SCRIPT = join(TESTS_DIR, "dagster_e2e.py");

/** Real Dagster from the pinned requirements, in a uv virtual environment made once and reused. */
function dagsterPython(): string {
  return ensurePythonEnv({ name: "dagster", requirements: fileURLToPath(new URL("../../python/requirements-test.txt", import.meta.url)) }).python;
}

interface MetadataEntry {
  class: string;
  py_type: string;
  value: unknown;
}
interface ErrorInfo {
  message: string;
  cls_name: string | null;
  stack: string[];
  cause: ErrorInfo | null;
  context: ErrorInfo | null;
}
interface RunReport {
  success: boolean;
  materializations: { asset_key: string[]; partition: string | null; tags: Record<string, string>; metadata: Record<string, MetadataEntry> }[];
  checks: { asset_key: string[]; check_name: string; passed: boolean; severity: string; metadata: Record<string, MetadataEntry> }[];
  logs: { level: number; message: string }[];
  pipes_events: { event_type: string; message: string; error: ErrorInfo | null }[];
  step_failures: (ErrorInfo | null)[];
}
interface Report {
  dagster_version: string;
  runs: Record<"orders" | "daily" | "failing" | "cli_args" | "interrupted", RunReport>;
  custom: Record<string, unknown[]>;
  processes: Record<string, Record<string, unknown>>;
}

let loaded: Report | undefined;
let setupError: unknown;
let workDir: string | undefined;

/** The report, or the setup error (e.g. no Dagster environment) so every test fails with it. */
function getReport(): Report {
  if (setupError !== undefined) throw setupError;
  if (!loaded) throw new Error("the Dagster end-to-end script produced no report");
  return loaded;
}

function runPython(python: string, cwd: string, outFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !key.startsWith("DAGSTER_PIPES_")) env[key] = value;
    }
    env["BATON_PIPES_MODULE_URL"] = buildPipesModule();
    env["BATON_NODE"] = process.execPath;
    const child = spawn(python, [E2E_SCRIPT, outFile], { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${python} ${E2E_SCRIPT} exited with ${code}:\n${output.slice(-6000)}`));
    });
  });
}

beforeAll(async () => {
  try {
    const python = dagsterPython();
    workDir = makeTempDir("baton-pipes-dagster-");
    const outFile = join(workDir, "report.json");
    await runPython(python, workDir, outFile);
    loaded = JSON.parse(readFileSync(outFile, "utf8")) as Report;
  } catch (error) {
    setupError = error;
  }
}, 180_000);

afterAll(() => {
  if (workDir) removeDir(workDir);
});

describe("real Dagster (PipesSubprocessClient → node)", () => {
  let report: Report;
  beforeEach(() => {
    report = getReport();
  });

  it("runs against dagster 1.13.28", () => {
    expect(report.dagster_version).toBe("1.13.28");
  });

  it("materializes the asset with every metadata type resolved by Dagster", () => {
    const run = report.runs.orders;
    expect(run.success).toBe(true);
    expect(run.materializations).toHaveLength(1);
    const mat = run.materializations[0]!;
    expect(mat.asset_key).toEqual(["warehouse", "orders"]);
    expect(mat.tags["dagster/data_version"]).toBe("orders-v1");
    expect(mat.tags["dagster/code_version"]).toBe("v7");
    const m = mat.metadata;
    const cls = (key: string): string => m[key]?.class ?? `missing ${key}`;
    expect(m["row_count"]).toEqual({ class: "IntMetadataValue", py_type: "int", value: 42 });
    expect(m["ratio"]).toEqual({ class: "FloatMetadataValue", py_type: "float", value: 0.25 });
    expect(m["whole_float"]).toEqual({ class: "FloatMetadataValue", py_type: "float", value: 2 });
    expect(m["label"]).toEqual({ class: "TextMetadataValue", py_type: "str", value: "orders from node" });
    expect(m["flag"]).toEqual({ class: "BoolMetadataValue", py_type: "bool", value: true });
    expect(cls("nothing")).toBe("NullMetadataValue");
    expect(m["list"]).toEqual({ class: "JsonMetadataValue", py_type: "list", value: [1, 2, 3] });
    expect(m["text"]?.value).toBe("typed text");
    expect(cls("url")).toBe("UrlMetadataValue");
    expect(cls("path")).toBe("PathMetadataValue");
    expect(cls("notebook")).toBe("NotebookMetadataValue");
    expect(m["json"]).toEqual({ class: "JsonMetadataValue", py_type: "dict", value: { nested: { ok: true }, items: [1, "a"] } });
    expect(cls("md")).toBe("MarkdownMetadataValue");
    expect(m["int"]?.value).toBe(7);
    expect(m["bool"]?.value).toBe(false);
    expect(cls("run")).toBe("DagsterRunMetadataValue");
    expect(m["upstream"]).toMatchObject({ class: "DagsterAssetMetadataValue", value: { path: ["warehouse", "customers"] } });
    expect(cls("null")).toBe("NullMetadataValue");
    expect(m["at"]).toEqual({ class: "TimestampMetadataValue", py_type: "float", value: 1704164645 });

    expect(m["table"]).toMatchObject({
      class: "TableMetadataValue",
      value: {
        records: [{ data: { id: 1, name: "a", amount: 1.5 } }, { data: { id: 2, name: "b", amount: 3 } }],
        schema: {
          columns: [
            { name: "id", type: "int", constraints: { nullable: false, unique: true } },
            { name: "name", type: "string", description: "customer name", tags: { pii: "yes" } },
            { name: "amount", type: "float" },
          ],
        },
      },
    });
    expect(m["schema"]).toMatchObject({
      class: "TableSchemaMetadataValue",
      value: {
        columns: [
          { name: "id", type: "int", constraints: { nullable: false, unique: false, other: ["primary key"] } },
          { name: "amount", type: "float", description: "in EUR" },
        ],
      },
    });
    expect(m["lineage"]).toMatchObject({
      class: "TableColumnLineageMetadataValue",
      value: {
        deps_by_column: {
          amount: [{ asset_key: { path: ["warehouse", "raw_orders"] }, column_name: "amount_cents" }],
        },
      },
    });
  });

  it("records both asset checks with severity and metadata", () => {
    const checks = report.runs.orders.checks;
    expect(checks).toEqual([
      {
        asset_key: ["warehouse", "orders"],
        check_name: "no_nulls",
        passed: true,
        severity: "ERROR",
        metadata: { null_count: { class: "IntMetadataValue", py_type: "int", value: 0 } },
      },
      {
        asset_key: ["warehouse", "orders"],
        check_name: "fresh",
        passed: false,
        severity: "WARN",
        metadata: { lag_hours: { class: "FloatMetadataValue", py_type: "float", value: 30.5 } },
      },
    ]);
  });

  it("forwards logs with their levels, and the session saw opened and closed", () => {
    const logs = report.runs.orders.logs;
    expect(logs).toContainEqual({ level: 20, message: "[pipes] external process successfully opened dagster pipes." });
    expect(logs).toContainEqual({ level: 20, message: "materializing warehouse/orders (code version v7)" });
    expect(logs).toContainEqual({ level: 30, message: "a warning from node" });
    const warnings = logs.filter((l) => l.message.includes("did not receive"));
    expect(warnings).toEqual([]);
  });

  it("delivers custom messages and extras", () => {
    expect(report.custom["orders"]).toEqual([
      { greeting: "hello", extras: { greeting: "hello", n: 3 }, jobName: "__ephemeral_asset_job__" },
    ]);
  });

  it("passes partition key, range and time window of a daily partition", () => {
    expect(report.runs.daily.success).toBe(true);
    expect(report.custom["daily"]).toEqual([
      {
        isPartitionStep: true,
        partitionKey: "2024-01-02",
        partitionKeyRange: { start: "2024-01-02", end: "2024-01-02" },
        partitionTimeWindow: { start: "2024-01-02T00:00:00+00:00", end: "2024-01-03T00:00:00+00:00" },
      },
    ]);
    expect(report.runs.daily.materializations[0]).toMatchObject({ asset_key: ["daily"], partition: "2024-01-02" });
  });

  it("turns the closed exception into Dagster error info and fails the step on exit code 1", () => {
    const run = report.runs.failing;
    expect(run.success).toBe(false);
    const closedEvent = run.pipes_events.find((e) => e.message === "[pipes] external process pipes closed with exception");
    expect(closedEvent?.error).toMatchObject({
      cls_name: "Error",
      message: "Error: could not build orders\n",
      cause: { cls_name: "TypeError", message: "TypeError: upstream file missing\n", cause: null },
      context: null,
    });
    expect(closedEvent?.error?.stack[0]).toMatch(/dagster-child\.mjs:\d+:\d+/);
    expect(JSON.stringify(run.step_failures)).toContain("External execution process failed with code 1");
  });

  it("bootstraps from --dagster-pipes-context/--dagster-pipes-messages CLI arguments", () => {
    const run = report.runs.cli_args;
    expect(run.success).toBe(true);
    expect(report.processes["cli_args"]).toEqual({ returncode: 0 });
    expect(run.materializations[0]?.metadata).toEqual({
      via: { class: "TextMetadataValue", py_type: "str", value: "cli" },
      has_env: { class: "BoolMetadataValue", py_type: "bool", value: false },
    });
  });

  it("on SIGINT (what Dagster forwards on termination) sends closed with the interrupt and exits 130", () => {
    expect(report.processes["interrupted"]).toEqual({ ready: "READY", returncode: 130, received_closed: true });
    const closedEvent = report.runs.interrupted.pipes_events.find(
      (e) => e.message === "[pipes] external process pipes closed with exception",
    );
    expect(closedEvent?.error).toMatchObject({ cls_name: "DagsterPipesInterrupt" });
    expect(closedEvent?.error?.message).toContain("received SIGINT");
  });
});
