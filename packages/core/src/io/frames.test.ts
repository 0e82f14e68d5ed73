import pl from "nodejs-polars";
import { tableFromArrays, tableFromIPC, tableToIPC, Table } from "apache-arrow";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HASH_SLICE_ROWS, contentHash, inChunksOf, toKind, toPolars } from "./frames.js";
import * as root from "../index.js";

/** More rows than two hash slices, so a frame's chunks and the hash's slices cut in different places. */
const ROWS = 2 * HASH_SLICE_ROWS + 1_234;
const base = () =>
  pl.DataFrame({
    id: pl.Series("id", Array.from({ length: ROWS }, (_, i) => i), pl.Int64),
    name: Array.from({ length: ROWS }, (_, i) => `customer-${i % 977}${i % 5 === 0 ? "-with-a-longer-name-than-view-inline" : ""}`),
    amount: Array.from({ length: ROWS }, (_, i) => i * 0.25),
  });

/** The same rows in chunks cut at `cuts` (the frame a vstack or a chunked reader gives). */
function chunked(df: pl.DataFrame, cuts: readonly number[]): pl.DataFrame {
  const bounds = [0, ...cuts, df.height];
  const parts = bounds.slice(1).map((end, i) => df.slice(bounds[i]!, end - bounds[i]!));
  return pl.concat(parts, { how: "vertical", rechunk: false });
}

describe("contentHash (issue 13: streamed over fixed slices)", () => {
  const df = base();
  const hash = contentHash(df);

  it("is the same for the same data however it is chunked", () => {
    const a = chunked(df, [1, HASH_SLICE_ROWS - 1, HASH_SLICE_ROWS + 7]);
    const b = chunked(df, [50_000, 100_000, 130_000]);
    expect(a.getColumn("name").nChunks()).toBe(4);
    expect(b.getColumn("id").nChunks()).toBe(4);
    expect(a.frameEqual(df)).toBe(true);
    expect(contentHash(a)).toBe(hash);
    expect(contentHash(b)).toBe(hash);
    // Computed rows (a filter and a sort) equal to the stored ones hash the same.
    const computed = pl.concat([df, df], { how: "vertical" }).filter(pl.col("id").gtEq(0)).sort("id").unique({ maintainOrder: true });
    expect(contentHash(computed)).toBe(hash);
  });

  it("changes with any value, column name, dtype or row order", () => {
    const last = ROWS - 1;
    const changedValue = df.withColumn(pl.when(pl.col("id").eq(last)).then(pl.lit(-1)).otherwise(pl.col("amount")).alias("amount"));
    expect(changedValue.height).toBe(ROWS);
    expect(contentHash(changedValue)).not.toBe(hash);
    expect(contentHash(df.rename({ amount: "amount2" }))).not.toBe(hash);
    expect(contentHash(df.withColumn(pl.col("id").cast(pl.Int32)))).not.toBe(hash);
    const swapped = pl.concat([df.slice(1, 1), df.slice(0, 1), df.slice(2, ROWS - 2)], { how: "vertical" });
    expect(contentHash(swapped)).not.toBe(hash);
    expect(contentHash(df.head(ROWS - 1))).not.toBe(hash);
  });

  it("is defined as sha256 over each slice's own IPC stream; a frame of one slice hashes as before issue 13", () => {
    const sha = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash("sha256")).digest("hex");
    const slices = [0, HASH_SLICE_ROWS, 2 * HASH_SLICE_ROWS].map((o) => df.slice(o, HASH_SLICE_ROWS).rechunk().writeIPCStream());
    expect(hash).toBe(sha(...slices));
    const small = df.head(1_000);
    expect(contentHash(small)).toBe(sha(small.rechunk().writeIPCStream()));
    expect(contentHash(df.head(HASH_SLICE_ROWS))).toBe(sha(df.head(HASH_SLICE_ROWS).rechunk().writeIPCStream()));
  });

  it("is the same without a writable temp folder (hashed in memory then)", () => {
    const tmp = process.env.TMPDIR;
    process.env.TMPDIR = "/nonexistent/baton-tmp";
    try {
      expect(contentHash(df)).toBe(hash);
    } finally {
      if (tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmp;
    }
  });

  it("tells empty frames apart by their columns and types", () => {
    const empty = df.head(0);
    expect(contentHash(empty)).toBe(contentHash(chunked(df, [10]).head(0)));
    expect(contentHash(empty)).not.toBe(contentHash(empty.rename({ id: "key" })));
    expect(contentHash(empty)).not.toBe(contentHash(empty.withColumn(pl.col("id").cast(pl.Float64))));
  });
});

describe("inChunksOf", () => {
  it("cuts a frame into chunks of at most n rows, the same rows in the same order", () => {
    const df = base();
    const cut = inChunksOf(df, 50_000);
    expect(cut.getColumn("name").nChunks()).toBe(Math.ceil(ROWS / 50_000));
    expect(cut.frameEqual(df)).toBe(true);
    const small = df.head(10);
    expect(inChunksOf(small, 50_000)).toBe(small);
  });
});

describe("toPolars", () => {
  it("converts an Arrow table of several record batches batch by batch into the same rows", async () => {
    const one = tableFromArrays({ id: Int32Array.from({ length: 10 }, (_, i) => i), x: Float64Array.from({ length: 10 }, (_, i) => i / 2) });
    const table = new Table([...tableFromArrays({ id: Int32Array.from([100, 101]), x: Float64Array.from([1, 2]) }).batches, ...one.batches, ...one.batches]);
    const df = await toPolars(table);
    expect(df.height).toBe(22);
    expect(df.getColumn("id").toArray()).toEqual([100, 101, ...[...Array(10).keys()], ...[...Array(10).keys()]]);
    expect(df.frameEqual(pl.readIPCStream(Buffer.from(tableToIPC(table, "stream"))))).toBe(true);
    expect(contentHash(df)).toBe(contentHash(pl.readIPCStream(Buffer.from(tableToIPC(table, "stream")))));
  });

  it("toKind gives a large frame to an Arrow asset as a table of the same rows (through a spool file)", async () => {
    const df = base();
    const table = (await toKind(df, "arrow")) as Table;
    expect(table.numRows).toBe(ROWS);
    expect(contentHash(await toPolars(table))).toBe(contentHash(df));
    expect((await toKind(df, "polars"))).toBe(df);
  });

  it("toArrow, the package's export @baton/iceberg converts with, is the same conversion (large frames through the spool file)", async () => {
    const df = base();
    const table = await root.toArrow(df);
    expect(table.numRows).toBe(ROWS);
    expect(contentHash(await toPolars(table))).toBe(contentHash(df));
  });

  it("keeps dictionary columns whole", async () => {
    const table = tableFromIPC(pl.DataFrame({ c: ["a", "b", "a"] }).withColumn(pl.col("c").cast(pl.Categorical)).writeIPCStream());
    const df = await toPolars(table);
    expect(df.getColumn("c").cast(pl.String).toArray()).toEqual(["a", "b", "a"]);
  });
});

