import pl from "nodejs-polars";
import { tableFromArrays } from "apache-arrow";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalIOStore, openStore, type IOStore } from "@baton/core";
import { startMoto, type MotoServer } from "./moto.js";

/*
 * The S3 store against a real S3-API server (moto, started here): the same layout, hashes and
 * guarantees as the local store (STORAGE-CONTRACT.md).
 */
let moto: MotoServer;
const temps: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "baton-s3-"));
  temps.push(d);
  return d;
};

beforeAll(async () => {
  moto = await startMoto();
}, 240_000);
afterAll(async () => {
  await moto?.stop();
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

let prefixes = 0;
const s3 = (options: Parameters<typeof openStore>[2] = {}): IOStore => openStore(moto.storageUrl(`t${++prefixes}-${Date.now()}`), moto.env, options);

const frame = (n: number, offset = 0) => pl.DataFrame({ id: Array.from({ length: n }, (_, i) => i + offset), name: Array.from({ length: n }, (_, i) => `row-${i + offset}`) });

function write(store: IOStore, key: string[], df: pl.DataFrame | undefined, extra: { partitionKey?: string; format?: "parquet" | "ipc"; runId?: string; producedAs?: "polars" | "arrow" } = {}) {
  return store.write({
    key,
    partitionKey: extra.partitionKey,
    frame: df,
    producedAs: df ? (extra.producedAs ?? "polars") : "none",
    format: extra.format ?? "parquet",
    codeVersion: "v1",
    runId: extra.runId ?? "run-1",
  });
}

describe("S3 store (moto)", () => {
  it("round-trips polars and arrow outputs with the local store's content hashes, in the same layout", async () => {
    const store = s3();
    const local = new LocalIOStore(tempDir());
    const df = frame(50);
    const arrow = pl.readIPCStream(Buffer.from((await import("apache-arrow")).tableToIPC(tableFromArrays({ x: Int32Array.from([1, 2, 3]), y: ["a", "b", "c"] }), "stream")));
    for (const [key, f, format, producedAs] of [
      [["sales", "orders"], df, "parquet", "polars"],
      [["sales", "arrowy"], arrow, "ipc", "arrow"],
    ] as const) {
      const a = await write(store, [...key], f, { format, producedAs });
      const b = await write(local, [...key], f, { format, producedAs });
      expect(a.contentHash).toBe(b.contentHash);
      expect(a.schema).toEqual(b.schema);
      expect(a.file).toMatch(new RegExp(`^data-${b.contentHash!.slice(0, 16)}-[0-9a-f-]{36}\\.${format}$`));
      const back = await store.read([...key], undefined);
      expect(back.record).toEqual(a);
      expect(back.frame.toRecords()).toEqual(f.toRecords());
      expect(store.locationOf([...key], undefined, a.file!)).toBe(`${store.url}/${key.join("/")}/__unpartitioned__/${a.file}`);
    }
    expect(store.url).toMatch(/^s3:\/\/baton-test\/t\d+-\d+$/);
    const files = await store.listFiles();
    expect(files.filter((f) => f.endsWith("record.json"))).toEqual(["sales/arrowy/__unpartitioned__/record.json", "sales/orders/__unpartitioned__/record.json"]);
    expect(files.some((f) => f.includes(".baton-probe"))).toBe(false);
    expect(JSON.parse(await store.readText("sales/orders/__unpartitioned__/record.json"))).toMatchObject({ assetKey: "sales/orders", rowCount: 50 });
  });

  it("lists stored partitions (only folders with a record, not longer keys' folders) and reads several in key order", async () => {
    const store = s3();
    await write(store, ["daily"], frame(2, 0), { partitionKey: "2024-01-02" });
    await write(store, ["daily"], frame(2, 10), { partitionKey: "2024-01-01" });
    await write(store, ["daily"], frame(1, 20), { partitionKey: "a/b c" });
    await write(store, ["daily", "child"], frame(1));
    expect(await store.storedPartitions(["daily"])).toEqual(["2024-01-01", "2024-01-02", "a/b c"]);
    const many = await store.readMany(["daily"], ["2024-01-02", "2024-01-01"]);
    expect(many.frame.getColumn("id").toArray()).toEqual([0, 1, 10, 11]);
    expect(await store.storedPartitions(["nothing"])).toEqual([]);
  });

  it("a missing output is MISSING_OUTPUT naming the S3 folder and what to materialize", async () => {
    const store = s3();
    await expect(store.read(["nope"], undefined, "reader")).rejects.toMatchObject({ code: "MISSING_OUTPUT", message: expect.stringContaining(`looked in ${store.url}/nope/__unpartitioned__`) });
  });
});

describe("BATON_STORAGE forms", () => {
  it("rejects unsupported schemes and URLs with credentials, naming the value and the supported forms", () => {
    for (const spec of ["gs://bucket/p", "http://host/p", "s3a://bucket/p", "S3N://b/p"]) {
      expect(() => openStore(spec, {})).toThrow(expect.objectContaining({ code: "STORAGE_URL", message: expect.stringContaining(JSON.stringify(spec)) }));
      expect(() => openStore(spec, {})).toThrow(/s3:\/\/bucket\[\/prefix\]/);
    }
    const e = (() => {
      try {
        openStore("s3://AKIAKEY:sekrit@bucket/p", {});
      } catch (err) {
        return err as Error & { code?: string };
      }
      return undefined;
    })();
    expect(e?.code).toBe("STORAGE_URL");
    expect(e?.message).not.toContain("sekrit");
    expect(e?.message).not.toContain("AKIAKEY");
    expect(e?.message).toContain("AWS_ACCESS_KEY_ID");
    expect(() => openStore("s3://", {})).toThrow(expect.objectContaining({ code: "STORAGE_URL" }));
  });

  it("opens paths, file:// URLs and s3:// URLs as the right store", () => {
    const dir = tempDir();
    expect(openStore(dir, {})).toBeInstanceOf(LocalIOStore);
    expect(openStore(`file://${dir}`, {}).url).toBe(dir);
    expect(openStore(undefined, {}, { defaultRoot: dir }).url).toBe(dir);
    expect(openStore("s3://bucket/a/b/", {}).url).toBe("s3://bucket/a/b");
    expect(openStore("s3://bucket", {}).url).toBe("s3://bucket");
    expect(openStore("s3://bucket/p", {})).not.toBeInstanceOf(LocalIOStore);
  });
});
