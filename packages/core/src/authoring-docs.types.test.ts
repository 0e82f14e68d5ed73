/**
 * The examples of AUTHORING.md, compiled: each `describe` is a section of the document and holds its snippets as
 * written there (imported from the authoring entry, as the document does), with stubs for what a snippet leaves
 * to the reader (`Warehouse`, `listNewer`, …). Core's `typecheck` (tsc over src/**) checks that they compile and
 * that the types the document states hold (`expectTypeOf`); vitest checks a few run-time statements it makes.
 * A change to AUTHORING.md's examples belongs here too.
 */
import pl from "nodejs-polars";
import type { Table } from "apache-arrow";
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  asset,
  assetCheck,
  assetGroup,
  type AssetKey,
  dailyPartitions,
  definitions,
  downstream,
  env,
  group,
  hourlyPartitions,
  input,
  key,
  monthlyPartitions,
  resolveSelection,
  resource,
  schedule,
  secret,
  sensor,
  staticPartitions,
  tag,
  upstream,
  weeklyPartitions,
  withMetadata,
  type CheckResult,
  type StorageClient,
  type TimeWindow,
} from "./authoring.js";
import { storageClient } from "./protocols.js";
import { materialize } from "./executor/materialize.js";
import { MemoryTableSink } from "./__tests__/memory-table-sink.js";

// Stubs: what the document's snippets leave to the reader.
const compute = () => pl.DataFrame({ id: [1, 2, 3], amount: [10, 20, 30] });
class Warehouse {
  constructor(
    readonly dir: string,
    readonly token: string,
  ) {}
  async publish(): Promise<void> {}
  async close(): Promise<void> {}
}
class Bucket {
  constructor(readonly url: string) {}
  async listNewer(cursor: string | undefined): Promise<{ name: string; day: string }[]> {
    return cursor === undefined ? [{ name: "a.csv", day: "2024-01-01" }] : [];
  }
}
declare function toFrame(response: Response): pl.DataFrame;
const url = "https://example.com/data";

// ## Assets
const orders = asset({
  key: ["sales", "orders"],
  description: "raw orders",
  group: "sales",
  owners: ["team:data"],
  tags: { tier: "bronze" },
  metadata: { source: "erp" },
  io: { format: "parquet" },
  compute: () => pl.DataFrame({ id: [1, 2, 3], customer: [1, 1, 2], amount: [10, 20, 30] }),
});
const customers = asset({ key: ["sales", "customers"], group: "sales", compute: () => pl.DataFrame({ customer: [1, 2], name: ["a", "b"] }) });
const rawEvents = asset({ key: "raw_events", compute: (): Table => compute().toRecords() as unknown as Table });
const cleanup = asset({ key: "cleanup", output: "none", compute: () => {} });

describe("Assets", () => {
  it("an asset has an id from its key and a default group", () => {
    expect(orders.id).toBe("sales/orders");
    expect(asset({ key: "plain", compute }).group).toBe("default");
  });
});

describe("Inputs and input()", () => {
  it("inputs arrive by name, typed by what the upstream returns", () => {
    const metrics = asset({
      key: "customer_metrics",
      inputs: {
        orders,
        customers: "sales/customers",
        events: input(rawEvents, { as: "arrow" }),
      },
      deps: [cleanup],
      compute: ({ orders, customers, events }) => {
        expectTypeOf(events).toEqualTypeOf<Table>();
        return orders.join(customers, { on: "customer" });
      },
    });
    expect(metrics.inputs.map((i) => i.name)).toEqual(["orders", "customers", "events"]);
    // Objects in inputs and deps are collected; an input named by its key must be listed.
    expect(definitions({ assets: [metrics, customers] }).assets.map((a) => a.id).sort()).toEqual(["cleanup", "customer_metrics", "raw_events", "sales/customers", "sales/orders"]);
    expect(() => definitions({ assets: [metrics] })).toThrow(/input "customers" names "sales\/customers", which is not an asset in these definitions/);
  });
});

