/**
 * IO store benchmark (not a test; nothing here asserts a time): write and read throughput of one
 * 1M-row output on the local store and on the s3 store (a moto server started here, on loopback), in
 * the same run so both are taken on the same machine state. Figures are medians of BENCH_STORAGE_REPEATS
 * rounds (default 3), each round writing a new version of the output (the s3 path is the real commit:
 * data object with If-None-Match, then the record with If-Match) and reading it back.
 *
 * moto keeps objects in memory in one Python process, so the s3 figures show Baton's S3 protocol
 * and the SDK's cost on loopback, not what a real bucket over a network gives.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pl from "nodejs-polars";
import { openStore, type IOStore } from "@baton/core";
import { startMoto } from "../packages/testing/src/moto.js";
import { generateOrders } from "../examples/customer-metrics/src/logic/generate.js";

const rows = Number(process.env.BENCH_ROWS ?? 1_000_000);
const repeats = Math.max(1, Number(process.env.BENCH_STORAGE_REPEATS ?? 3));
const KEY = ["bench", "orders"];

interface Figures {
  readonly writeMs: number;
  readonly readMs: number;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(store: IOStore, frame: pl.DataFrame): Promise<Figures> {
  const writes: number[] = [];
  const reads: number[] = [];
  for (let i = 0; i < repeats; i++) {
    let t0 = performance.now();
    const record = await store.write({ key: KEY, partitionKey: undefined, frame, producedAs: "polars", format: "parquet", codeVersion: undefined, runId: `bench-${i}` });
    writes.push(performance.now() - t0);
    t0 = performance.now();
    const { frame: back, record: read } = await store.read(KEY, undefined);
    reads.push(performance.now() - t0);
    // A benchmark of a store that lost rows would be worthless: say so instead of printing figures.
    if (back.height !== frame.height || read.contentHash !== record.contentHash) throw new Error(`${store.url}: read back ${back.height} rows (hash ${read.contentHash}), wrote ${frame.height} (hash ${record.contentHash})`);
  }
  return { writeMs: median(writes), readMs: median(reads) };
}

const frame = generateOrders(rows, { customers: 1_000, start: "2024-01-01", days: 31 });
const localRoot = mkdtempSync(join(tmpdir(), "baton-bench-storage-"));
const moto = await startMoto({ bucket: "baton-bench" });
try {
  const local = openStore(localRoot, {});
  const s3 = openStore(moto.storageUrl(`bench/${randomUUID()}`), moto.env);
  // Warm-up on both: module loading (the AWS SDK is imported on first use), moto's first requests.
  const small = frame.head(1_000);
  await measure(local, small);
  await measure(s3, small);

  const localFigures = await measure(local, frame);
  const s3Figures = await measure(s3, frame);
  // The data file is the same parquet on both stores; its size on disk is the MB of every figure.
  const record = (await local.readRecord(KEY, undefined))!;
  const mb = statSync(local.locationOf(KEY, undefined, record.file!)).size / 1e6;

  const rate = (ms: number) => ({ rowsPerS: rows / (ms / 1000), mbPerS: mb / (ms / 1000) });
  const line = (what: string, l: number, s: number) => {
    const lr = rate(l);
    const sr = rate(s);
    const cell = (ms: number, r: { rowsPerS: number; mbPerS: number }) => `${ms.toFixed(0).padStart(6)} ms ${(r.rowsPerS / 1e6).toFixed(2).padStart(6)} Mrows/s ${r.mbPerS.toFixed(1).padStart(7)} MB/s`;
    console.log(`${what.padEnd(6)} local ${cell(l, lr)} | s3 ${cell(s, sr)} | s3/local ${(sr.rowsPerS / lr.rowsPerS).toFixed(2)}×`);
  };
  console.log(`\n## IO store, one ${rows.toLocaleString("en-US")}-row output (${mb.toFixed(1)} MB parquet), median of ${repeats}; s3 = moto on 127.0.0.1`);
  line("write", localFigures.writeMs, s3Figures.writeMs);
  line("read", localFigures.readMs, s3Figures.readMs);
  console.log(
    JSON.stringify({
      storage: {
        rows,
        mb,
        repeats,
        local: { ...localFigures, write: rate(localFigures.writeMs), read: rate(localFigures.readMs) },
        s3: { ...s3Figures, write: rate(s3Figures.writeMs), read: rate(s3Figures.readMs) },
        s3OverLocalThroughput: { write: localFigures.writeMs / s3Figures.writeMs, read: localFigures.readMs / s3Figures.readMs },
      },
    }),
  );
} finally {
  await moto.stop();
  rmSync(localRoot, { recursive: true, force: true });
}
