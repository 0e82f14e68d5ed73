/**
 * The authoring mistakes issue 14 lists, each caught by the compiler (core's `typecheck` runs tsc over src/**, so
 * an `@ts-expect-error` that no longer has an error to expect fails it: TS2578). Each mistake sits beside the
 * correct spelling, which must compile, so the expected error is the mistake's and not a neighbour's. The comment
 * above each quotes the compiler's message (TypeScript 5, `tsc --noEmit --pretty false`, first line). Mistakes are
 * wrapped in functions that are never called: what they would do at run time is tested elsewhere.
 */
import pl from "nodejs-polars";
import type { Table } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { asset, input } from "./asset.js";
import { assetCheck } from "./asset-check.js";
import { env, resource } from "./resource.js";
import { withMetadata } from "./with-metadata.js";
import { dailyPartitions, staticPartitions } from "./partitions/index.js";
import { schedule } from "./schedule.js";
import { storageClient } from "./protocols.js";

const frame = () => pl.DataFrame({ a: [1, 2] });
const bytes = new Uint8Array([1]);
const warehouse = storageClient(env("WAREHOUSE_URL", { default: ".baton/warehouse" }));
const orders = asset({ key: "orders", compute: frame });
const daily = dailyPartitions({ start: "2024-01-01" });
const customers = asset({ key: "customers", compute: frame });
const arrowTable = asset({ key: "arrow_table", compute: (): Table => frame().toRecords() as unknown as Table });
const arrowDaily = asset({ key: "arrow_daily", partitions: daily, compute: (): Table => frame().toRecords() as unknown as Table });
const summarize = (df: pl.DataFrame, day: string) => df.withColumn(pl.lit(day).alias("day"));
/** Declares without running: the compiler reads the body, the test never calls it. */
const compileOnly = (f: () => unknown): (() => unknown) => f;

describe("resources", () => {
  it("a resource named by string is unknown in ctx.resources (deprecated spelling): using it needs a cast", () => {
    compileOnly(() => [
      asset({ key: "right", resources: { warehouse }, output: "none", compute: async (_i, ctx) => ctx.resources.warehouse.write("m.csv", bytes) }),
      // TS18046: 'ctx.resources.warehouse' is of type 'unknown'.
      // @ts-expect-error the names spelling does not type the client
      asset({ key: "names", resources: ["warehouse"], output: "none", compute: async (_i, ctx) => ctx.resources.warehouse.write("m.csv", bytes) }),
    ]);
  });

  it("a resource the asset does not declare", () => {
    compileOnly(() =>
      // TS2551: Property 'warehous' does not exist on type '{ readonly warehouse: StorageClient; }'. Did you mean 'warehouse'?
      // @ts-expect-error a typo in the resource's name
      asset({ key: "typo", resources: { warehouse }, output: "none", compute: async (_i, ctx) => ctx.resources.warehous.write("m.csv", bytes) }),
    );
  });

  it("something that is not a resource() object (also refused at run time)", () => {
    // TS2769: No overload matches this call. … Object literal may only specify known properties, and 'write' does not exist in type 'ResourceDefinition<any, any>'.
    // @ts-expect-error a bare client instead of resource({ create })
    expect(() => asset({ key: "bare", resources: { warehouse: { write: async () => {} } }, compute: frame })).toThrow(/resources\.warehouse is not a resource/);
  });

  it("a StorageClient takes bytes, not text", () => {
    compileOnly(() => [
      asset({ key: "right", resources: { warehouse }, output: "none", compute: async (_i, ctx) => ctx.resources.warehouse.write("m.csv", new TextEncoder().encode("a,b")) }),
      // TS2345: Argument of type 'string' is not assignable to parameter of type 'Uint8Array<ArrayBufferLike>'.
      // @ts-expect-error write(path, string)
      asset({ key: "text", resources: { warehouse }, output: "none", compute: async (_i, ctx) => ctx.resources.warehouse.write("m.csv", "a,b") }),
    ]);
  });

  it("an env() default is a string", () => {
    compileOnly(() => [
      resource({ config: { n: env("N", { default: "5" }) }, create: ({ n }) => Number(n) }),
      // TS2322: Type 'number' is not assignable to type 'string'.
      // @ts-expect-error a number default
      resource({ config: { n: env("N", { default: 5 }) }, create: ({ n }) => Number(n) }),
    ]);
  });
});

