import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";

import { afterEach, describe, expect, it } from "vitest";

import { toAssetKeyPath, toEscapedAssetKey, coerceAssetKey } from "./asset-keys.js";
import { normalizeContextData, PipesDefaultContextLoader } from "./context-loader.js";
import {
  decodeParam,
  encodeParam,
  findCliArgument,
  PipesCliArgsParamsLoader,
  PipesEnvVarParamsLoader,
  PipesMappingParamsLoader,
  resolveParamsLoader,
} from "./params.js";

// Produced by dagster_pipes.encode_param (dagster-pipes 1.13.28).
const PY_PATH_PARAM = "eJyrVipILMlQslJQ0i/JLdBPLqnQyyrOz1OqBQBpjQhu";
const PY_DATA_PARAM =
  "eJyrVkpJLElUslKoVioqzYvPTAEylYp0DZV0FJQSi4tTS+KzUyuLgYLRSon6STEx+slKsUCp1IqSosRisLaYUgODtGQg01DPtLa2FgDuEBhe";

describe("param encoding", () => {
  it("decodes values encoded by Python's encode_param", () => {
    expect(decodeParam(PY_PATH_PARAM)).toEqual({ path: "/tmp/ctx.json" });
    expect(decodeParam(PY_DATA_PARAM)).toEqual({
      data: { run_id: "r-1", asset_keys: ["a/b\\/c"], extras: { "ü": 1.5 } },
    });
  });

  it("encodes as base64 of zlib (RFC 1950) JSON", () => {
    const encoded = encodeParam({ stdio: "stderr" });
    const raw = Buffer.from(encoded, "base64");
    expect(raw[0]).toBe(0x78);
    expect(JSON.parse(inflateSync(raw).toString("utf8"))).toEqual({ stdio: "stderr" });
    expect(decodeParam(encoded)).toEqual({ stdio: "stderr" });
  });

  it("fails clearly on garbage", () => {
    expect(() => decodeParam("not-base64-zlib")).toThrow(/expected base64 of zlib-compressed JSON/);
  });
});

describe("params loaders", () => {
  it("env loader: presence of DAGSTER_PIPES_CONTEXT decides", () => {
    const env = { DAGSTER_PIPES_CONTEXT: PY_PATH_PARAM, DAGSTER_PIPES_MESSAGES: encodeParam({ path: "/m" }) };
    const loader = new PipesEnvVarParamsLoader(env);
    expect(loader.isDagsterPipesProcess()).toBe(true);
    expect(loader.loadContextParams()).toEqual({ path: "/tmp/ctx.json" });
    expect(loader.loadMessagesParams()).toEqual({ path: "/m" });
    expect(new PipesEnvVarParamsLoader({ DAGSTER_PIPES_MESSAGES: "x" }).isDagsterPipesProcess()).toBe(false);
  });

  it("mapping loader: a missing messages param is a clear error", () => {
    const loader = new PipesMappingParamsLoader({ DAGSTER_PIPES_CONTEXT: PY_PATH_PARAM });
    expect(() => loader.loadMessagesParams()).toThrow("Missing Dagster Pipes param: DAGSTER_PIPES_MESSAGES is not set.");
  });

  it("params must decode to an object", () => {
    const loader = new PipesMappingParamsLoader({ DAGSTER_PIPES_CONTEXT: encodeParam([1, 2]) });
    expect(() => loader.loadContextParams()).toThrow(/expected a JSON object/);
  });

  it("CLI loader: both spellings, last occurrence wins", () => {
    const ctx = encodeParam({ data: { run_id: "x" } });
    const msgs = encodeParam({ stdio: "stdout" });
    const argv = ["--other", "1", "--dagster-pipes-context", PY_PATH_PARAM, `--dagster-pipes-messages=${msgs}`, "--dagster-pipes-context", ctx];
    const loader = new PipesCliArgsParamsLoader(argv);
    expect(loader.isDagsterPipesProcess()).toBe(true);
    expect(loader.loadContextParams()).toEqual({ data: { run_id: "x" } });
    expect(loader.loadMessagesParams()).toEqual({ stdio: "stdout" });
    expect(new PipesCliArgsParamsLoader(["--dagster-pipes-messages", msgs]).isDagsterPipesProcess()).toBe(false);
    expect(new PipesCliArgsParamsLoader([`--dagster-pipes-context=${ctx}`]).isDagsterPipesProcess()).toBe(true);
  });

  it("findCliArgument reports a missing value", () => {
    expect(findCliArgument(["--a", "1"], "--b")).toBeUndefined();
    expect(() => findCliArgument(["--dagster-pipes-context"], "--dagster-pipes-context")).toThrow(/Missing value/);
    expect(findCliArgument(["--", "--x", "1"], "--x")).toBeUndefined();
  });

  it("resolveParamsLoader passes custom loaders through and picks carriers by name", () => {
    const custom = new PipesMappingParamsLoader({});
    expect(resolveParamsLoader(custom)).toBe(custom);
    expect(resolveParamsLoader("env")).toBeInstanceOf(PipesEnvVarParamsLoader);
    expect(resolveParamsLoader("cli")).toBeInstanceOf(PipesCliArgsParamsLoader);
  });
});

