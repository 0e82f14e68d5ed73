/**
 * The customer-metrics compute (examples/customer-metrics calculateCustomerMetrics) at BENCH_ROWS orders
 * (default 1M), in nodejs-polars eager and lazy next to Python polars eager and lazy on the same Parquet
 * inputs, in one run. Not a test: it prints medians and ratios. The compute only (frames in memory on
 * both sides): reading and writing Parquet are bench/core.ts's and bench/storage.ts's.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pl from "nodejs-polars";
import { ensurePythonEnv } from "../packages/testing/src/python-env.js";
import { calculateCustomerMetrics } from "../examples/customer-metrics/src/logic/metrics.js";
import { generateCustomers, generateOrders } from "../examples/customer-metrics/src/logic/generate.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const rows = Number(process.env.BENCH_ROWS ?? 1_000_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The same query as calculateCustomerMetrics, eager: each operation materialises its frame. */
function eager(orders: pl.DataFrame, customers: pl.DataFrame): pl.DataFrame {
  return orders
    .join(customers, { on: "customer_id" })
    .groupBy("customer_id")
    .agg(pl.col("amount").sum().round(2).alias("total_spend"), pl.col("order_id").count().alias("order_count"))
    .sort("customer_id");
}

/** The same query, lazy, is the example's own calculateCustomerMetrics (one plan, optimised: projection pushdown drops name/country/order_date before the join). */
const lazy = calculateCustomerMetrics;

function medianMs(fn: (o: pl.DataFrame, c: pl.DataFrame) => pl.DataFrame, o: pl.DataFrame, c: pl.DataFrame): number {
  fn(o, c); // warm-up, not counted
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    fn(o, c);
    times.push(performance.now() - t0);
  }
  return median(times);
}

const work = mkdtempSync(join(tmpdir(), "baton-bench-metrics-"));
try {
  const orders = generateOrders(rows, { customers: 1_000, start: "2024-01-01", days: 31 });
  const customers = generateCustomers(1_000);
  // Both sides compute from the same bytes: Node writes the inputs once, each side reads them into memory.
  orders.writeParquet(join(work, "orders.parquet"));
  customers.writeParquet(join(work, "customers.parquet"));
  const o = pl.readParquet(join(work, "orders.parquet"));
  const c = pl.readParquet(join(work, "customers.parquet"));
  const shipped = calculateCustomerMetrics(o, c);
  if (!eager(o, c).frameEqual(shipped)) throw new Error("the eager query and the example's (lazy) function disagree");

  const node = { eager: medianMs(eager, o, c), lazy: medianMs(lazy, o, c) };
  const { python } = ensurePythonEnv({ name: "bench-polars", requirements: join(here, "requirements-polars.txt") });
  const out = execFileSync(python, [join(here, "customer_metrics_polars.py"), join(work, "orders.parquet"), join(work, "customers.parquet"), String(rounds)], { encoding: "utf8" });
  const line = out.split("\n").find((l) => l.startsWith("@@bench "));
  if (!line) throw new Error(`the Python peer printed no result:\n${out}`);
  const py = JSON.parse(line.slice("@@bench ".length)) as { polars: string; threads: number; eagerMs: number; lazyMs: number; checksum: number };
  const nodeChecksum = shipped.getColumn("total_spend").sum() as number;
  if (Math.abs(nodeChecksum - py.checksum) > 1e-6 * Math.abs(nodeChecksum)) throw new Error(`Node and Python disagree: ${nodeChecksum} vs ${py.checksum}`);

  const f = (x: number) => `${x.toFixed(1).padStart(7)} ms`;
  const r = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  console.log(`\n## customer-metrics compute, ${rows.toLocaleString("en-US")} orders ⋈ 1,000 customers (median of ${rounds}; nodejs-polars ${pl.version ?? "0.25.2"} vs Python polars ${py.polars}, ${py.threads} threads)`);
  console.log(`                      eager        lazy      lazy/eager`);
  console.log(`nodejs-polars     ${f(node.eager)}  ${f(node.lazy)}   ${r(node.lazy, node.eager)}`);
  console.log(`Python polars     ${f(py.eagerMs)}  ${f(py.lazyMs)}   ${r(py.lazyMs, py.eagerMs)}`);
  console.log(`Node / Python     ${r(node.eager, py.eagerMs).padStart(10)}  ${r(node.lazy, py.lazyMs).padStart(10)}`);
  console.log(`Node lazy (the example's calculateCustomerMetrics) / Python eager: ${r(node.lazy, py.eagerMs)}`);
  console.log(JSON.stringify({ customerMetrics: { rows, rounds, node, python: py } }));
} finally {
  rmSync(work, { recursive: true, force: true });
}
