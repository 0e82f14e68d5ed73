/**
 * End-to-end tests of the external side against a simulated orchestrator: each test writes the
 * context, encodes the bootstrap params, spawns `node child.mjs` and parses what it emits.
 */
import { beforeAll, describe, expect, it } from "vitest";

import {
  baseContext,
  buildPipesModule,
  findMessage,
  methods,
  runChild,
  type ChildRun,
  type WireMessage,
} from "./__tests__/harness.js";

function noted(run: ChildRun, tag: string): unknown {
  const line = run.stderr.split("\n").find((l) => l.startsWith(`${tag}:`));
  if (line === undefined) throw new Error(`child did not report ${tag}; stderr:\n${run.stderr}`);
  return JSON.parse(line.slice(tag.length + 1)) as unknown;
}

function exceptionOf(message: WireMessage): Record<string, unknown> {
  const exception = message.params?.["exception"];
  expect(exception, "closed carries an exception").toBeTypeOf("object");
  return exception as Record<string, unknown>;
}

beforeAll(() => {
  buildPipesModule();
});

describe("file message channel (PipesSubprocessClient default)", () => {
  it("sends opened first, then logs, reports and closed last, one JSON line each", async () => {
    const run = await runChild({ scenario: "basic" });
    expect(run.code, run.stderr).toBe(0);
    expect(run.otherLines).toEqual([]);
    expect(run.rawFile?.endsWith("\n")).toBe(true);
    for (const message of run.messages) {
      expect(Object.keys(message)).toEqual(["__dagster_pipes_version", "method", "params"]);
      expect(message.__dagster_pipes_version).toBe("0.1");
    }
    expect(methods(run)).toEqual([
      "opened",
      "log",
      "log",
      "log",
      "log",
      "log",
      "report_asset_materialization",
      "report_asset_check",
      "report_asset_check",
      "report_custom_message",
      "closed",
    ]);
    expect(run.messages[0]?.params).toEqual({ extras: {} });
    expect(run.messages.at(-1)?.params).toEqual({});
    expect(run.messages.filter((m) => m.method === "log").map((m) => m.params)).toEqual([
      { message: "debug message", level: "DEBUG" },
      { message: "info message", level: "INFO" },
      { message: "warning message", level: "WARNING" },
      { message: "error message", level: "ERROR" },
      { message: "critical message", level: "CRITICAL" },
    ]);
    expect(run.stdout).toContain("some stdout noise");
  });

  it("sends report_asset_materialization with exact params and typed metadata", async () => {
    const run = await runChild({ scenario: "basic" });
    const mat = findMessage(run, "report_asset_materialization");
    expect(Object.keys(mat.params ?? {})).toEqual(["asset_key", "data_version", "metadata"]);
    expect(mat.params?.["asset_key"]).toBe("warehouse/orders");
    expect(mat.params?.["data_version"]).toBe("dv-1");
    const metadata = mat.params?.["metadata"] as Record<string, { type: string; raw_value: unknown }>;
    expect(metadata["inferred_text"]).toEqual({ type: "__infer__", raw_value: "hello" });
    expect(metadata["inferred_int"]).toEqual({ type: "__infer__", raw_value: 42 });
    expect(metadata["inferred_null"]).toEqual({ type: "__infer__", raw_value: null });
    expect(metadata["inferred_list"]).toEqual({ type: "__infer__", raw_value: [1, "two", { three: 3 }] });
    expect(metadata["json"]).toEqual({ type: "json", raw_value: { a: 1, b: [true, null] } });
    expect(metadata["float"]?.type).toBe("float");
    expect(metadata["big_int"]).toEqual({ type: "int", raw_value: Number("12345678901234567890") });
    expect(metadata["asset"]).toEqual({ type: "asset", raw_value: "warehouse/customers" });
    expect(metadata["null"]).toEqual({ type: "null", raw_value: null });
    expect(metadata["table_schema"]).toEqual({
      type: "table_schema",
      raw_value: {
        columns: [
          { name: "id", type: "int", description: "primary key", constraints: { nullable: false, other: ["pk"] } },
          { name: "amount", type: "float" },
        ],
      },
    });
    expect(metadata["table_column_lineage"]).toEqual({
      type: "table_column_lineage",
      raw_value: {
        deps_by_column: {
          amount: [
            { asset_key: ["warehouse", "raw_orders"], column_name: "amount_cents" },
            { asset_key: ["warehouse", "fx"], column_name: "rate" },
          ],
        },
      },
    });
    expect(metadata["timestamp"]).toEqual({ type: "timestamp", raw_value: 1704164645.5 });
    expect(metadata["date_inferred"]).toEqual({ type: "timestamp", raw_value: 1704153600 });
    expect(metadata["raw_typed"]).toEqual({ type: "md", raw_value: "**bold**" });
    // Float metadata keeps its decimal point on the wire so Python reads a float, and the big
    // int is written as an exact integer literal.
    expect(run.rawFile).toContain('"float":{"type":"float","raw_value":2.0}');
    expect(run.rawFile).toContain('"raw_value":12345678901234567890}');
  });

  it("sends report_asset_check with exact params and severity", async () => {
    const run = await runChild({ scenario: "basic" });
    const checks = run.messages.filter((m) => m.method === "report_asset_check");
    expect(Object.keys(checks[0]?.params ?? {})).toEqual(["asset_key", "check_name", "passed", "metadata", "severity"]);
    expect(checks[0]?.params).toEqual({
      asset_key: "warehouse/orders",
      check_name: "no_nulls",
      passed: true,
      metadata: { null_count: { type: "__infer__", raw_value: 0 } },
      severity: "ERROR",
    });
    expect(checks[1]?.params).toEqual({
      asset_key: "warehouse/orders",
      check_name: "fresh",
      passed: false,
      metadata: null,
      severity: "WARN",
    });
  });

  it("exposes the injected context through the accessors", async () => {
    const run = await runChild({ scenario: "basic" });
    const custom = findMessage(run, "report_custom_message");
    const context = (custom.params?.["payload"] as { context: Record<string, unknown> }).context;
    expect(context).toMatchObject({
      isDagsterPipesProcess: true,
      isAssetStep: true,
      assetKey: { value: "warehouse/orders" },
      assetKeys: { value: ["warehouse/orders"] },
      codeVersion: { value: "v3" },
      provenance: { value: null },
      isPartitionStep: true,
      partitionKey: { value: "2024-01-02" },
      partitionKeyRange: { value: { start: "2024-01-02", end: "2024-01-02" } },
      partitionTimeWindow: { value: { start: "2024-01-02T00:00:00+00:00", end: "2024-01-03T00:00:00+00:00" } },
      runId: { value: "11111111-2222-3333-4444-555555555555" },
      jobName: { value: "__ephemeral_asset_job__" },
      retryNumber: { value: 0 },
      extras: { greeting: "hello", nested: { n: 1 } },
      greeting: { value: "hello" },
      missingExtra: { error: "Extra `missing` is undefined. Extras must be provided by user.", name: "DagsterPipesError" },
    });
  });

  it("reports accessor errors like Python for multi-asset, non-asset and unpartitioned steps", async () => {
    const multi = await runChild({
      scenario: "describe",
      context: baseContext({
        asset_keys: ["a", "b"],
        code_version_by_asset_key: { a: null, b: null },
        provenance_by_asset_key: { a: null, b: null },
        partition_key: null,
        partition_key_range: null,
        partition_time_window: null,
      }),
    });
    const m = findMessage(multi, "report_custom_message").params?.["payload"] as Record<string, unknown>;
    expect(m["assetKey"]).toEqual({ error: "`asset_key` is undefined. Current step targets multiple assets.", name: "DagsterPipesError" });
    expect(m["assetKeys"]).toEqual({ value: ["a", "b"] });
    expect(m["codeVersion"]).toMatchObject({ error: "`code_version` is undefined. Current step targets multiple assets." });
    expect(m["isPartitionStep"]).toBe(false);
    expect(m["partitionKey"]).toMatchObject({
      error: "Missing required property: `partition_key` is undefined. Current step does not target any partitions.",
    });
    expect(m["partitionKeyRange"]).toMatchObject({
      error: "Missing required property: `partition_key_range` is undefined. Current step does not target any partitions.",
    });
    expect(m["partitionTimeWindow"]).toMatchObject({
      error: "Missing required property: `partition_time_window` is undefined. Current step does not target any partitions.",
    });

    const op = await runChild({
      scenario: "describe",
      contextVia: "data",
      context: { run_id: "r", retry_number: 2, extras: {} },
    });
    const o = findMessage(op, "report_custom_message").params?.["payload"] as Record<string, unknown>;
    expect(o["isAssetStep"]).toBe(false);
    expect(o["assetKey"]).toMatchObject({
      error: "Missing required property: `asset_key` is undefined. Current step does not target an asset.",
    });
    expect(o["jobName"]).toEqual({ value: null });
    expect(o["retryNumber"]).toEqual({ value: 2 });
  });

  it("allows one materialization per asset and rejects unknown metadata types", async () => {
    const run = await runChild({ scenario: "materialize-twice" });
    expect(run.code, run.stderr).toBe(0);
    expect(noted(run, "SECOND")).toEqual({
      error:
        "Calling `report_asset_materialization` with asset key `warehouse/orders` is undefined. Asset has already been materialized, so no additional data can be reported for it.",
      name: "DagsterPipesError",
    });
    const bad = noted(run, "BAD_TYPE") as { error: string };
    expect(bad.error).toContain("Invalid value for parameter `metadata.x.type` of `report_asset_check`");
    expect(bad.error).toContain("got `bogus`");
    const plain = noted(run, "PLAIN_OBJECT") as { error: string };
    expect(plain.error).toContain("Invalid type for parameter `metadata` of `report_asset_check`");
    expect(plain.error).toContain("PipesMetadata.json");
    expect(methods(run)).toEqual(["opened", "report_asset_materialization", "closed"]);
  });

  it("rejects every report after closed and keeps closed last", async () => {
    const run = await runChild({ scenario: "after-close" });
    expect(run.code, run.stderr).toBe(0);
    const expected = { error: "Cannot send message after pipes context is closed.", name: "DagsterPipesError" };
    expect(noted(run, "AFTER_CLOSE_LOG")).toEqual(expected);
    expect(noted(run, "AFTER_CLOSE_REPORT")).toEqual(expected);
    expect(noted(run, "AFTER_CLOSE_CUSTOM")).toEqual(expected);
    expect(noted(run, "SAME_INSTANCE")).toBe(true);
    expect(methods(run)).toEqual(["opened", "closed"]);
  });

  it("forwards process stdout/stderr as log_external_stream when include_stdio_in_messages is set", async () => {
    const run = await runChild({ scenario: "stdio-capture", messages: { kind: "file", includeStdio: true } });
    expect(run.code, run.stderr).toBe(0);
    const streams = run.messages.filter((m) => m.method === "log_external_stream").map((m) => m.params);
    expect(streams).toEqual([
      { stream: "stdout", text: "captured stdout line\n", extras: {} },
      { stream: "stderr", text: "captured stderr bytes\n", extras: {} },
    ]);
    expect(methods(run).at(-1)).toBe("closed");
    expect(run.stdout).toContain("captured stdout line");
    expect(run.stdout).toContain("after close, not captured");
  });
});

