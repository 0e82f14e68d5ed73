/**
 * Type tests of the authoring API (issue 14): what `asset()` infers for `ctx.resources`, the
 * partition fields of the context, inputs and `output`. They are checked by `tsc` (core's
 * `typecheck` includes src/**); each `@ts-expect-error` line is a mistake the compiler must catch.
 * The runtime assertions keep vitest honest about the same declarations.
 */
import pl from "nodejs-polars";
import type { Table } from "apache-arrow";
import { describe, expect, expectTypeOf, it } from "vitest";
import { asset, input, type AssetContext } from "./asset.js";
import { env, resource } from "./resource.js";
import { withMetadata } from "./with-metadata.js";
import { dailyPartitions, hourlyPartitions, staticPartitions } from "./partitions/index.js";
import type { PartitionsDefinition, TimeWindow } from "./partitions/types.js";

interface Warehouse {
  publish(table: string, csv: string): Promise<string>;
}
const warehouse = resource({
  config: { dir: env("WAREHOUSE_DIR", { default: ".baton/warehouse" }) },
  create: ({ dir }): Warehouse => ({ publish: async (table) => `${dir}/${table}.csv` }),
});
const counter = resource({ create: async () => ({ next: (): number => 1 }) });

const frame = () => pl.DataFrame({ a: [1, 2] });
const events = asset({ key: "events", partitions: hourlyPartitions({ start: "2024-01-01" }), compute: frame });
const table = asset({ key: "table", compute: (): Table => frame().toRecords() as unknown as Table });

describe("ctx.resources", () => {
  it("is typed from resource objects, by record key (an async create is awaited)", () => {
    const a = asset({
      key: "published",
      resources: { warehouse, counter },
      output: "none",
      compute: async (_inputs, ctx) => {
        expectTypeOf(ctx.resources.warehouse).toEqualTypeOf<Warehouse>();
        expectTypeOf(ctx.resources.counter).toEqualTypeOf<{ next: () => number }>();
        // @ts-expect-error a resource the asset does not declare
        void ctx.resources.warehous;
        await ctx.resources.warehouse.publish("t", "");
      },
    });
    expect(a.resources).toEqual(["warehouse", "counter"]);
    expect(a.resourceDefinitions).toEqual({ warehouse, counter });
  });

  it("stays unknown for names (deprecated spelling)", () => {
    asset({
      key: "by_name",
      resources: ["warehouse"],
      compute: (_i, ctx) => {
        expectTypeOf(ctx.resources.warehouse).toEqualTypeOf<unknown>();
        return frame();
      },
    });
  });

  it("rejects something that is not a resource", () => {
    // @ts-expect-error resources: { x } must hold resource() objects
    expect(() => asset({ key: "bad_resource", resources: { warehouse: { publish: () => "" } }, compute: frame })).toThrow(/resources.warehouse is not a resource/);
  });
});

describe("the context by partitions", () => {
  it("time partitions: a key and its window", () => {
    asset({
      key: "daily",
      partitions: dailyPartitions({ start: "2024-01-01" }),
      compute: (_i, ctx) => {
        expectTypeOf(ctx.partitionKey).toEqualTypeOf<string>();
        expectTypeOf(ctx.timeWindow).toEqualTypeOf<TimeWindow>();
        return frame();
      },
    });
  });

  it("static partitions: a key, no window", () => {
    asset({
      key: "regions",
      partitions: staticPartitions(["eu", "us"]),
      compute: (_i, ctx) => {
        expectTypeOf(ctx.partitionKey).toEqualTypeOf<string>();
        expectTypeOf(ctx.timeWindow).toEqualTypeOf<undefined>();
        return frame();
      },
    });
  });

  it("unpartitioned: no key", () => {
    asset({
      key: "plain",
      compute: (_i, ctx) => {
        expectTypeOf(ctx.partitionKey).toEqualTypeOf<undefined>();
        // @ts-expect-error an unpartitioned asset has no partition key to pass on
        void ctx.partitionKey.length;
        return frame();
      },
    });
  });

  it("partitions only known as PartitionsDefinition: a key, maybe a window", () => {
    const chosen = (): PartitionsDefinition => staticPartitions(["a"]);
    const p = chosen();
    asset({
      key: "either",
      partitions: p,
      compute: (_i, ctx) => {
        expectTypeOf(ctx.partitionKey).toEqualTypeOf<string>();
        expectTypeOf(ctx.timeWindow).toEqualTypeOf<TimeWindow | undefined>();
        return frame();
      },
    });
  });

  it("the bare AssetContext keeps both optional (what the runtime builds)", () => {
    expectTypeOf<AssetContext["partitionKey"]>().toEqualTypeOf<string | undefined>();
    expectTypeOf<AssetContext["timeWindow"]>().toEqualTypeOf<TimeWindow | undefined>();
    expectTypeOf<AssetContext["resources"]>().toEqualTypeOf<Readonly<Record<string, unknown>>>();
  });
});

