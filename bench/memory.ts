/**
 * Peak memory of writing one large output (issue 13; a benchmark, nothing here asserts): a 20M-row
 * frame of the orders' shape (three numeric columns and a date string) written to the store, the
 * peak resident set size of the writing process as a ratio to the frame's in-memory size
 * (`estimatedSize`). Goal: ≤ 1.5×.
 *
 * Each case runs in its own child process, which builds the frame, resets its peak (Linux's
 * /proc/self/clear_refs "5", so building the frame does not count), writes once and reads VmHWM:
 * - before: the old write path, reproduced here only as the baseline — the content hash over one
 *   IPC stream of the rechunked frame, and the Parquet file as one JS Buffer, then written out
 *   (local: temp + fsync + rename; s3: lib-storage from that buffer);
 * - after: the store's `write` as it is (hash streamed over fixed slices, polars writing the file
 *   by path, S3 uploading from the spool file).
 * The s3 cases use a moto server on loopback (as storage.ts does); moto's own memory is its process's.
 * BENCH_MEMORY_ROWS overrides the row count, BENCH_MEMORY_S3=0 leaves S3 out.
 */
import { spawnSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pl from "nodejs-polars";
import { openStore } from "@baton/core";
import { startMoto } from "../packages/testing/src/moto.js";

const rows = Number(process.env.BENCH_MEMORY_ROWS ?? 20_000_000);
const KEY = ["bench", "orders"];
type Case = "before-local" | "after-local" | "before-s3" | "after-s3";

interface Figures {
  readonly case: Case;
  readonly frameBytes: number;
  readonly rssBeforeWrite: number;
  readonly peakRss: number;
  readonly fileBytes: number;
  readonly writeMs: number;
  readonly rssBeforeRead: number;
  readonly readPeakRss: number;
  readonly readMs: number;
}

/** The orders' shape, built by polars (20M rows of JS arrays would cost more than the write measured). */
function orders(n: number): pl.DataFrame {
  const id = pl.col("order_id");
  return pl.DataFrame({ order_id: pl.intRange(1, n + 1, 1, pl.Int64, true) }).withColumns(
    id.mul(2_654_435_761).rem(1_000).add(1).alias("customer_id"),
    id.mul(40_503).rem(49_500).add(5).cast(pl.Float64).div(100).alias("amount"),
    pl.concatString([pl.lit("2024-01-"), id.rem(31).add(1).cast(pl.Utf8).str.zFill(2)], "").alias("order_date"),
  );
}

/**
 * The frame's in-memory size as polars' `estimated_size` counts it (nodejs-polars 0.25.2 does not
 * expose it): the Arrow buffers of each column — fixed-width values, and for strings 16-byte views
 * plus the bytes of strings too long to be inlined in a view (over 12 bytes) — and validity bitmaps.
 */
function estimatedSize(df: pl.DataFrame): number {
  let bytes = 0;
  for (const column of df.getColumns()) {
    const n = column.len();
    if (column.nullCount() > 0) bytes += Math.ceil(n / 8);
    if (String(column.dtype) === String(pl.String)) {
      const long = df.select(pl.col(column.name).str.lengths().alias("n")).filter(pl.col("n").gt(12)).getColumn("n").sum();
      bytes += 16 * n + Number(long ?? 0);
    } else {
      const width = { Int64: 8, UInt64: 8, Float64: 8, Datetime: 8, Int32: 4, UInt32: 4, Float32: 4, Date: 4, Int16: 2, UInt16: 2, Int8: 1, UInt8: 1 }[String(column.dtype).replace(/^DataType\((\w+).*$/, "$1")];
      if (width === undefined) throw new Error(`estimatedSize: no width for ${String(column.dtype)}`);
      bytes += width * n;
    }
  }
  return bytes;
}

const status = (field: "VmHWM" | "VmRSS") => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;

async function child(which: Case): Promise<void> {
  let frame: pl.DataFrame | undefined = orders(rows);
  const frameBytes = estimatedSize(frame);
  const s3 = which.endsWith("s3");
  const root = mkdtempSync(join(tmpdir(), "baton-bench-memory-"));
  const env = s3 ? (JSON.parse(process.env.BENCH_MEMORY_MOTO!) as Record<string, string>) : {};
  const store = openStore(s3 ? process.env.BENCH_MEMORY_S3_URL! : root, env);
  // Connect and load the SDK before the peak is reset: a step has done so before its compute.
  await store.prepare(KEY, undefined);
  globalThis.gc?.();
  writeFileSync("/proc/self/clear_refs", "5");
  const rssBeforeWrite = status("VmRSS");
  const t0 = performance.now();
  let fileBytes: number;
  let readBack: () => Promise<pl.DataFrame>;
  if (which.startsWith("before")) {
    const hash = createHash("sha256").update(frame.rechunk().writeIPCStream()).digest("hex");
    const bytes = frame.writeParquet({ compression: "zstd" });
    fileBytes = bytes.byteLength;
    const name = `data-${hash.slice(0, 16)}${s3 ? `-${randomUUID()}` : ""}.parquet`;
    if (s3) await uploadBuffer(env, process.env.BENCH_MEMORY_S3_URL!, name, bytes);
    else writeDurably(join(root, name), bytes);
    // The old read: the whole file as one Buffer, parsed from it.
    readBack = async () => pl.readParquet(s3 ? await downloadBuffer(env, process.env.BENCH_MEMORY_S3_URL!, name) : readFileSync(join(root, name)));
  } else {
    const record = await store.write({ key: KEY, partitionKey: undefined, frame, producedAs: "polars", format: "parquet", codeVersion: undefined, runId: "bench" });
    fileBytes = s3 ? Number.NaN : statSync(store.locationOf(KEY, undefined, record.file!)).size;
    readBack = async () => (await store.read(KEY, undefined)).frame;
  }
  const writeMs = performance.now() - t0;
  const peakRss = status("VmHWM");
  // The read, with the written frame released first (its memory goes back once it is collected).
  // eslint-disable-next-line no-useless-assignment -- dropping the only reference is the point: the GC below may then free it
  frame = undefined;
  globalThis.gc?.();
  await new Promise((r) => setTimeout(r, 200));
  globalThis.gc?.();
  writeFileSync("/proc/self/clear_refs", "5");
  const rssBeforeRead = status("VmRSS");
  const t1 = performance.now();
  const back = await readBack();
  const readMs = performance.now() - t1;
  if (back.height !== rows) throw new Error(`${which}: read back ${back.height} rows of ${rows}`);
  const figures: Figures = { case: which, frameBytes, rssBeforeWrite, peakRss, fileBytes, writeMs, rssBeforeRead, readPeakRss: status("VmHWM"), readMs };
  rmSync(root, { recursive: true, force: true });
  console.log(JSON.stringify(figures));
}

/** The SDK as core resolves it (core's optional peers; bench/ does not depend on them itself). */
const fromCore = createRequire(fileURLToPath(new URL("../packages/core/package.json", import.meta.url)));

/** The old local commit of a data file: temp file, fsync, rename. */
function writeDurably(target: string, bytes: Uint8Array): void {
  const tmp = `${target}.${randomUUID()}.tmp`;
  const fd = openSync(tmp, "wx");
  writeSync(fd, bytes);
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, target);
}

/** The old S3 data upload: lib-storage's multipart upload from the one buffer (8 MiB parts, 4 at a time). */
async function uploadBuffer(env: Record<string, string>, url: string, name: string, bytes: Uint8Array): Promise<void> {
  const [{ S3Client }, { Upload }] = (await Promise.all([import(fromCore.resolve("@aws-sdk/client-s3")), import(fromCore.resolve("@aws-sdk/lib-storage"))])) as [typeof import("@aws-sdk/client-s3"), typeof import("@aws-sdk/lib-storage")];
  const [, bucket, prefix] = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url)!;
  const client = s3Client(S3Client, env);
  const params = { Bucket: bucket!, Key: `${prefix}/${name}`, Body: bytes, IfNoneMatch: "*" };
  await new Upload({ client, params, partSize: 8 * 1024 * 1024, queueSize: 4, leavePartsOnError: false }).done();
}

