import { asset, assetCheck, dailyPartitions, definitions, env, input, schedule, sensor, storageClient } from "@baton/core/authoring";
import { calculateCustomerMetrics, ordersWithoutCustomer, summarizeDay } from "./logic/metrics.js";
import { generateCustomers, generateOrders } from "./logic/generate.js";

/** Order volume: CUSTOMER_METRICS_ROWS scales the example (benchmarks use 1,000,000). */
const rows = Number(process.env.CUSTOMER_METRICS_ROWS ?? 10_000);
const START = "2024-01-01";
/** The published file's path in the warehouse, relative to its root (folder, or bucket and prefix). */
export const PUBLISHED_PATH = "customer_metrics.csv";

/**
 * Where published metrics land: the seed's StorageClient protocol (bytes by path), on a local folder by default or
 * on a bucket when WAREHOUSE_URL is `s3://bucket/prefix` (packages/core/STORAGE-CLIENT.md). The assets depend on the
 * protocol only; the deployment picks the backend.
 */
const warehouse = storageClient(
  env("WAREHOUSE_URL", { default: ".baton/warehouse", description: "folder or s3://bucket/prefix the metrics are published to" }),
);

const orders = asset({
  key: "orders",
  group: "sales",
  description: "Orders (generated deterministically)",
  codeVersion: "1",
  compute: () => generateOrders(rows, { customers: 1_000, start: START, days: 31 }),
});

const customers = asset({
  key: "customers",
  group: "sales",
  description: "Customers (generated deterministically)",
  compute: () => generateCustomers(1_000),
});

/**
 * A standalone check: customers is its own input (orders does not read it), so it runs in a step of its own after
 * both, and alone against stored outputs (`baton check --check orders_have_customers`). customer_metrics' inner join
 * would drop such orders silently; the check says how many.
 */
const ordersHaveCustomers = assetCheck({
  name: "orders_have_customers",
  asset: orders,
  inputs: { customers },
  description: "every order's customer_id is a customer",
  check: (orders, { customers }) => {
    const unmatched = ordersWithoutCustomer(orders, customers);
    return { passed: unmatched === 0, metadata: { unmatched, orders: orders.height } };
  },
});

const customerMetrics = asset({
  key: "customer_metrics",
  group: "sales",
  description: "Total spend and order count per customer",
  inputs: { orders, customers },
  codeVersion: "1",
  compute: ({ orders, customers }) => calculateCustomerMetrics(orders, customers),
  checks: [{ name: "spend_is_positive", check: (df) => Number(df.getColumn("total_spend").min()) > 0 }],
});

const publishedMetrics = asset({
  key: "published_metrics",
  group: "sales",
  description: "Publishes customer_metrics to the warehouse",
  inputs: { metrics: input(customerMetrics, { as: "polars" }) },
  resources: { warehouse },
  output: "none",
  compute: async ({ metrics }, ctx) => {
    // ctx.resources.warehouse is a StorageClient (typed by `resources: { warehouse }`, no cast).
    await ctx.resources.warehouse.write(PUBLISHED_PATH, new TextEncoder().encode(metrics.writeCSV().toString()));
    ctx.log.info(`published ${metrics.height} rows as ${PUBLISHED_PATH} in the warehouse (WAREHOUSE_URL)`);
  },
});

const dailyRevenue = asset({
  key: "daily_revenue",
  group: "sales",
  description: "Revenue per day, one partition per day",
  partitions: dailyPartitions({ start: START, end: "2024-02-01" }),
  inputs: { orders },
  compute: ({ orders }, ctx) => summarizeDay(orders, ctx.partitionKey),
});

const nightly = schedule({
  name: "nightly_revenue",
  cron: "15 1 * * *",
  timezone: "Europe/Paris",
  selection: "daily_revenue",
  description: "Yesterday's revenue, every night",
});

const metricsWhenOrdersChange = sensor({
  name: "orders_landed",
  selection: "customer_metrics+",
  minimumIntervalSeconds: 60,
  description: "Recompute metrics when a new orders drop lands in ORDERS_DROP_DIR",
  evaluate: async ({ cursor }) => {
    const { readdir } = await import("node:fs/promises");
    const drops = (await readdir(process.env.ORDERS_DROP_DIR ?? ".baton/drops").catch((): string[] => [])).filter((f) => f.endsWith(".csv")).sort();
    const latest = drops.filter((f) => cursor === undefined || f > cursor).at(-1);
    if (latest === undefined) return { skip: "no new orders drop", cursor };
    return { runRequests: [{ runKey: latest }], cursor: latest };
  },
});

// orders and customers are collected through the inputs of the assets that read them.
export default definitions({
  assets: [customerMetrics, publishedMetrics, dailyRevenue],
  schedules: [nightly],
  sensors: [metricsWhenOrdersChange],
  checks: [ordersHaveCustomers],
});