describe("exception payload in closed", () => {
  it("close(error) sends message, stack, name, cause and context", async () => {
    const run = await runChild({ scenario: "close-with-error" });
    expect(run.code).toBe(1);
    const closed = findMessage(run, "closed");
    const exception = exceptionOf(closed);
    expect(Object.keys(exception)).toEqual(["message", "stack", "name", "cause", "context"]);
    expect(exception["name"]).toBe("Error");
    expect(exception["message"]).toBe("Error: could not load orders\n");
    expect(Array.isArray(exception["stack"])).toBe(true);
    expect((exception["stack"] as string[]).length).toBeGreaterThan(0);
    expect((exception["stack"] as string[])[0]).toMatch(/^ {2}at .*child\.mjs:\d+:\d+\)?\n$/);
    expect(exception["context"]).toBeNull();
    const cause = exception["cause"] as Record<string, unknown>;
    expect(cause["name"]).toBe("SyntaxError");
    expect(cause["message"]).toMatch(/^SyntaxError: .*JSON.*\n$/);
    expect(cause["cause"]).toBeNull();
  });

  it("withDagsterPipes closes with the thrown error and the process fails", async () => {
    const run = await runChild({ scenario: "with-helper-throws" });
    expect(run.code).toBe(1);
    expect(methods(run)).toEqual(["opened", "log", "closed"]);
    const exception = exceptionOf(findMessage(run, "closed"));
    expect(exception).toMatchObject({ name: "RangeError", message: "RangeError: value out of range\n" });
  });

  it("an uncaught exception still sends closed with that exception (exit code 1)", async () => {
    const run = await runChild({ scenario: "uncaught" });
    expect(run.code).toBe(1);
    expect(methods(run)).toEqual(["opened", "log", "closed"]);
    expect(exceptionOf(findMessage(run, "closed"))).toMatchObject({
      name: "TypeError",
      message: "TypeError: crashed in a callback\n",
    });
  });

  it("process.exit(3) with the context open sends closed with an exit-code exception", async () => {
    const run = await runChild({ scenario: "exit-nonzero" });
    expect(run.code).toBe(3);
    expect(exceptionOf(findMessage(run, "closed"))).toMatchObject({
      name: "PipesProcessExitError",
      message: "PipesProcessExitError: The external process exited with code 3 before the Dagster Pipes context was closed.\n",
    });
  });

  it("a forgotten close() is sent at a clean exit without exception", async () => {
    const run = await runChild({ scenario: "forgot-close" });
    expect(run.code).toBe(0);
    expect(methods(run)).toEqual(["opened", "report_asset_materialization", "closed"]);
    expect(findMessage(run, "closed").params).toEqual({});
  });
});