/** The old S3 data read: the whole object as one buffer. */
async function downloadBuffer(env: Record<string, string>, url: string, name: string): Promise<Buffer> {
  const { S3Client, GetObjectCommand } = (await import(fromCore.resolve("@aws-sdk/client-s3"))) as typeof import("@aws-sdk/client-s3");
  const [, bucket, prefix] = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url)!;
  const res = await s3Client(S3Client, env).send(new GetObjectCommand({ Bucket: bucket!, Key: `${prefix}/${name}` }));
  const bytes = await res.Body!.transformToByteArray();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function s3Client(S3Client: typeof import("@aws-sdk/client-s3").S3Client, env: Record<string, string>) {
  return new S3Client({ region: env.AWS_REGION ?? "us-east-1", endpoint: env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL, forcePathStyle: true, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! } });
}

function run(which: Case, extraEnv: Record<string, string>): Figures {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [...process.execArgv, "--expose-gc", self, "--child", which], { env: { ...process.env, ...extraEnv }, encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${which} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  const line = r.stdout.trim().split("\n").pop()!;
  return JSON.parse(line) as Figures;
}

async function main(): Promise<void> {
  const results: Figures[] = [run("before-local", {}), run("after-local", {})];
  if (process.env.BENCH_MEMORY_S3 !== "0") {
    const moto = await startMoto({ bucket: "baton-bench" });
    try {
      const s3 = { BENCH_MEMORY_MOTO: JSON.stringify(moto.env), BENCH_MEMORY_S3_URL: moto.storageUrl(`memory/${randomUUID()}`) };
      results.push(run("before-s3", s3), run("after-s3", s3));
    } finally {
      await moto.stop();
    }
  }
  const mb = (b: number) => `${(b / 1e6).toFixed(b < 1e8 ? 1 : 0).padStart(6)} MB`;
  const frame = results[0]!.frameBytes;
  console.log(`\n## Peak RSS writing one ${rows.toLocaleString("en-US")}-row output (frame estimatedSize ${mb(frame).trim()}, parquet ${mb(results[1]!.fileBytes).trim()}); goal: peak ≤ 1.5× the frame`);
  for (const r of results) {
    const ratio = (r.peakRss / r.frameBytes).toFixed(2);
    const added = Math.max(0, (r.peakRss - r.rssBeforeWrite) / r.frameBytes).toFixed(2);
    console.log(`${r.case.padEnd(13)} peak ${mb(r.peakRss)} = ${ratio}× the frame (before the write ${mb(r.rssBeforeWrite)}; the write adds ${added}×)  ${(r.writeMs / 1000).toFixed(1)} s`);
  }
  console.log("reading it back (the written frame released first; \"before the read\" is what the write left behind: nodejs-polars never frees what it wrote into a JS Buffer):");
  for (const r of results) {
    const added = Math.max(0, (r.readPeakRss - r.rssBeforeRead) / r.frameBytes).toFixed(2);
    console.log(`${r.case.padEnd(13)} peak ${mb(r.readPeakRss)} = ${(r.readPeakRss / r.frameBytes).toFixed(2)}× the frame (before the read ${mb(r.rssBeforeRead)}; the read adds ${added}×)  ${(r.readMs / 1000).toFixed(1)} s`);
  }
  const byCase = Object.fromEntries(results.map((r) => [r.case, r]));
  for (const where of ["local", "s3"] as const) {
    const b = byCase[`before-${where}`];
    const a = byCase[`after-${where}`];
    if (a && b) console.log(`${where}: peak after/before ${(a.peakRss / b.peakRss).toFixed(2)}×, write time after/before ${(a.writeMs / b.writeMs).toFixed(2)}×`);
  }
  console.log(JSON.stringify({ memory: { rows, frameBytes: frame, cases: results } }));
}

if (process.argv[2] === "--child") await child(process.argv[3] as Case);
else await main();
