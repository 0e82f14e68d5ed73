/**
 * Type tests for standalone checks (`assetCheck()`, CHECKS-CONTRACT.md §1): the output is typed from the target, the
 * inputs like a compute's, the context by the target's partitions. Each `@ts-expect-error` is a mistake the compiler catches.
 */
import pl from "nodejs-polars";
import { tableFromArrays, type Table } from "apache-arrow";
import { describe, expect, expectTypeOf, it } from "vitest";
import { asset, input } from "./asset.js";
import { assetCheck } from "./asset-check.js";
import { dailyPartitions, staticPartitions } from "./partitions/define.js";
import type { TimeWindow } from "./partitions/types.js";

const orders = asset({ key: "orders", compute: () => pl.DataFrame({ id: [1], customer: [1] }) });
const customers = asset({ key: "customers", compute: () => tableFromArrays({ id: [1] }) });
const daily = dailyPartitions({ start: "2024-01-01" });
const events = asset({ key: "events", partitions: daily, compute: () => pl.DataFrame({ n: [1] }) });
const regions = asset({ key: "regions", partitions: staticPartitions(["eu", "us"]), compute: () => pl.DataFrame({ n: [1] }) });
const published = asset({ key: "published", output: "none", compute: () => undefined });

describe("assetCheck types", () => {
  it("types the output from the target and the inputs like compute inputs", () => {
    assetCheck({
      name: "orders_have_customers",
      asset: orders,
      inputs: { customers, asPolars: input(customers, { as: "polars" }), mapped: input(events, { partitionMapping: { type: "allPartitions" } }) },
      check: (output, { customers, asPolars, mapped }, ctx) => {
        expectTypeOf(output).toExtend<pl.DataFrame>();
        expectTypeOf(output).not.toExtend<Table>();
        expectTypeOf(customers).toExtend<Table>();
        expectTypeOf(customers).not.toExtend<pl.DataFrame>();
        expectTypeOf(asPolars).toExtend<pl.DataFrame>();
        expectTypeOf(asPolars).not.toExtend<Table>();
        expectTypeOf(mapped).toExtend<pl.DataFrame>();
        expectTypeOf(mapped).not.toExtend<Table>();
        expectTypeOf(ctx.partitionKey).toEqualTypeOf<undefined>();
        return output.height === customers.numRows;
      },
    });
  });

  it("has no inputs by default and a side-effect target's output is undefined", () => {
    assetCheck({
      name: "published_ok",
      asset: published,
      check: (output, inputs) => {
        expectTypeOf(output).toEqualTypeOf<undefined>();
        expectTypeOf(inputs).toEqualTypeOf<Record<never, never>>();
        return { passed: true, metadata: { n: 1 } };
      },
    });
  });

  it("types the context by the target's partitions", () => {
    assetCheck({
      name: "daily_ok",
      asset: events,
      check: async (_output, _inputs, ctx) => {
        expectTypeOf(ctx.partitionKey).toEqualTypeOf<string>();
        expectTypeOf(ctx.timeWindow).toEqualTypeOf<TimeWindow>();
        return true;
      },
    });
    assetCheck({
      name: "static_ok",
      asset: regions,
      check: (_output, _inputs, ctx) => {
        expectTypeOf(ctx.partitionKey).toEqualTypeOf<string>();
        expectTypeOf(ctx.timeWindow).toEqualTypeOf<undefined>();
        return true;
      },
    });
  });

  it("catches a wrong input name, a non-asset target and a wrong verdict", () => {
    assetCheck({
      name: "typo",
      asset: orders,
      inputs: { customers },
      // @ts-expect-error an input the check does not declare
      check: (_output, { custmers }) => custmers !== undefined,
    });
    expect(() =>
      assetCheck({
        name: "by_key",
        // @ts-expect-error the target is an asset object, not a key
        asset: "orders",
        check: () => true,
      }),
    ).toThrow(/asset is "orders", not an asset object/);
    assetCheck({
      name: "wrong_verdict",
      asset: orders,
      // @ts-expect-error a check returns boolean | CheckResult
      check: () => "ok",
    });
  });
});