describe("the context by partitions", () => {
  it("a partitioned asset's partitionKey is a string (no `!`); an unpartitioned one's is undefined", () => {
    compileOnly(() => [
      asset({ key: "right", partitions: daily, inputs: { orders }, compute: ({ orders }, ctx) => summarize(orders, ctx.partitionKey) }),
      // TS2345: Argument of type 'undefined' is not assignable to parameter of type 'string'.
      // @ts-expect-error an unpartitioned asset has no key
      asset({ key: "unpartitioned", inputs: { orders }, compute: ({ orders }, ctx) => summarize(orders, ctx.partitionKey) }),
    ]);
  });

  it("static partitions have no time window", () => {
    compileOnly(() => [
      asset({ key: "right", partitions: daily, compute: (_i, ctx) => frame().withColumn(pl.lit(ctx.timeWindow.start.toISOString()).alias("s")) }),
      // TS18048: 'ctx.timeWindow' is possibly 'undefined'.
      // @ts-expect-error a window on static partitions
      asset({ key: "static", partitions: staticPartitions(["eu"]), compute: (_i, ctx) => frame().withColumn(pl.lit(ctx.timeWindow.start.toISOString()).alias("s")) }),
    ]);
  });
});

describe("inputs", () => {
  it("an input with a partitionMapping and no `as` is typed as its upstream's output (here Arrow, not polars)", () => {
    compileOnly(() => [
      asset({ key: "right", partitions: daily, inputs: { t: input(arrowDaily, { as: "polars", partitionMapping: { type: "timeWindow" } }) }, compute: ({ t }, ctx) => summarize(t, ctx.partitionKey) }),
      // TS2345: Argument of type 'Table<any>' is not assignable to parameter of type 'DataFrame<any>'.
      // @ts-expect-error an Arrow input used as a polars frame
      asset({ key: "arrow", partitions: daily, inputs: { t: input(arrowDaily, { partitionMapping: { type: "timeWindow" } }) }, compute: ({ t }, ctx) => summarize(t, ctx.partitionKey) }),
    ]);
  });

  it("a destructuring typo in compute (at run time: UNKNOWN_INPUT naming the inputs)", () => {
    compileOnly(() => [
      asset({ key: "right", inputs: { orders }, compute: ({ orders }) => orders }),
      // TS2339: Property 'ordres' does not exist on type 'InputValues<{ orders: AssetDefinition<DataFrame<{ a: Float64; }>, Record<never, never>, undefined>; }>'.
      // @ts-expect-error ordres
      asset({ key: "typo", inputs: { orders }, compute: ({ ordres }) => ordres }),
    ]);
  });

  it("a partition mapping's type", () => {
    compileOnly(() =>
      // TS2820: Type '"timewindow"' is not assignable to type '"identity" | "timeWindow" | "allPartitions"'. Did you mean '"timeWindow"'?
      // @ts-expect-error a typo in the mapping's type
      asset({ key: "typo", partitions: daily, inputs: { t: input(arrowDaily, { partitionMapping: { type: "timewindow" } }) }, compute: ({ t }) => t }),
    );
  });
});

describe('output: "none"', () => {
  it('with a compute returning a frame', () => {
    compileOnly(() => [
      asset({ key: "right", output: "none", compute: async () => {} }),
      // TS2769: No overload matches this call. Overload 1 of 2 …: Type '"none"' is not assignable to type '"table"'. Overload 2 of 2 …: Type 'DataFrame<{ a: Float64; }>' is not assignable to type 'NoOutput | Promise<NoOutput>'.
      // @ts-expect-error a frame from a side-effect asset
      asset({ key: "frame", output: "none", compute: frame }),
      // TS2769: … Type 'OutputWithMetadata<DataFrame<{ a: Float64; }>>' is not assignable to type 'OutputWithMetadata<void>'.
      // @ts-expect-error withMetadata(frame) from a side-effect asset (withMetadata(undefined, …) is the right one)
      asset({ key: "frame_metadata", output: "none", compute: () => withMetadata(frame(), { sent: 1 }) }),
    ]);
  });

  it('a compute returning nothing without output: "none"', () => {
    compileOnly(() =>
      // TS2769: No overload matches this call. … Type 'Promise<void>' is not assignable to type 'Promise<TableOutput>'. … Property 'output' is missing in type '{ key: string; compute: () => Promise<void>; }' but required in type '{ output: "none"; }'.
      // @ts-expect-error a void compute stores nothing
      asset({ key: "void", compute: async () => {} }),
    );
  });

  it("withMetadata takes JSON values", () => {
    compileOnly(() => [
      asset({ key: "right", compute: () => withMetadata(frame(), { at: new Date(0).toISOString() }) }),
      // TS2322: Type 'Date' is not assignable to type 'MetadataValue'.
      // @ts-expect-error a Date is not JSON
      asset({ key: "date", compute: () => withMetadata(frame(), { at: new Date(0) }) }),
    ]);
  });
});

