import { afterEach, describe, expect, it } from "vitest";

import { ActivePipesContext, NoopPipesContext } from "./context.js";
import { PipesDefaultContextLoader } from "./context-loader.js";
import { DagsterPipesError, DagsterPipesInterrupt, toPipesException } from "./errors.js";
import { getPipesContext, isPipesContextInitialized, openDagsterPipes, resetPipesContext, withDagsterPipes } from "./open.js";
import { encodeParam, PipesMappingParamsLoader } from "./params.js";
import type { PipesContextData, PipesMessage } from "./protocol.js";
import { serializeMessage, type PipesMessageWriter } from "./writers.js";

class MemoryWriter implements PipesMessageWriter {
  readonly messages: PipesMessage[] = [];
  readonly lines: string[] = [];
  closedChannel = false;
  open() {
    return {
      writeMessage: (message: PipesMessage) => {
        this.lines.push(serializeMessage(message));
        this.messages.push(JSON.parse(serializeMessage(message)) as PipesMessage);
      },
      close: () => {
        this.closedChannel = true;
      },
    };
  }
  getOpenedExtras() {
    return { writer: "memory" };
  }
}

function contextData(overrides: Partial<PipesContextData> = {}): PipesContextData {
  return {
    asset_keys: ["a/b\\/c", "other"],
    code_version_by_asset_key: { "a/b\\/c": "1", other: null },
    provenance_by_asset_key: { "a/b\\/c": null, other: null },
    partition_key: null,
    partition_key_range: null,
    partition_time_window: null,
    run_id: "run",
    job_name: "job",
    retry_number: 0,
    extras: {},
    ...overrides,
  };
}

function loaderFor(data: PipesContextData): PipesMappingParamsLoader {
  return new PipesMappingParamsLoader({
    DAGSTER_PIPES_CONTEXT: encodeParam({ data }),
    DAGSTER_PIPES_MESSAGES: encodeParam({ memory: true }),
  });
}

function makeContext(data = contextData()): { ctx: ActivePipesContext; writer: MemoryWriter } {
  const writer = new MemoryWriter();
  const ctx = new ActivePipesContext({
    paramsLoader: loaderFor(data),
    contextLoader: new PipesDefaultContextLoader(),
    messageWriter: writer,
  });
  return { ctx, writer };
}

afterEach(() => {
  resetPipesContext();
});

