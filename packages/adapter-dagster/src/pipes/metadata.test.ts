import { describe, expect, it } from "vitest";

import { DagsterPipesError } from "./errors.js";
import { inferMetadataValue, normalizeMetadata, PipesMetadata } from "./metadata.js";
import { PIPES_METADATA_TYPES } from "./protocol.js";
import { PipesFloat, serializeJson } from "./serialize.js";

const wire = (value: unknown): unknown => JSON.parse(serializeJson(value)) as unknown;

describe("typed constructors", () => {
  it("cover every metadata type Dagster accepts", () => {
    const produced = new Set<string>([
      PipesMetadata.infer("x").type,
      PipesMetadata.text("t").type,
      PipesMetadata.url("https://x").type,
      PipesMetadata.path("/p").type,
      PipesMetadata.notebook("/n.ipynb").type,
      PipesMetadata.json({}).type,
      PipesMetadata.md("#").type,
      PipesMetadata.float(1).type,
      PipesMetadata.int(1).type,
      PipesMetadata.bool(true).type,
      PipesMetadata.dagsterRun("r").type,
      PipesMetadata.asset("a/b").type,
      PipesMetadata.null().type,
      PipesMetadata.table({ records: [], schema: [] }).type,
      PipesMetadata.tableSchema([]).type,
      PipesMetadata.tableColumnLineage({}).type,
      PipesMetadata.timestamp(0).type,
    ]);
    expect([...produced].sort()).toEqual([...PIPES_METADATA_TYPES].sort());
  });

  it("produce the raw_value shapes the orchestrator reads", () => {
    expect(PipesMetadata.url(new URL("https://example.com/a?b=1"))).toEqual({ type: "url", raw_value: "https://example.com/a?b=1" });
    expect(PipesMetadata.asset(["warehouse", "orders"])).toEqual({ type: "asset", raw_value: "warehouse/orders" });
    expect(PipesMetadata.timestamp(new Date(1500))).toEqual({ type: "timestamp", raw_value: 1.5 });
    expect(PipesMetadata.null()).toEqual({ type: "null", raw_value: null });
    expect(wire(PipesMetadata.table({ records: [{ a: 1 }], schema: [{ name: "a" }] }))).toEqual({
      type: "table",
      raw_value: { records: [{ a: 1 }], schema: [{ name: "a", type: "string" }] },
    });
    expect(PipesMetadata.tableSchema({ columns: [{ name: "id", type: "int", tags: { k: "v" } }] })).toEqual({
      type: "table_schema",
      raw_value: { columns: [{ name: "id", type: "int", tags: { k: "v" } }] },
    });
    expect(PipesMetadata.tableColumnLineage({ c: [{ assetKey: "a/b\\/c", columnName: "x" }] })).toEqual({
      type: "table_column_lineage",
      raw_value: { deps_by_column: { c: [{ asset_key: ["a", "b/c"], column_name: "x" }] } },
    });
  });

  it("write float metadata with a decimal point and ints exactly", () => {
    expect(serializeJson(PipesMetadata.float(2))).toBe('{"type":"float","raw_value":2.0}');
    expect(serializeJson(PipesMetadata.float(2.5))).toBe('{"type":"float","raw_value":2.5}');
    expect(serializeJson(PipesMetadata.float(1e21))).toBe('{"type":"float","raw_value":1e+21}');
    expect(serializeJson(PipesMetadata.float(Number.NaN))).toBe('{"type":"float","raw_value":NaN}');
    expect(serializeJson(PipesMetadata.float(-Infinity))).toBe('{"type":"float","raw_value":-Infinity}');
    expect(serializeJson(PipesMetadata.int(2n ** 70n))).toBe('{"type":"int","raw_value":1180591620717411303424}');
    expect(serializeJson({ n: 1e21 })).toBe('{"n":1000000000000000000000}');
  });

  it("reject values of the wrong kind", () => {
    expect(() => PipesMetadata.int(1.5)).toThrow(/metadata type "int" needs an integer/);
    expect(() => PipesMetadata.float("1" as unknown as number)).toThrow(/metadata type "float" needs a number/);
    expect(() => PipesMetadata.json(3)).toThrow(/metadata type "json" needs an object, an array or null/);
    expect(() => PipesMetadata.text(3 as unknown as string)).toThrow(DagsterPipesError);
    expect(() => PipesMetadata.asset(["a/b"])).toThrow(/contains "\/"/);
    expect(() => PipesMetadata.timestamp(new Date("nope"))).toThrow(/invalid Date/);
    expect(() => PipesMetadata.table({ records: [{ a: { nested: 1 } as unknown as string }], schema: [] })).toThrow(
      /table record values must be string, number, boolean or null/,
    );
    expect(() => PipesMetadata.tableSchema([{ type: "int" } as unknown as { name: string }])).toThrow(/needs a string "name"/);
    expect(() => PipesMetadata.tableSchema([{ name: "a", constraints: { primary: true } as never }])).toThrow(/unknown constraint/);
  });
});