describe("inputs", () => {
  it("are the upstream's output whatever the options", () => {
    asset({
      key: "inputs",
      partitions: dailyPartitions({ start: "2024-01-01" }),
      inputs: {
        plain: events,
        mapped: input(events, { partitionMapping: { type: "timeWindow" } }),
        asPolars: input(table, { as: "polars" }),
        asArrow: input(events, { as: "arrow", partitionMapping: { type: "timeWindow" } }),
        spec: { asset: table, partitionMapping: { type: "allPartitions" } },
        arrowTable: table,
        byKey: "sales/orders",
      },
      compute: ({ plain, mapped, asPolars, asArrow, spec, arrowTable, byKey }) => {
        expectTypeOf(plain).toExtend<pl.DataFrame>();
        expectTypeOf(plain).not.toExtend<Table>();
        expectTypeOf(mapped).toExtend<pl.DataFrame>();
        expectTypeOf(mapped).not.toExtend<Table>();
        expectTypeOf(asPolars).toExtend<pl.DataFrame>();
        expectTypeOf(asPolars).not.toExtend<Table>();
        expectTypeOf(asArrow).toEqualTypeOf<Table>();
        expectTypeOf(spec).toEqualTypeOf<Table>();
        expectTypeOf(arrowTable).toEqualTypeOf<Table>();
        expectTypeOf(byKey).toExtend<pl.DataFrame>();
        expectTypeOf(byKey).not.toExtend<Table>();
        return mapped;
      },
    });
  });

  it("a mapped input is usable as a frame without `as` (issue 14: TS2345 before)", () => {
    const summarize = (df: pl.DataFrame, day: string) => df.withColumn(pl.lit(day).alias("day"));
    asset({
      key: "daily_summary",
      partitions: dailyPartitions({ start: "2024-01-01" }),
      inputs: { events: input(events, { partitionMapping: { type: "timeWindow" } }) },
      compute: ({ events }, ctx) => summarize(events, ctx.partitionKey),
    });
  });

  it("an input that is not declared is a compile error", () => {
    asset({
      key: "typo",
      inputs: { events },
      // @ts-expect-error no input named "evnts"
      compute: ({ evnts }) => evnts as pl.DataFrame,
    });
  });
});

describe("output", () => {
  it('"none" goes with a void compute', () => {
    const a = asset({ key: "side_effect", output: "none", compute: async () => undefined });
    expectTypeOf(a.compute).returns.toEqualTypeOf<void | Promise<void>>();
    expect(a.output).toBe("none");
  });

  it('a void compute without output: "none" is a compile error', () => {
    // @ts-expect-error Property 'output' is missing
    asset({ key: "forgot_none", compute: () => {} });
    // @ts-expect-error Property 'output' is missing
    asset({ key: "forgot_none_async", compute: async () => {} });
    // @ts-expect-error output "table" needs a frame
    asset({ key: "table_void", output: "table", compute: () => {} });
  });

  it('output: "none" with a compute returning a frame is a compile error', () => {
    // @ts-expect-error Type '"none"' is not assignable to type '"table" | undefined'
    asset({ key: "none_frame", output: "none", compute: frame });
  });

  it("withMetadata(frame, …) stores the frame: checks and downstream inputs see the frame", () => {
    const a = asset({
      key: "with_metadata",
      compute: () => withMetadata(frame(), { rows_dropped: 3 }),
      checks: [{ name: "rows", check: (df) => (expectTypeOf(df).toExtend<pl.DataFrame>(), df.height > 0) }],
    });
    asset({
      key: "reads_it",
      inputs: { a },
      compute: ({ a }) => (expectTypeOf(a).toExtend<pl.DataFrame>(), a),
    });
    asset({ key: "side_effect_metadata", output: "none", compute: () => withMetadata(undefined, { sent: 1 }) });
    // @ts-expect-error withMetadata(frame) on output: "none"
    asset({ key: "none_with_frame", output: "none", compute: () => withMetadata(frame(), {}) });
  });

  it("a frame output types the checks and downstream inputs", () => {
    const a = asset({
      key: "checked",
      compute: frame,
      checks: [{ name: "rows", check: (df) => (expectTypeOf(df).toExtend<pl.DataFrame>(), df.height > 0) }],
    });
    expectTypeOf(a.compute).returns.toExtend<pl.DataFrame | Promise<pl.DataFrame>>();
  });
});