describe("ActivePipesContext", () => {
  it("sends opened with the writer's extras on construction", () => {
    const { writer } = makeContext();
    expect(writer.messages).toEqual([{ __dagster_pipes_version: "0.1", method: "opened", params: { extras: { writer: "memory" } } }]);
  });

  it("requires an asset key when several assets are in scope, and checks it", () => {
    const { ctx, writer } = makeContext();
    expect(() => ctx.reportAssetMaterialization()).toThrow(
      "Calling `report_asset_materialization` without passing an asset key is undefined. Current step targets multiple assets.",
    );
    expect(() => ctx.reportAssetCheck({ checkName: "c", passed: true, assetKey: "nope" })).toThrow(
      "Invalid asset key. Expected one of `['a/b\\\\/c', 'other']`, got `nope`.",
    );
    // Parts are escaped the way the orchestrator escaped the context keys.
    ctx.reportAssetMaterialization({ assetKey: ["a", "b/c"], metadata: { rows: 1 } });
    ctx.reportAssetMaterialization({ assetKey: "other" });
    expect(writer.messages.slice(1).map((m) => m.params?.["asset_key"])).toEqual(["a/b\\/c", "other"]);
    expect(writer.messages[2]?.params).toEqual({ asset_key: "other", data_version: null, metadata: null });
  });

  it("reports without assets in scope need an explicit key (ops)", () => {
    const { ctx, writer } = makeContext(contextData({ asset_keys: null, code_version_by_asset_key: null, provenance_by_asset_key: null }));
    expect(() => ctx.reportAssetCheck({ checkName: "c", passed: true })).toThrow(
      "Calling `report_asset_check` without passing an asset key is undefined. Current step does not target a specific asset.",
    );
    ctx.reportAssetCheck({ checkName: "c", passed: true, assetKey: "free" });
    expect(writer.messages.at(-1)?.params?.["asset_key"]).toBe("free");
  });

  it("validates report_asset_check params", () => {
    const { ctx } = makeContext(contextData({ asset_keys: ["x"] }));
    expect(() => ctx.reportAssetCheck({ checkName: 1 as unknown as string, passed: true })).toThrow(
      "Invalid type for parameter `check_name` of `report_asset_check`. Expected `string`, got `number`.",
    );
    expect(() => ctx.reportAssetCheck({ checkName: "c", passed: "yes" as unknown as boolean })).toThrow(
      "Invalid type for parameter `passed` of `report_asset_check`. Expected `boolean`, got `string`.",
    );
    expect(() => ctx.reportAssetCheck({ checkName: "c", passed: true, severity: "FATAL" as "WARN" })).toThrow(
      /Invalid value for parameter `severity`/,
    );
    expect(() => ctx.reportAssetMaterialization({ dataVersion: 5 as unknown as string })).toThrow(
      "Invalid type for parameter `data_version` of `report_asset_materialization`. Expected `string`, got `number`.",
    );
  });

  it("custom messages carry any JSON payload; undefined becomes null", () => {
    const { ctx, writer } = makeContext();
    ctx.reportCustomMessage({ a: [1, 2] });
    ctx.reportCustomMessage(undefined);
    expect(writer.messages.slice(1).map((m) => m.params)).toEqual([{ payload: { a: [1, 2] } }, { payload: null }]);
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    expect(() => ctx.reportCustomMessage(cyclic)).toThrow(/circular reference at \$\.params\.payload\.self/);
  });

  it("log_external_stream has the Python param shape", () => {
    const { ctx, writer } = makeContext();
    ctx.logExternalStream("stderr", "text\n");
    expect(writer.messages.at(-1)).toMatchObject({ method: "log_external_stream", params: { stream: "stderr", text: "text\n", extras: {} } });
  });

  it("close is idempotent, flushes the channel, and later reports throw", () => {
    const { ctx, writer } = makeContext();
    ctx.close();
    ctx.close(new Error("ignored"));
    expect(writer.closedChannel).toBe(true);
    expect(writer.messages.map((m) => m.method)).toEqual(["opened", "closed"]);
    expect(writer.messages[1]?.params).toEqual({});
    expect(ctx.isClosed).toBe(true);
    expect(() => ctx.log.info("x")).toThrow(new DagsterPipesError("Cannot send message after pipes context is closed."));
    expect(() => ctx.reportCustomMessage(1)).toThrow("Cannot send message after pipes context is closed.");
  });

  it("log rejects unknown levels", () => {
    const { ctx } = makeContext();
    expect(() => ctx.log.log("TRACE" as "INFO", "x")).toThrow(/Invalid log level/);
  });

  it("provenance/code version need exactly one asset", () => {
    const single = makeContext(
      contextData({
        asset_keys: ["x"],
        code_version_by_asset_key: { x: "cv" },
        provenance_by_asset_key: { x: { code_version: "cv", input_data_versions: { up: "1" }, is_user_provided: false } },
      }),
    ).ctx;
    expect(single.codeVersion).toBe("cv");
    expect(single.provenance).toEqual({ code_version: "cv", input_data_versions: { up: "1" }, is_user_provided: false });
    expect(single.codeVersionByAssetKey).toEqual({ x: "cv" });
    const multi = makeContext().ctx;
    expect(() => multi.provenance).toThrow("`provenance` is undefined. Current step targets multiple assets.");
    expect(multi.provenanceByAssetKey).toEqual({ "a/b\\/c": null, other: null });
  });

  it("partition time window is null for non-time partitions but throws without partitions", () => {
    const statik = makeContext(
      contextData({ partition_key: "red", partition_key_range: { start: "red", end: "red" }, partition_time_window: null }),
    ).ctx;
    expect(statik.isPartitionStep).toBe(true);
    expect(statik.partitionKey).toBe("red");
    expect(statik.partitionTimeWindow).toBeNull();
    // A single-run range backfill: range set, no single key.
    const range = makeContext(contextData({ partition_key: null, partition_key_range: { start: "a", end: "c" } })).ctx;
    expect(range.partitionKeyRange).toEqual({ start: "a", end: "c" });
    expect(() => range.partitionKey).toThrow("Missing required property: `partition_key` is undefined. Current step does not target any partitions.");
  });
});