describe("Partitions and the context", () => {
  it("the partition definitions", () => {
    dailyPartitions({ start: "2024-01-01" });
    hourlyPartitions({ start: "2024-03-01T00:00", end: "2024-04-01T00:00", timezone: "Europe/Paris" });
    weeklyPartitions({ start: "2024-01-01", weekStartsOn: 1 });
    monthlyPartitions({ start: "2024-01-01", format: "%Y-%m" });
    staticPartitions(["eu", "us", "apac"]);
  });

  it("the context per partition kind", () => {
    asset({
      key: "daily_report",
      partitions: dailyPartitions({ start: "2024-01-01" }),
      compute: (_i, ctx) => {
        expectTypeOf(ctx.partitionKey).toEqualTypeOf<string>();
        expectTypeOf(ctx.timeWindow).toEqualTypeOf<TimeWindow>();
        return pl.DataFrame({ day: [ctx.partitionKey], from: [ctx.timeWindow.start.toISOString()] });
      },
    });
    asset({
      key: "by_region",
      partitions: staticPartitions(["eu", "us"]),
      compute: (_i, ctx) => {
        expectTypeOf(ctx.timeWindow).toEqualTypeOf<undefined>();
        return pl.DataFrame({ region: [ctx.partitionKey] });
      },
    });
    asset({
      key: "unpartitioned",
      compute: (_i, ctx) => {
        expectTypeOf(ctx.partitionKey).toEqualTypeOf<undefined>();
        return compute();
      },
    });
  });
});

describe("Partition mappings", () => {
  const hourlyEvents = asset({ key: "hourly_events", partitions: hourlyPartitions({ start: "2024-01-01T00:00" }), compute: () => pl.DataFrame({ user: ["a"] }) });
  it("a time-window input arrives as one frame", () => {
    const daily = asset({
      key: "daily_events",
      partitions: dailyPartitions({ start: "2024-01-01" }),
      inputs: { hours: input(hourlyEvents, { partitionMapping: { type: "timeWindow" } }) },
      compute: ({ hours }) => hours.groupBy("user").len(),
    });
    expect(daily.inputs[0]?.partitionMapping).toEqual({ type: "timeWindow" });
  });

  it("each mapping", () => {
    const regions = staticPartitions(["eu", "us"]);
    const raw = asset({ key: "raw_by_region", partitions: regions, compute: () => pl.DataFrame({ r: ["eu"] }) });
    asset({ key: "clean_by_region", partitions: regions, inputs: { raw: input(raw, { partitionMapping: { type: "identity" } }) }, compute: ({ raw }) => raw });
    asset({ key: "all_regions", inputs: { raw: input(raw, { partitionMapping: { type: "allPartitions" } }) }, compute: ({ raw }) => raw });
  });
});

describe('Side-effect assets: output: "none"', () => {
  it("a void compute", () => {
    const report = asset({ key: "report", compute });
    const publish = asset({ key: "publish", deps: [report], output: "none", compute: async (_i, ctx) => { ctx.log.info("published"); } });
    expect(publish.output).toBe("none");
  });
});

describe("Iceberg table outputs", () => {
  it("io.catalog names a declared resource; the asset carries its table", () => {
    // Stub: @baton/iceberg's icebergCatalog (core does not depend on it), a resource whose client is a TableSink.
    const icebergCatalog = resource({ create: () => new MemoryTableSink() });
    const dailyEvents = asset({
      key: "daily_events",
      partitions: dailyPartitions({ start: "2024-01-01" }),
      resources: { lake: icebergCatalog },
      io: { format: "iceberg", catalog: "lake", table: "analytics.daily_events", partitionColumn: "day" },
      compute: (_inputs, ctx) => pl.DataFrame({ day: [ctx.partitionKey], n: [1] }),
    });
    expect(dailyEvents.table).toEqual({ format: "iceberg", catalog: "lake", name: "analytics.daily_events", partitionColumn: "day", mode: "replace" });
  });
});

