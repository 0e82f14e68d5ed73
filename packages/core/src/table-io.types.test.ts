/**
 * Type tests of table outputs (TABLE-OUTPUT-CONTRACT.md §1): with `resources` an object, `io.catalog` is one of
 * its keys. Checked by `tsc` (core's `typecheck` includes src/**); each `@ts-expect-error` is a mistake it catches.
 */
import pl from "nodejs-polars";
import { describe, expect, expectTypeOf, it } from "vitest";
import { asset } from "./asset.js";
import { resource } from "./resource.js";
import { dailyPartitions } from "./partitions/index.js";
import { MemoryTableSink } from "./__tests__/memory-table-sink.js";

const lake = resource({ create: () => new MemoryTableSink() });
const warehouse = resource({ create: () => ({ query: (): number => 1 }) });

describe("io.catalog", () => {
  it("is one of the declared resources' keys; ctx.resources keeps its types", () => {
    const a = asset({
      key: "daily_events",
      partitions: dailyPartitions({ start: "2024-01-01" }),
      resources: { lake, warehouse },
      io: { format: "iceberg", catalog: "lake", table: "analytics.daily_events", partitionColumn: "day", mode: "append" },
      compute: (_i, ctx) => {
        expectTypeOf(ctx.resources.warehouse.query()).toEqualTypeOf<number>();
        return pl.DataFrame({ day: [ctx.partitionKey] });
      },
    });
    expect(a.table).toEqual({ format: "iceberg", catalog: "lake", name: "analytics.daily_events", partitionColumn: "day", mode: "append" });
  });

  it("refuses a name the asset does not declare, and an unknown mode", () => {
    expect(() =>
      asset({
        key: "t",
        resources: { lake },
        // @ts-expect-error "lakes" is not a key of resources
        io: { format: "iceberg", catalog: "lakes", table: "ns.t" },
        compute: () => pl.DataFrame({ x: [1] }),
      }),
    ).toThrow(/io\.catalog "lakes" is not a resource the asset declares/);
    expect(() =>
      asset({
        key: "t",
        resources: { lake },
        // @ts-expect-error mode is "replace" or "append"
        io: { format: "iceberg", catalog: "lake", table: "ns.t", mode: "upsert" },
        compute: () => pl.DataFrame({ x: [1] }),
      }),
    ).toThrow(/unknown io\.mode "upsert"/);
  });

  it("is any name with the deprecated list form (checked at run time)", () => {
    const a = asset({ key: "t", resources: ["lake"], io: { format: "iceberg", catalog: "lake", table: "ns.t" }, compute: () => pl.DataFrame({ x: [1] }) });
    expect(a.table?.catalog).toBe("lake");
  });
});