describe("exception payloads", () => {
  it("pass through payload-shaped objects", () => {
    const payload = { message: "m\n", stack: ["  s\n"], name: "X", cause: null, context: null };
    expect(toPipesException(payload)).toEqual(payload);
  });

  it("describe non-Error thrown values", () => {
    expect(toPipesException("plain")).toEqual({ message: "plain\n", stack: [], name: null, cause: null, context: null });
    expect(toPipesException({ code: 7 })).toMatchObject({ message: '{"code":7}\n', name: null });
  });

  it("follow cause chains and stop at cycles", () => {
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    (a as { cause?: unknown }).cause = b;
    const payload = toPipesException(b);
    expect(payload.cause?.message).toBe("Error: a\n");
    expect(payload.cause?.cause?.message).toBe("<circular exception reference>\n");
  });

  it("map a SuppressedError's suppressed error to context", () => {
    const suppressed = new Error("original");
    const disposal = Object.assign(new Error("dispose failed"), { name: "SuppressedError", suppressed });
    const payload = toPipesException(disposal);
    expect(payload.name).toBe("SuppressedError");
    expect(payload.context?.message).toBe("Error: original\n");
  });

  it("signal interrupts have exit codes 130/143", () => {
    expect(new DagsterPipesInterrupt("SIGINT").exitCode).toBe(130);
    expect(new DagsterPipesInterrupt("SIGTERM").exitCode).toBe(143);
  });
});

describe("openDagsterPipes", () => {
  const hooks = { handleSignals: false, closeOnExit: false } as const;

  it("is a singleton, like Python's open_dagster_pipes", () => {
    expect(isPipesContextInitialized()).toBe(false);
    expect(() => getPipesContext()).toThrow("PipesContext has not been initialized. You must call `openDagsterPipes()`.");
    const writer = new MemoryWriter();
    const first = openDagsterPipes({ paramsLoader: loaderFor(contextData()), messageWriter: writer, ...hooks });
    const second = openDagsterPipes({ paramsLoader: loaderFor(contextData()), messageWriter: new MemoryWriter(), ...hooks });
    expect(second).toBe(first);
    expect(getPipesContext()).toBe(first);
    expect(first.isDagsterPipesProcess).toBe(true);
    expect(writer.messages).toHaveLength(1);
    first.close();
  });

  it("returns a no-op context when not launched by Dagster", () => {
    const ctx = openDagsterPipes({ paramsLoader: new PipesMappingParamsLoader({}), warnIfNotDagster: false, ...hooks });
    expect(ctx).toBeInstanceOf(NoopPipesContext);
    expect(ctx.isDagsterPipesProcess).toBe(false);
    ctx.log.info("nothing");
    ctx.reportAssetMaterialization({ metadata: { a: 1 } });
    expect(() => ctx.runId).toThrow(/not launched by a Dagster orchestration process/);
  });

  it("withDagsterPipes closes with the error and rethrows", async () => {
    const writer = new MemoryWriter();
    await expect(
      withDagsterPipes(
        () => {
          throw new Error("inside");
        },
        { paramsLoader: loaderFor(contextData()), messageWriter: writer, ...hooks },
      ),
    ).rejects.toThrow("inside");
    expect(writer.messages.at(-1)).toMatchObject({ method: "closed", params: { exception: { message: "Error: inside\n", name: "Error" } } });
  });

  it("a failing message writer surfaces as an error from openDagsterPipes", () => {
    const loader = new PipesMappingParamsLoader({
      DAGSTER_PIPES_CONTEXT: encodeParam({ data: contextData() }),
      DAGSTER_PIPES_MESSAGES: encodeParam({ container: "b" }),
    });
    expect(() => openDagsterPipes({ paramsLoader: loader, ...hooks })).toThrow(
      /Invalid params for PipesDefaultMessageWriter, expected key "path", "stdio", "buffered_stdio" or "bucket"/,
    );
    expect(isPipesContextInitialized()).toBe(false);
  });
});