describe("Compute metadata: withMetadata", () => {
  it("a frame and its metadata", () => {
    const raw = asset({ key: "raw", compute });
    asset({
      key: "clean",
      inputs: { raw },
      compute: ({ raw }) => {
        const clean = raw.filter(pl.col("amount").gt(0));
        return withMetadata(clean, { rows_dropped: raw.height - clean.height });
      },
    });
    asset({ key: "notify", output: "none", compute: () => withMetadata(undefined, { sent: 3 }) });
  });
});

describe("Code versions", () => {
  it("default from the compute's source, overridable", () => {
    expect(asset({ key: "a", compute }).codeVersion).toMatch(/^[0-9a-f]{12}$/);
    expect(asset({ key: "a", codeVersion: "2", compute }).codeVersion).toBe("2");
  });
});

describe("Retry, timeouts, pools", () => {
  it("as the document writes them", () => {
    asset({ key: "api_pull", retry: { maxRetries: 3, delaySeconds: 10, backoff: "exponential" }, compute });
    asset({ key: "slow", timeoutSeconds: 300, compute: async (_i, ctx) => toFrame(await fetch(url, { signal: ctx.signal })) });
    const load = asset({ key: "load", pool: "warehouse", compute });
    const defs = definitions({ assets: [load], pools: { warehouse: { limit: 2, description: "the DWH allows 2 sessions" } } });
    expect(defs.pools).toEqual({ warehouse: { limit: 2, description: "the DWH allows 2 sessions" } });
  });
});

describe("Asset groups: assetGroup", () => {
  it("a group's specs are assets; a TypeScript asset reads one through group.asset(key)", () => {
    const rawOrders = asset({ key: "raw_orders", compute });
    const warehouse = assetGroup({
      name: "warehouse", // a step name: letters, digits, _
      specs: [
        { key: "orders", kinds: ["sql"], checks: [{ name: "not_null_id" }] },
        { key: "revenue", deps: ["orders"], codeVersion: "v2" },
      ],
      async execute(ctx) {
        const orders = await ctx.inputFile("raw_orders"); // the exact Parquet file of raw_orders' record
        void orders;
        // …write each selected spec's output as Parquet at ctx.outputFile(key)…
        return {
          materializations: ctx.selected.map((key) => ({ key })),
          checks: [{ asset: "orders", name: "not_null_id", passed: true }],
          failures: [], // { key, error } for a spec that failed: no record
        };
      },
    });
    const report = asset({ key: "report", inputs: { revenue: warehouse.asset("revenue") }, compute: ({ revenue }) => revenue });
    const defs = definitions({ assets: [rawOrders, warehouse, report] });
    expectTypeOf(warehouse.asset("revenue").key).toEqualTypeOf<AssetKey>();
    expectTypeOf(report.compute).parameter(0).toEqualTypeOf<{ revenue: pl.DataFrame }>();
    expect(defs.upstream("report")).toEqual(["revenue"]);
    expect(defs.asset("orders").checks.map((c) => c.name)).toEqual(["not_null_id"]);
  });
});

describe("Checks", () => {
  it("inline checks: a boolean or a CheckResult, with a severity", () => {
    asset({
      key: "orders_checked",
      compute,
      checks: [
        { name: "not_empty", check: (df) => df.height > 0 },
        {
          name: "no_negative",
          severity: "warn",
          description: "refunds are separate",
          check: (df): CheckResult => {
            const bad = df.filter(pl.col("amount").lt(0)).height;
            return { passed: bad === 0, description: `${bad} negative`, metadata: { bad } };
          },
        },
      ],
    });
  });
});