describe("checks", () => {
  it("an inline check's severity", () => {
    compileOnly(() =>
      // TS2769: No overload matches this call. … Type '"warning"' is not assignable to type 'CheckSeverity | undefined'.
      // @ts-expect-error "warn" or "error"
      asset({ key: "severity", compute: frame, checks: [{ name: "c", severity: "warning", check: (df) => df.height > 0 }] }),
    );
  });

  it("an inline check returns a boolean or a CheckResult", () => {
    compileOnly(() => [
      asset({ key: "right", compute: frame, checks: [{ name: "c", check: (df) => ({ passed: df.height > 0, description: `${df.height} rows` }) }] }),
      // TS2769: No overload matches this call. … Type 'string' is not assignable to type 'boolean | CheckResult | Promise<boolean | CheckResult>'.
      // @ts-expect-error a string verdict
      asset({ key: "text", compute: frame, checks: [{ name: "c", check: (df) => `${df.height} rows` }] }),
    ]);
  });
});

describe("standalone checks (assetCheck)", () => {
  it("a wrong input name", () => {
    compileOnly(() => [
      assetCheck({ name: "right", asset: orders, inputs: { customers }, check: (_o, { customers }) => customers.height > 0 }),
      // TS2339: Property 'custmers' does not exist on type 'InputValues<{ customers: AssetDefinition<DataFrame<{ a: Float64; }>, Record<never, never>, undefined>; }>'.
      // @ts-expect-error custmers
      assetCheck({ name: "typo", asset: orders, inputs: { customers }, check: (_o, { custmers }) => custmers.height > 0 }),
    ]);
  });

  it("the output is typed from the target (an Arrow table has no height)", () => {
    compileOnly(() => [
      assetCheck({ name: "right", asset: arrowTable, check: (t) => t.numRows > 0 }),
      // TS2339: Property 'height' does not exist on type 'Table<any>'.
      // @ts-expect-error a polars property on an Arrow output
      assetCheck({ name: "polars", asset: arrowTable, check: (t) => t.height > 0 }),
    ]);
  });

  it("the target is an asset object, not its key (also refused at run time)", () => {
    // TS2322: Type 'string' is not assignable to type 'AssetDefinition<any, any, any>'.
    // @ts-expect-error a key instead of the asset
    expect(() => assetCheck({ name: "by_key", asset: "orders", check: () => true })).toThrow(/asset is "orders", not an asset object/);
  });

  it("the verdict is a boolean or a CheckResult", () => {
    compileOnly(() => [
      assetCheck({ name: "right", asset: orders, check: (o) => ({ passed: o.height > 0, metadata: { rows: o.height } }) }),
      // TS2322: Type 'number' is not assignable to type 'CheckVerdict | Promise<CheckVerdict>'.
      // @ts-expect-error a row count as the verdict
      assetCheck({ name: "count", asset: orders, check: (o) => o.height }),
    ]);
  });
});

describe("schedules", () => {
  it("a schedule's partition type", () => {
    compileOnly(() => [
      schedule({ name: "right", cron: "0 1 * * *", selection: orders, partition: { type: "lastComplete" } }),
      // TS2322: Type '"last"' is not assignable to type '"static" | "lastComplete"'.
      // @ts-expect-error a typo in the partition's type
      schedule({ name: "typo", cron: "0 1 * * *", selection: orders, partition: { type: "last" } }),
    ]);
  });
});
