import pl from "nodejs-polars";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { join, relative, sep } from "node:path";
import { tableFromIPC } from "apache-arrow";
import { afterEach, describe, expect, it } from "vitest";
import { BatonError } from "../errors.js";
import { LocalIOStore, defaultStorageRoot } from "./store.js";
import { HASH_SLICE_ROWS, contentHash } from "./frames.js";
import { cleanupTempDirs, tempDir, thrown } from "../__tests__/helpers.js";

afterEach(cleanupTempDirs);

const frame = (n: number, offset = 0) =>
  pl.DataFrame({ id: Array.from({ length: n }, (_, i) => i + offset), name: Array.from({ length: n }, (_, i) => `row-${i + offset}`) });

function write(store: LocalIOStore, key: string[], df: pl.DataFrame | undefined, extra: { partitionKey?: string; format?: "parquet" | "ipc"; runId?: string } = {}) {
  return store.write({
    key,
    partitionKey: extra.partitionKey,
    frame: df,
    producedAs: df ? "polars" : "none",
    format: extra.format ?? "parquet",
    codeVersion: "v1",
    runId: extra.runId ?? "run-1",
  });
}

describe("LocalIOStore", () => {
  it("writes a record and a data file under <root>/<key parts>/<partition>/ and reads them back", async () => {
    const root = tempDir();
    const store = new LocalIOStore(root);
    const df = frame(3);
    const record = await write(store, ["sales", "orders"], df);
    expect(record).toMatchObject({
      assetKey: "sales/orders",
      partitionKey: null,
      format: "parquet",
      rowCount: 3,
      contentHash: contentHash(df),
      producedAs: "polars",
      codeVersion: "v1",
      runId: "run-1",
    });
    expect(record.schema).toEqual([
      { name: "id", type: "Float64" },
      { name: "name", type: "String" },
    ]);
    const dir = join(root, "sales", "orders", "__unpartitioned__");
    expect(store.dirOf(["sales", "orders"], undefined)).toBe(dir);
    expect(record.file).toMatch(/^data-[0-9a-f]{16}\.parquet$/);
    expect(readdirSync(dir).sort()).toEqual([record.file, "record.json"].sort());
    expect(JSON.parse(readFileSync(join(dir, "record.json"), "utf8"))).toEqual(record);

    const back = await store.read(["sales", "orders"], undefined);
    expect(back.record).toEqual(record);
    expect(back.frame.toRecords()).toEqual(df.toRecords());
  });

  it("stores Arrow IPC when asked, with the same content hash as parquet", async () => {
    const store = new LocalIOStore(tempDir());
    const df = frame(5);
    const pq = await write(store, ["a"], df, { format: "parquet" });
    const ipc = await write(store, ["b"], df, { format: "ipc" });
    expect(ipc.format).toBe("ipc");
    expect(ipc.file).toMatch(/\.ipc$/);
    expect(pq.file).toMatch(/\.parquet$/);
    expect(ipc.contentHash).toBe(pq.contentHash);
    const a = await store.read(["a"], undefined);
    const b = await store.read(["b"], undefined);
    expect(b.frame.toRecords()).toEqual(df.toRecords());
    expect(a.frame.toRecords()).toEqual(df.toRecords());
    // Read back from either format, the data hashes the same as what was written.
    expect(contentHash(a.frame)).toBe(pq.contentHash);
    expect(contentHash(b.frame)).toBe(pq.contentHash);
  });

  it("hashes content independently of chunking, and differently for different data", async () => {
    const whole = frame(6);
    const chunked = pl.concat([frame(3), frame(3, 3)], { how: "vertical", rechunk: false });
    expect(chunked.toRecords()).toEqual(whole.toRecords());
    expect(contentHash(chunked)).toBe(contentHash(whole));
    expect(contentHash(frame(6, 1))).not.toBe(contentHash(whole));
    const store = new LocalIOStore(tempDir());
    const r1 = await write(store, ["x"], chunked);
    const r2 = await write(store, ["y"], whole, { format: "ipc" });
    expect(r1.contentHash).toBe(r2.contentHash);
  });

  it("writes a frame larger than a hash slice in both formats, read back with the same rows and hash", async () => {
    const store = new LocalIOStore(tempDir());
    const df = frame(HASH_SLICE_ROWS * 2 + 5);
    const pq = await write(store, ["big", "pq"], df);
    const ipc = await write(store, ["big", "ipc"], df, { format: "ipc" });
    expect(ipc.contentHash).toBe(pq.contentHash);
    for (const key of [["big", "pq"], ["big", "ipc"]]) {
      const back = await store.read(key, undefined);
      expect(back.frame.frameEqual(df), key.join("/")).toBe(true);
      expect(contentHash(back.frame), key.join("/")).toBe(pq.contentHash);
    }
    // The IPC file holds record batches of at most 65,536 rows (one batch is encoded in memory at a time).
    const file = store.locationOf(["big", "ipc"], undefined, ipc.file!);
    expect(tableFromIPC(readFileSync(file)).batches.map((b) => b.numRows)).toEqual([HASH_SLICE_ROWS, HASH_SLICE_ROWS, 5]);
  });

  it("addresses partitions separately and lists the stored ones", async () => {
    const store = new LocalIOStore(tempDir());
    await write(store, ["events"], frame(1), { partitionKey: "2024-01-02" });
    await write(store, ["events"], frame(2), { partitionKey: "2024-01-01" });
    expect(await store.storedPartitions(["events"])).toEqual(["2024-01-01", "2024-01-02"]);
    expect(await store.storedPartitions(["nothing"])).toEqual([]);
    expect((await store.read(["events"], "2024-01-01")).frame.height).toBe(2);
    expect((await store.read(["events"], "2024-01-02")).frame.height).toBe(1);
  });

  it("readMany concatenates partitions in the order of the keys asked for", async () => {
    const store = new LocalIOStore(tempDir());
    await write(store, ["events"], frame(2, 0), { partitionKey: "p1" });
    await write(store, ["events"], frame(3, 10), { partitionKey: "p2" });
    await write(store, ["events"], frame(1, 20), { partitionKey: "p3" });
    const { frame: all, records } = await store.readMany(["events"], ["p1", "p2", "p3"]);
    expect(all.getColumn("id").toArray()).toEqual([0, 1, 10, 11, 12, 20]);
    expect(records.map((r) => r.partitionKey)).toEqual(["p1", "p2", "p3"]);
    const reversed = await store.readMany(["events"], ["p3", "p1"]);
    expect(reversed.frame.getColumn("id").toArray()).toEqual([20, 0, 1]);
  });

  it("readMany of no partitions is a MISSING_OUTPUT error naming the reader", async () => {
    const store = new LocalIOStore(tempDir());
    const e = await thrown(() => store.readMany(["events"], [], "daily_summary"));
    expect(e).toBeInstanceOf(BatonError);
    expect(e).toMatchObject({ code: "MISSING_OUTPUT", asset: "daily_summary" });
    expect(e.hint).toBeTruthy();
  });

  it("a missing output is MISSING_OUTPUT with a hint naming what to materialize", async () => {
    const store = new LocalIOStore(tempDir());
    const e = await thrown(() => store.read(["sales", "orders"], undefined, "customer_metrics"));
    expect(e).toMatchObject({ code: "MISSING_OUTPUT", asset: "customer_metrics" });
    expect(e.message).toContain('input "sales/orders" has not been materialized');
    expect(e.hint).toContain("baton materialize --select sales/orders");
    expect(e.hint).toContain("--select +customer_metrics");

    await write(store, ["events"], frame(1), { partitionKey: "2024-01-01" });
    const p = await thrown(() => store.read(["events"], "2024-01-02", "daily"));
    expect(p).toMatchObject({ code: "MISSING_OUTPUT", asset: "daily" });
    expect(p.message).toContain('partition "2024-01-02"');
    expect(p.hint).toContain("--select events --partition 2024-01-02");
  });

  it("a side-effect output stores a record without data, which cannot be read as a frame", async () => {
    const store = new LocalIOStore(tempDir());
    const record = await write(store, ["notify"], undefined);
    expect(record).toMatchObject({ format: "none", file: null, rowCount: null, contentHash: null, schema: [], producedAs: "none" });
    expect(readdirSync(store.dirOf(["notify"], undefined))).toEqual(["record.json"]);
    expect(await store.readRecord(["notify"], undefined)).toEqual(record);
    expect(await thrown(() => store.read(["notify"], undefined))).toMatchObject({ code: "MISSING_OUTPUT" });
  });

  it("removes the stale data file when an output is rewritten, and leaves no temp files", async () => {
    const { utimesSync } = await import("node:fs");
    const store = new LocalIOStore(tempDir());
    const dir = store.dirOf(["t"], undefined);
    const age = (file: string) => utimesSync(join(dir, file), new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    const first = await write(store, ["t"], frame(2));
    age(first.file!);
    const second = await write(store, ["t"], frame(3));
    expect(second.file).not.toBe(first.file);
    expect(readdirSync(dir).sort()).toEqual([second.file, "record.json"].sort());
    expect(existsSync(join(dir, first.file!))).toBe(false);
    // Switching format replaces the file too.
    age(second.file!);
    const third = await write(store, ["t"], frame(3), { format: "ipc" });
    expect(readdirSync(dir).sort()).toEqual([third.file, "record.json"].sort());
    // Rewriting identical data keeps the one file.
    await write(store, ["t"], frame(3), { format: "ipc" });
    expect(readdirSync(dir).sort()).toEqual([third.file, "record.json"].sort());
  });

  it("leaves a fresh unreferenced data file alone: it may be a concurrent writer's, about to commit", async () => {
    const store = new LocalIOStore(tempDir());
    const dir = store.dirOf(["t"], undefined);
    const first = await write(store, ["t"], frame(2));
    const second = await write(store, ["t"], frame(3));
    expect(readdirSync(dir).sort()).toEqual([first.file, second.file, "record.json"].sort());
    expect((await store.read(["t"], undefined)).record.file).toBe(second.file);
  });

  it("a corrupt record is an error naming the file and saying how to fix it", async () => {
    const store = new LocalIOStore(tempDir());
    await write(store, ["t"], frame(2));
    const { writeFileSync } = await import("node:fs");
    const recordPath = join(store.dirOf(["t"], undefined), "record.json");
    writeFileSync(recordPath, "{ not json");
    const e = await thrown(() => store.read(["t"], undefined));
    expect(e).toMatchObject({ code: "MANIFEST", file: recordPath, asset: "t" });
    expect(e.hint).toContain("re-materialize");
  });

  it("a record whose data file is gone is MISSING_OUTPUT naming the file (not an endless retry)", async () => {
    const store = new LocalIOStore(tempDir());
    const record = await write(store, ["t"], frame(2));
    const { rmSync } = await import("node:fs");
    const dataPath = join(store.dirOf(["t"], undefined), record.file!);
    rmSync(dataPath);
    const e = await thrown(() => store.read(["t"], undefined, "down"));
    expect(e).toMatchObject({ code: "MISSING_OUTPUT", file: dataPath, asset: "down" });
    expect(e.hint).toContain("baton materialize --select t");
  });

  it("writes atomically: concurrent readers always see a complete old or new output, never a missing file", async () => {
    const store = new LocalIOStore(tempDir());
    const versions = Array.from({ length: 8 }, (_, v) => frame(20 + v, v * 1000));
    const hashes = new Set(versions.map(contentHash));
    await write(store, ["hot"], versions[0]);
    let writing = true;
    let failed = false; // a failing reader stops the writer, so nothing writes after cleanup
    const writer = (async () => {
      try {
        for (let i = 0; i < 150 && !failed; i++) await write(store, ["hot"], versions[i % versions.length], { format: i % 3 === 0 ? "ipc" : "parquet", runId: `run-${i}` });
      } finally {
        writing = false;
      }
    })();
    const reader = async () => {
      let reads = 0;
      try {
        while (writing) {
          const { frame: got, record } = await store.read(["hot"], undefined);
          // The frame matches the record it was read with: never a mix of two versions.
          expect(hashes.has(record.contentHash!)).toBe(true);
          expect(contentHash(got)).toBe(record.contentHash);
          expect(got.height).toBe(record.rowCount);
          reads++;
        }
      } catch (e) {
        failed = true;
        throw e;
      }
      return reads;
    };
    const settled = await Promise.allSettled([reader(), reader(), reader(), writer]);
    for (const s of settled) if (s.status === "rejected") throw s.reason;
    const reads = settled.slice(0, 3).map((s) => (s as PromiseFulfilledResult<number>).value);
    expect(reads.every((n) => n > 0)).toBe(true);
    const dir = store.dirOf(["hot"], undefined);
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    // Superseded files are collected by a later write once they are old enough.
    const { utimesSync } = await import("node:fs");
    const past = new Date(Date.now() - 120_000);
    for (const n of readdirSync(dir).filter((n) => n.startsWith("data-"))) utimesSync(join(dir, n), past, past);
    const last = await write(store, ["hot"], frame(7));
    expect(readdirSync(dir).filter((n) => n.startsWith("data-"))).toEqual([last.file]);
  });

  it("hostile partition keys cannot leave their asset's folder or share one (issue 10, defect 4: the audit's ns/. and ns/child/..)", async () => {
    const root = tempDir();
    const store = new LocalIOStore(root);
    // Raw keys, as if definitions() had not refused them.
    await write(store, ["ns"], pl.DataFrame({ owner: ["ns"] }), { partitionKey: "." });
    await write(store, ["ns", "child"], pl.DataFrame({ owner: ["ns/child"] }), { partitionKey: ".." });
    expect((await store.read(["ns"], ".")).frame.getColumn("owner").toArray()).toEqual(["ns"]);
    expect((await store.read(["ns", "child"], "..")).frame.getColumn("owner").toArray()).toEqual(["ns/child"]);
    expect(await store.readRecord(["ns"], ".")).toMatchObject({ assetKey: "ns", partitionKey: "." });

    const hostile = [".", "..", "...", ".hidden", "__unpartitioned__", "%2E", "%5F_unpartitioned__", "a/b", "../../etc", "x\ny", "nul\u0000", "back\\slash", "é", "it's", "*", "~"];
    const cases: Array<[string[], string | undefined]> = [
      [["ns"], undefined],
      [["ns", "child"], undefined],
      ...hostile.map((k): [string[], string] => [["ns"], k]),
      ...hostile.map((k): [string[], string] => [["ns", "child"], k]),
      // Asset key parts given raw as well (toAssetKey refuses these).
      [[".."], undefined],
      [["..", ".."], "x"],
      [["__unpartitioned__"], undefined],
    ];
    const dirs = new Set<string>();
    for (const [key, partition] of cases) {
      const dir = store.dirOf(key, partition);
      const rel = relative(root, dir).split(sep);
      // Exactly one segment per key part plus one for the partition, none of them climbing.
      expect(rel, `${key.join("/")} ${JSON.stringify(partition)}`).toHaveLength(key.length + 1);
      expect(rel.every((s) => s !== "." && s !== ".." && s !== "" && !s.includes("/"))).toBe(true);
      expect(dirs.has(dir), `${key.join("/")} ${JSON.stringify(partition)} shares ${dir}`).toBe(false);
      dirs.add(dir);
      await write(store, key, pl.DataFrame({ owner: [`${key.join("/")}@${String(partition)}`] }), { partitionKey: partition });
    }
    // Every output reads back as its own, after all of them were written.
    for (const [key, partition] of cases) {
      const { frame: got, record } = await store.read(key, partition);
      expect(got.getColumn("owner").toArray()).toEqual([`${key.join("/")}@${String(partition)}`]);
      expect(record).toMatchObject({ assetKey: key.join("/"), partitionKey: partition ?? null });
    }
    // Nothing was written outside the root, and the root holds only the asset folders.
    expect(readdirSync(root).sort()).toEqual(["%2E.", "%5F_unpartitioned__", "ns"]);
    expect((await store.storedPartitions(["ns"])).sort()).toEqual([...hostile].sort());
    // Ordinary keys keep the encoding stores have always used.
    expect(relative(root, store.dirOf(["sales", "orders"], "2024-01-01-00:00"))).toBe(join("sales", "orders", "2024-01-01-00%3A00"));
    expect(relative(root, store.dirOf(["sales"], "eu west"))).toBe(join("sales", "eu%20west"));
    expect(relative(root, store.dirOf(["sales"], "v1.2"))).toBe(join("sales", "v1.2"));
    expect(relative(root, store.dirOf(["sales"], undefined))).toBe(join("sales", "__unpartitioned__"));
    expect(() => store.dirOf(["sales"], "")).toThrow(BatonError);
  });

  it("a record that names another asset or partition is an error, never read as this output", async () => {
    const store = new LocalIOStore(tempDir());
    await write(store, ["victim"], pl.DataFrame({ x: [1] }), { partitionKey: "eu" });
    await write(store, ["other"], pl.DataFrame({ secret: [42] }), { partitionKey: "us" });
    // As a store written before keys were encoded (or a case-insensitive filesystem) would leave it.
    copyFileSync(join(store.dirOf(["other"], "us"), "record.json"), join(store.dirOf(["victim"], "eu"), "record.json"));
    const e = await thrown(() => store.read(["victim"], "eu", "report"));
    expect(e).toMatchObject({ code: "MANIFEST", asset: "victim", file: join(store.dirOf(["victim"], "eu"), "record.json") });
    expect(e.problem).toContain('belongs to "other" partition "us"');
    expect(e.hint).toContain("re-materialize");
    await expect(store.readRecord(["victim"], "eu")).rejects.toThrow(/belongs to "other"/);
    // The same asset, another partition.
    mkdirSync(store.dirOf(["victim"], "us"), { recursive: true });
    copyFileSync(join(store.dirOf(["other"], "us"), "record.json"), join(store.dirOf(["victim"], "us"), "record.json"));
    await write(store, ["victim"], pl.DataFrame({ x: [2] }), { partitionKey: "apac" });
    copyFileSync(join(store.dirOf(["victim"], "apac"), "record.json"), join(store.dirOf(["victim"], "us"), "record.json"));
    expect((await thrown(() => store.read(["victim"], "us"))).problem).toContain('belongs to "victim" partition "apac"');
    // And an unpartitioned read of a partition's record.
    mkdirSync(store.dirOf(["victim"], undefined), { recursive: true });
    copyFileSync(join(store.dirOf(["victim"], "apac"), "record.json"), join(store.dirOf(["victim"], undefined), "record.json"));
    expect((await thrown(() => store.read(["victim"], undefined))).problem).toContain('belongs to "victim" partition "apac"');
  });

  it("lists as partitions only folders that hold a record, not the folders of longer asset keys", async () => {
    const store = new LocalIOStore(tempDir());
    await write(store, ["a"], frame(1), { partitionKey: "eu" });
    await write(store, ["a", "b"], frame(1));
    await write(store, ["a", "c"], frame(1), { partitionKey: "x" });
    expect(await store.storedPartitions(["a"])).toEqual(["eu"]);
    expect(await store.storedPartitions(["a", "c"])).toEqual(["x"]);
  });

  it("collects temp files of killed writers once stale, and never touches the folders of longer asset keys (issue 10, defect 6)", async () => {
    const store = new LocalIOStore(tempDir());
    const dir = store.dirOf(["a"], "p");
    // A longer asset key whose folder sits inside a's partition folder, with a "data-" name.
    await write(store, ["a", "p", "data-x"], frame(1));
    const old = new Date(Date.now() - 120_000);
    utimesSync(join(dir, "data-x"), old, old);
    mkdirSync(dir, { recursive: true });
    const killedData = `data-0123456789abcdef.parquet.${randomUUID()}.tmp`;
    const killedRecord = `record.json.${randomUUID()}.tmp`;
    const fresh = `data-fedcba9876543210.parquet.${randomUUID()}.tmp`;
    for (const name of [killedData, killedRecord, fresh, "notes.tmp"]) writeFileSync(join(dir, name), "partial");
    for (const name of [killedData, killedRecord, "notes.tmp"]) utimesSync(join(dir, name), old, old);
    const record = await write(store, ["a"], frame(2), { partitionKey: "p" });
    // Stale temp files are gone; a fresh one (a writer still at work) and files that are not ours stay.
    expect(readdirSync(dir).sort()).toEqual([record.file, "data-x", fresh, "notes.tmp", "record.json"].sort());
    expect((await store.read(["a", "p", "data-x"], undefined)).frame.height).toBe(1);
  });

  it("defaults its root to BATON_STORAGE, else ./.baton/storage", () => {
    expect(defaultStorageRoot({ BATON_STORAGE: "/srv/baton" })).toBe("/srv/baton");
    expect(defaultStorageRoot({})).toBe(join(process.cwd(), ".baton", "storage"));
  });
});