describe("Standalone checks: assetCheck", () => {
  it("a check with an input of its own, typed from its target; definitions({ checks }) collects target and inputs", () => {
    const metrics = asset({ key: ["analytics", "metrics"], inputs: { orders }, compute: ({ orders }) => orders });
    const ordersHaveCustomers = assetCheck({
      name: "orders_have_customers",
      asset: orders,
      inputs: { customers },
      severity: "warn",
      description: "every order's customer exists",
      check: (orders, { customers }, ctx) => {
        expectTypeOf(orders).toExtend<pl.DataFrame>();
        expectTypeOf(ctx.partitionKey).toEqualTypeOf<undefined>();
        const unmatched = orders.join(customers, { on: "customer", how: "anti" }).height;
        return { passed: unmatched === 0, metadata: { unmatched } };
      },
    });
    const defs = definitions({ assets: [metrics], checks: [ordersHaveCustomers] });
    expect(defs.assets.map((a) => a.id).sort()).toEqual(["analytics/metrics", "sales/customers", "sales/orders"]);
    expect(defs.checksOf("sales/orders").map((c) => [c.name, c.severity])).toEqual([["orders_have_customers", "warn"]]);
  });

  it("the context is the target's, typed by its partitions", () => {
    const daily = asset({ key: "daily", partitions: dailyPartitions({ start: "2024-01-01" }), compute });
    assetCheck({
      name: "has_rows",
      asset: daily,
      check: (df, _inputs, ctx) => {
        expectTypeOf(ctx.partitionKey).toEqualTypeOf<string>();
        return df.height > 0;
      },
    });
    const side = asset({ key: "side", output: "none", compute: () => {} });
    assetCheck({ name: "ran", asset: side, check: (output) => (expectTypeOf(output).toEqualTypeOf<undefined>(), true) });
  });
});

describe("Resources", () => {
  it("objects, typed in ctx.resources; env defaults and secrets", () => {
    const warehouse = resource({
      description: "the reporting warehouse",
      config: {
        dir: env("WAREHOUSE_DIR", { default: ".baton/warehouse", description: "where tables go" }),
        token: secret("WAREHOUSE_TOKEN"),
      },
      create: ({ dir, token }) => new Warehouse(dir, token),
      teardown: (wh) => wh.close(),
    });
    const published = asset({
      key: "published",
      resources: { warehouse },
      output: "none",
      compute: async (_i, ctx) => {
        expectTypeOf(ctx.resources.warehouse).toEqualTypeOf<Warehouse>();
        await ctx.resources.warehouse.publish();
      },
    });
    expect(definitions({ assets: [published] }).resources).toEqual({ warehouse });
  });

  it("a StorageClient resource", () => {
    const lake = storageClient(env("LAKE_URL", { default: ".baton/lake" }));
    asset({
      key: "exported",
      resources: { lake },
      output: "none",
      compute: async (_i, ctx) => {
        expectTypeOf(ctx.resources.lake).toEqualTypeOf<StorageClient>();
        await ctx.resources.lake.write("daily/orders.csv", new TextEncoder().encode("id\n1\n"));
      },
    });
  });

  it("the deprecated names spelling", () => {
    const warehouse = resource({ create: () => new Warehouse(".", "") });
    const legacy = asset({
      key: "legacy",
      resources: ["warehouse"],
      output: "none",
      compute: async (_i, ctx) => {
        expectTypeOf(ctx.resources.warehouse).toEqualTypeOf<unknown>();
        await (ctx.resources.warehouse as Warehouse).publish();
      },
    });
    expect(definitions({ assets: [legacy], resources: { warehouse } }).resources).toEqual({ warehouse });
  });
});

