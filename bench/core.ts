/**
 * Core benchmarks (not tests), on this machine, in one run:
 * 1. embedded-executor overhead per asset on a generated graph of 1,000 trivial assets;
 * 2. the customer-metrics pipeline at 1M orders, time per stage.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pl from "nodejs-polars";
import { asset, definitions, LocalIOStore, materialize, type AssetDefinition } from "@baton/core";
import { calculateCustomerMetrics } from "../examples/customer-metrics/src/logic/metrics.js";
import { generateCustomers, generateOrders } from "../examples/customer-metrics/src/logic/generate.js";

const ms = (t0: number) => performance.now() - t0;
const fmt = (x: number) => x.toFixed(2);

async function executorOverhead(n: number): Promise<Record<string, number>> {
  // Layers of 10: each asset reads one asset of the previous layer, so inputs are read too.
  const assets: AssetDefinition<any, any>[] = [];
  const tiny = () => pl.DataFrame({ x: pl.Series("x", [1], pl.Int64) });
  for (let i = 0; i < n; i++) {
    const up = i >= 10 ? assets[i - 10] : undefined;
    assets.push(asset({ key: `a${i}`, ...(up ? { inputs: { up } } : {}), compute: up ? ({ up }: { up: pl.DataFrame }) => up : tiny } as never));
  }
  const defs = definitions({ assets });
  const root = mkdtempSync(join(tmpdir(), "baton-bench-"));
  try {
    // Direct calls: what the same functions cost with no executor at all.
    let t0 = performance.now();
    for (let i = 0; i < n; i++) tiny();
    const direct = ms(t0);
    const sideEffects = definitions({ assets: Array.from({ length: n }, (_, i) => asset({ key: `s${i}`, output: "none", compute: () => undefined })) });
    t0 = performance.now();
    const noIo = await materialize(sideEffects, { store: new LocalIOStore(join(root, "none")) });
    const noIoMs = ms(t0);
    t0 = performance.now();
    const full = await materialize(defs, { store: new LocalIOStore(join(root, "full")) });
    const fullMs = ms(t0);
    if (full.status !== "success" || noIo.status !== "success") throw new Error("benchmark run failed");
    return { assets: n, directMsPerAsset: direct / n, executorOnlyMsPerAsset: noIoMs / n, withParquetIoMsPerAsset: fullMs / n };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function pipelineStages(rows: number): Promise<Record<string, number>> {
  const root = mkdtempSync(join(tmpdir(), "baton-bench-"));
  const store = new LocalIOStore(root);
  try {
    let t0 = performance.now();
    const orders = generateOrders(rows, { customers: 1_000, start: "2024-01-01", days: 31 });
    const customers = generateCustomers(1_000);
    const generate = ms(t0);
    t0 = performance.now();
    await store.write({ key: ["orders"], partitionKey: undefined, frame: orders, producedAs: "polars", format: "parquet", codeVersion: undefined, runId: "bench" });
    await store.write({ key: ["customers"], partitionKey: undefined, frame: customers, producedAs: "polars", format: "parquet", codeVersion: undefined, runId: "bench" });
    const writeInputs = ms(t0);
    t0 = performance.now();
    const o = (await store.read(["orders"], undefined)).frame;
    const c = (await store.read(["customers"], undefined)).frame;
    const readInputs = ms(t0);
    t0 = performance.now();
    const metrics = calculateCustomerMetrics(o, c);
    const compute = ms(t0);
    t0 = performance.now();
    await store.write({ key: ["customer_metrics"], partitionKey: undefined, frame: metrics, producedAs: "polars", format: "parquet", codeVersion: undefined, runId: "bench" });
    const writeOutput = ms(t0);
    return { rows, generateMs: generate, writeInputsMs: writeInputs, readInputsMs: readInputs, computeMs: compute, writeOutputMs: writeOutput };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const n = Number(process.env.BENCH_ASSETS ?? 1000);
const rows = Number(process.env.BENCH_ROWS ?? 1_000_000);
await executorOverhead(50); // warm-up: module loading and the polars native library
const overhead = await executorOverhead(n);
const stages = await pipelineStages(rows);
console.log(`\n## embedded executor, ${n} trivial assets (goal: < 2 ms per asset)`);
console.log(`compute alone (1-row polars frame)      ${fmt(overhead.directMsPerAsset!)} ms/asset`);
console.log(`executor, side-effect assets (no data)  ${fmt(overhead.executorOnlyMsPerAsset!)} ms/asset`);
console.log(`executor, frame in + out (parquet)      ${fmt(overhead.withParquetIoMsPerAsset!)} ms/asset`);
console.log(`executor overhead over compute          ${fmt(overhead.withParquetIoMsPerAsset! - overhead.directMsPerAsset!)} ms/asset  (${fmt(overhead.withParquetIoMsPerAsset! / overhead.directMsPerAsset!)}× compute alone)`);
console.log(`\n## customer-metrics at ${rows.toLocaleString("en-US")} orders`);
for (const [k, v] of Object.entries(stages)) if (k !== "rows") console.log(`${k.padEnd(16)} ${fmt(v)} ms`);
console.log(JSON.stringify({ executor: overhead, pipeline: stages }));