describe("inference", () => {
  it.each([
    ["text", "hello", { type: "__infer__", raw_value: "hello" }],
    ["integer", 3, { type: "__infer__", raw_value: 3 }],
    ["float", 3.25, { type: "__infer__", raw_value: 3.25 }],
    ["boolean", false, { type: "__infer__", raw_value: false }],
    ["null", null, { type: "__infer__", raw_value: null }],
    ["array", [1, { a: 2 }], { type: "__infer__", raw_value: [1, { a: 2 }] }],
    ["bigint", 5n, { type: "int", raw_value: 5n }],
    ["Date", new Date(2000), { type: "timestamp", raw_value: 2 }],
    ["URL", new URL("https://x.test/"), { type: "url", raw_value: "https://x.test/" }],
  ])("%s", (_name, value, expected) => {
    expect(inferMetadataValue(value)).toEqual(expected);
  });

  it("non-finite numbers become float metadata", () => {
    const value = inferMetadataValue(Number.POSITIVE_INFINITY);
    expect(value.type).toBe("float");
    expect(value.raw_value).toBeInstanceOf(PipesFloat);
  });

  it("plain objects must be wrapped (as in Python)", () => {
    expect(() => inferMetadataValue({ a: 1 })).toThrow(/PipesMetadata\.json/);
  });

  it("functions and symbols are rejected", () => {
    expect(() => inferMetadataValue(() => 1)).toThrow(/cannot be sent as metadata/);
    expect(() => inferMetadataValue(Symbol("s"))).toThrow(/cannot be sent as metadata/);
  });

  it("circular arrays are rejected", () => {
    const list: unknown[] = [];
    list.push(list);
    expect(() => inferMetadataValue(list)).toThrow(/circular reference/);
  });
});

describe("normalizeMetadata (the metadata param of reports)", () => {
  it("empty or missing metadata is null; undefined entries are dropped", () => {
    expect(normalizeMetadata(undefined, "m")).toBeNull();
    expect(normalizeMetadata(null, "m")).toBeNull();
    expect(normalizeMetadata({}, "m")).toBeNull();
    expect(normalizeMetadata({ a: undefined }, "m")).toBeNull();
  });

  it("accepts typed entries written by hand and validates their raw values", () => {
    expect(normalizeMetadata({ a: { type: "text", raw_value: "x" }, b: 1 }, "m")).toEqual({
      a: { type: "text", raw_value: "x" },
      b: { type: "__infer__", raw_value: 1 },
    });
    const float = normalizeMetadata({ f: { type: "float", raw_value: 3 } }, "m");
    expect(serializeJson(float)).toBe('{"f":{"type":"float","raw_value":3.0}}');
    expect(() => normalizeMetadata({ t: { type: "table_schema", raw_value: { columns: [{ name: "a" }] } } }, "m")).toThrow(
      /table column "a" needs a string "type"/,
    );
  });

  it("rejects unknown types with the Python message", () => {
    expect(() => normalizeMetadata({ x: { type: "bogus", raw_value: 1 } }, "report_asset_materialization")).toThrow(
      /^Invalid value for parameter `metadata\.x\.type` of `report_asset_materialization`\. Expected one of `__infer__, asset, bool, dagster_run, float, int, json, md, notebook, null, path, table, table_column_lineage, table_schema, text, timestamp, url`, got `bogus`\.$/,
    );
  });

  it("rejects non-object metadata and untyped objects", () => {
    expect(() => normalizeMetadata([] as unknown as Record<string, unknown>, "m")).toThrow(
      "Invalid type for parameter `metadata` of `m`. Expected a plain object, got array.",
    );
    expect(() => normalizeMetadata({ x: { type: "text" } }, "m")).toThrow(/Got a value `\{"type":"text"\}` for key `x`/);
  });
});

describe("serializeJson", () => {
  it("follows JSON.stringify for ordinary values", () => {
    const value = { a: [1, undefined, () => 1], b: undefined, c: new Date(0), d: "ü\n", e: -0, f: Number.NaN };
    expect(serializeJson(value)).toBe(JSON.stringify(value));
  });

  it("rejects Map and Set instead of silently sending {}", () => {
    expect(() => serializeJson({ m: new Map() })).toThrow(/Map at \$\.m/);
  });
});