describe("signals", () => {
  it.each([
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const)("%s: closed carries the interrupt and the exit code is %i", async (signal, exitCode) => {
    const run = await runChild({ scenario: "wait", interruptWith: signal });
    expect(run.code, run.stderr).toBe(exitCode);
    expect(methods(run)).toEqual(["opened", "log", "report_custom_message", "closed"]);
    const exception = exceptionOf(findMessage(run, "closed"));
    expect(exception["name"]).toBe("DagsterPipesInterrupt");
    expect(exception["message"]).toContain(`received ${signal}`);
  });

  it("buffered_stdio: messages buffered before SIGTERM are flushed with closed", async () => {
    const run = await runChild({
      scenario: "wait",
      interruptWith: "SIGTERM",
      messages: { kind: "buffered_stdio", stream: "stdout" },
    });
    expect(run.code).toBe(143);
    expect(methods(run)).toEqual(["opened", "log", "report_custom_message", "closed"]);
    expect(exceptionOf(findMessage(run, "closed"))["name"]).toBe("DagsterPipesInterrupt");
  });

  it("handleSignals: false leaves Node's default behaviour (killed, no closed)", async () => {
    const run = await runChild({ scenario: "wait-no-handlers", interruptWith: "SIGTERM" });
    expect(run.signal).toBe("SIGTERM");
    expect(methods(run)).toEqual(["opened", "log"]);
  });
});

describe("stdio message channels", () => {
  it("stdio: messages are JSON lines on the chosen stream, interleaved with other output", async () => {
    const run = await runChild({ scenario: "basic", messages: { kind: "stdio", stream: "stdout" } });
    expect(run.code, run.stderr).toBe(0);
    expect(methods(run)[0]).toBe("opened");
    expect(methods(run).at(-1)).toBe("closed");
    expect(run.otherLines).toEqual(["some stdout noise"]);
  });

  it("stdio on stderr", async () => {
    const run = await runChild({ scenario: "basic", messages: { kind: "stdio", stream: "stderr" } });
    expect(run.code, run.stderr).toBe(0);
    expect(methods(run)).toHaveLength(11);
    expect(run.stdout).toBe("some stdout noise\n");
  });

  it("buffered_stdio: nothing is written before close, everything after", async () => {
    const run = await runChild({ scenario: "basic", messages: { kind: "buffered_stdio", stream: "stdout" } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.startsWith("some stdout noise\n")).toBe(true);
    expect(methods(run)).toHaveLength(11);
    expect(methods(run).at(-1)).toBe("closed");
  });

  it.each([
    { kind: "stdio", stream: "stdout" },
    { kind: "buffered_stdio", stream: "stdout" },
    { kind: "stdio", stream: "stderr" },
    { kind: "file" },
  ] as const)("never loses messages when flooding a pipe and calling process.exit (%o)", async (mode) => {
    const run = await runChild({ scenario: "flood", messages: mode, env: { FLOOD_COUNT: "300" } });
    expect(run.code, run.stderr.slice(0, 500)).toBe(0);
    const logs = run.messages.filter((m) => m.method === "log");
    expect(logs).toHaveLength(300);
    logs.forEach((log, i) => expect(String(log.params?.["message"]).startsWith(`${i}:`)).toBe(true));
    expect(methods(run).at(-1)).toBe("closed");
  });
});

describe("bootstrap", () => {
  it("reads params from --dagster-pipes-context/--dagster-pipes-messages CLI arguments", async () => {
    const run = await runChild({ scenario: "describe", carrier: "cli" });
    expect(run.code, run.stderr).toBe(0);
    expect(methods(run)).toEqual(["opened", "report_custom_message", "closed"]);
    const payload = findMessage(run, "report_custom_message").params?.["payload"] as Record<string, unknown>;
    expect(payload["assetKey"]).toEqual({ value: "warehouse/orders" });
  });

  it("reads params from the --name=value CLI spelling", async () => {
    const run = await runChild({ scenario: "describe", carrier: "cli-equals" });
    expect(run.code, run.stderr).toBe(0);
    expect(methods(run)).toEqual(["opened", "report_custom_message", "closed"]);
  });

  it("loads inline context data ({data: ...}) as PipesEnvContextInjector sends it", async () => {
    const run = await runChild({ scenario: "describe", contextVia: "data", context: baseContext({ run_id: "inline-run" }) });
    const payload = findMessage(run, "report_custom_message").params?.["payload"] as Record<string, unknown>;
    expect(payload["runId"]).toEqual({ value: "inline-run" });
  });

  it("no-op mode when not launched by Dagster: reports do nothing, accessors throw clearly", async () => {
    const run = await runChild({ scenario: "noop", carrier: "none", messages: { kind: "stdio", stream: "stdout" } });
    expect(run.code, run.stderr).toBe(0);
    expect(run.messages).toEqual([]);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("DagsterPipesWarning: This process was not launched by a Dagster orchestration process.");
    const description = noted(run, "NOOP") as Record<string, unknown>;
    expect(description).toMatchObject({
      isDagsterPipesProcess: false,
      isDagster: false,
      isAssetStep: false,
      isPartitionStep: false,
      extras: {},
      isClosed: true,
    });
    expect((description["runId"] as { error: string }).error).toMatch(
      /^Cannot read `run_id`: this process was not launched by a Dagster orchestration process/,
    );
    expect((description["assetKey"] as { error: string }).error).toContain("Cannot read `asset_key`");
  });
});