describe("context loader", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("loads {path} from a JSON file and {data} inline", () => {
    dir = mkdtempSync(join(tmpdir(), "pipes-ctx-"));
    const file = join(dir, "context");
    writeFileSync(file, JSON.stringify({ run_id: "r", retry_number: 1, extras: { a: 1 }, asset_keys: ["x"] }));
    const loader = new PipesDefaultContextLoader();
    const fromFile = loader.loadContext({ path: file });
    expect(fromFile.run_id).toBe("r");
    expect(fromFile.asset_keys).toEqual(["x"]);
    expect(fromFile.partition_key_range).toBeNull();
    const inline = loader.loadContext({ data: { run_id: "q", retry_number: 0, extras: {} } });
    expect(inline.run_id).toBe("q");
    expect(inline.asset_keys).toBeNull();
  });

  it("rejects params without path or data, and bad types", () => {
    const loader = new PipesDefaultContextLoader();
    expect(() => loader.loadContext({ bucket: "b" })).toThrow('Invalid params for PipesDefaultContextLoader, expected key "path", "data" or "bucket" and "key"');
    expect(() => loader.loadContext({ path: 3 })).toThrow(/parameter `path`/);
    expect(() => loader.loadContext({ data: [] })).toThrow(/parameter `data`/);
    expect(() => loader.loadContext({ path: "/definitely/not/here" })).toThrow(/Could not read the Dagster Pipes context file/);
  });

  it("normalizeContextData fills optional fields with null and extras with {}", () => {
    const data = normalizeContextData({ run_id: "r", retry_number: 0 }, "test");
    expect(data).toMatchObject({
      asset_keys: null,
      code_version_by_asset_key: null,
      provenance_by_asset_key: null,
      partition_key: null,
      partition_key_range: null,
      partition_time_window: null,
      job_name: null,
      extras: {},
    });
  });
});

describe("asset keys (same results as dagster_pipes.to_asset_key_path / AssetKey.to_escaped_user_string)", () => {
  it.each([
    ["a/b", ["a", "b"]],
    ["a/b\\/c", ["a", "b/c"]],
    ["a\\\\b/c", ["a\\b", "c"]],
    ["a/", ["a"]],
    ["/a", ["", "a"]],
    ["a//b", ["a", "", "b"]],
    ["", []],
    ["x\\", ["x"]],
  ])("toAssetKeyPath(%j) = %j", (input, expected) => {
    expect(toAssetKeyPath(input)).toEqual(expected);
  });

  it.each([
    [["a", "b/c"], "a/b\\/c"],
    [["a\\b", "c"], "a\\\\b/c"],
    [["x"], "x"],
  ])("toEscapedAssetKey(%j) = %j", (parts, expected) => {
    expect(toEscapedAssetKey(parts)).toBe(expected);
    expect(toAssetKeyPath(expected)).toEqual(parts);
  });

  it("coerceAssetKey keeps strings and escapes arrays", () => {
    expect(coerceAssetKey("a/b")).toBe("a/b");
    expect(coerceAssetKey(["a", "b/c"])).toBe("a/b\\/c");
  });
});