describe("Schedules, sensors, selections", () => {
  const dailyMetrics = asset({ key: "daily_metrics", partitions: dailyPartitions({ start: "2024-01-01" }), inputs: { orders }, compute: ({ orders }) => orders });

  it("a schedule", () => {
    const nightly = schedule({
      name: "nightly",
      cron: "0 6 * * *",
      timezone: "Europe/Paris",
      selection: upstream(dailyMetrics),
      partition: { type: "lastComplete", offset: 0 },
      description: "after the nightly load",
    });
    expect(nightly.selection).toBe("+daily_metrics");
  });

  it("a sensor with a typed resource and run requests narrowing the selection", async () => {
    const rawFiles = asset({ key: "raw_files", group: "raw", compute });
    const bucket = resource({ config: { url: env("DROPS_URL", { default: ".baton/drops" }) }, create: ({ url }) => new Bucket(url) });
    const s = sensor({
      name: "new_files",
      selection: "group:raw",
      minimumIntervalSeconds: 60,
      resources: { bucket },
      evaluate: async ({ cursor, resources }) => {
        expectTypeOf(resources.bucket).toEqualTypeOf<Bucket>();
        const files = await resources.bucket.listNewer(cursor);
        const last = files.at(-1);
        if (last === undefined) return { skip: "no new files", cursor };
        return {
          runRequests: files.map((f) => ({ runKey: f.name, partitionKey: f.day, tags: { file: f.name }, selection: downstream(rawFiles) })),
          cursor: last.name,
        };
      },
    });
    expect(s.resources).toEqual(["bucket"]);
    const tick = await s.evaluate({ cursor: undefined, now: new Date(0), resources: { bucket: new Bucket("x") }, log: console as never });
    expect(tick).toEqual({ runRequests: [{ runKey: "a.csv", partitionKey: "2024-01-01", tags: { file: "a.csv" }, selection: "raw_files+" }], cursor: "a.csv" });
    expect(definitions({ assets: [rawFiles], sensors: [s] }).resources).toEqual({ bucket });
  });

  it("selection helpers resolve to the string syntax", () => {
    const metrics = asset({ key: ["analytics", "metrics"], compute });
    expect(resolveSelection(metrics)).toBe("analytics/metrics");
    expect(resolveSelection(key("analytics/metrics"))).toBe("analytics/metrics");
    expect(resolveSelection(upstream(metrics, 1))).toBe("1+analytics/metrics");
    expect(resolveSelection(downstream(orders, 2))).toBe("sales/orders+2");
    expect(resolveSelection(upstream(downstream(orders)))).toBe("+sales/orders+");
    expect(resolveSelection(upstream(group("sales")))).toBe("+group:sales");
    expect(resolveSelection(tag("tier", "gold"))).toBe("tag:tier=gold");
    expect(resolveSelection([metrics, group("raw")])).toBe("analytics/metrics group:raw");
  });

  it("every place takes every form", () => {
    const metrics = asset({ key: ["analytics", "metrics"], inputs: { orders, customers }, compute: ({ orders }) => orders });
    const s = schedule({ name: "sales_nightly", cron: "0 2 * * *", selection: [upstream(metrics), group("sales")] });
    expect(s.selection).toBe("+analytics/metrics group:sales");
    const defs = definitions({ assets: [metrics] });
    expect(defs.select(upstream(metrics))).toEqual(["sales/orders", "sales/customers", "analytics/metrics"]);
    const run = () =>
      materialize(defs, {
        selection: upstream(metrics),
        partitionRange: { start: "2024-01-01", end: "2024-01-07" },
        env: { ...process.env, WAREHOUSE_URL: "/tmp/wh" },
      });
    expectTypeOf(run).returns.resolves.toHaveProperty("failure");
    const checksAlone = () => materialize(defs, { checksOnly: true, checks: ["orders_have_customers"] });
    expectTypeOf(checksAlone).returns.resolves.toHaveProperty("assets");
  });

  it("defs.select takes the same selections", () => {
    const defs = definitions({ assets: [dailyMetrics, customers] });
    expect(defs.select(upstream(dailyMetrics))).toEqual(["sales/orders", "daily_metrics"]);
    expect(defs.select("group:sales").sort()).toEqual(["sales/customers", "sales/orders"]);
  });
});
