import pl from "nodejs-polars";
import { tableFromArrays } from "apache-arrow";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalIOStore, asset, contentHash, staticPartitions, definitions, materialize, openStore, type IOStore } from "@baton/core";
import { runStep, type StepEvent } from "@baton/core/step";
import { startMoto, type MotoServer } from "./moto.js";
import { waitFor } from "./wait.js";

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

/** The AWS SDK core uses (its dev dependency here), for what a test does behind the store's back. */
const requireFromCore = createRequire(createRequire(import.meta.url).resolve("@baton/core"));
const sdk = requireFromCore("@aws-sdk/client-s3") as {
  S3Client: new (config: object) => { send(command: object): Promise<{ ETag?: string }> };
  HeadObjectCommand: new (input: object) => object;
  DeleteObjectCommand: new (input: object) => object;
};
const client = () => new sdk.S3Client({ region: "us-east-1", endpoint: moto.endpoint, forcePathStyle: true, credentials: { accessKeyId: moto.env.AWS_ACCESS_KEY_ID!, secretAccessKey: moto.env.AWS_SECRET_ACCESS_KEY! } });
const objectKey = (store: IOStore, relative: string) => ({ Bucket: moto.bucket, Key: `${store.url.slice(`s3://${moto.bucket}/`.length)}/${relative}` });

async function etagOf(store: IOStore, relative: string): Promise<string | undefined> {
  return (await client().send(new sdk.HeadObjectCommand(objectKey(store, relative)))).ETag;
}

const dataFiles = async (store: IOStore, folder: string) => (await store.listFiles()).filter((f) => f.startsWith(`${folder}/data-`));

describe("S3 commit protocol (moto)", () => {
  it("two concurrent writers: both commit and report, the last one wins and names the other, readers never see a torn output", async () => {
    const url = moto.storageUrl(`race-${Date.now()}`);
    const key = ["orders"];
    const first = openStore(url, moto.env);
    await write(first, key, frame(3), { runId: "run-0" });
    let releaseA!: () => void;
    const aWaits = new Promise<void>((r) => (releaseA = r));
    let aAtCommit!: () => void;
    const aReady = new Promise<void>((r) => (aAtCommit = r));
    // A reads the record's ETag, then waits at the commit while B writes and commits whole.
    const a = openStore(url, moto.env, {
      s3: {
        beforeCommit: async ({ attempt }) => {
          if (attempt > 0) return;
          aAtCommit();
          await aWaits;
        },
      },
    });
    const b = openStore(url, moto.env);
    let reading = true;
    const reader = openStore(url, moto.env);
    const readLoop = (async () => {
      let n = 0;
      while (reading) {
        const { frame: f, record } = await reader.read(key, undefined);
        expect(contentHash(f)).toBe(record.contentHash);
        n++;
      }
      return n;
    })();
    const aWrite = write(a, key, frame(5, 100), { runId: "run-A" });
    await aReady;
    const bResult = await write(b, key, frame(7, 200), { runId: "run-B" });
    releaseA();
    const aResult = await aWrite;
    reading = false;
    const readCount = await readLoop;
    expect(readCount).toBeGreaterThan(0);
    expect(bResult.conflict).toBeUndefined();
    expect(aResult.conflict).toEqual({ otherRunId: "run-B" });
    const final = await reader.read(key, undefined);
    expect(final.record.runId).toBe("run-A");
    expect(final.frame.height).toBe(5);
    // Every write left its own data object (young ones are never collected).
    expect(await dataFiles(reader, "orders/__unpartitioned__")).toHaveLength(3);
  });

  it("runStep reports the conflict as a warning naming the asset, the partition and the other run; both runs succeed", async () => {
    const url = moto.storageUrl(`race-step-${Date.now()}`);
    let releaseA!: () => void;
    const aWaits = new Promise<void>((r) => (releaseA = r));
    let aAtCommit!: () => void;
    const aReady = new Promise<void>((r) => (aAtCommit = r));
    const defs = definitions({ assets: [asset({ key: "sales/daily", partitions: staticPartitions(["eu", "us"]), compute: () => frame(4) })] });
    const env = { ...moto.env, BATON_STORAGE: url };
    const eventsA: StepEvent[] = [];
    const eventsB: StepEvent[] = [];
    const storeA = openStore(url, env, { s3: { beforeCommit: async ({ attempt }) => { if (attempt === 0) { aAtCommit(); await aWaits; } } } });
    const runA = runStep({ definitions: defs, assets: ["sales/daily"], partitionKey: "eu", runId: "run-A", env, store: storeA, onEvent: (e) => eventsA.push(e), redactOutput: false });
    await aReady;
    const b = await runStep({ definitions: defs, assets: ["sales/daily"], partitionKey: "eu", runId: "run-B", env, onEvent: (e) => eventsB.push(e), redactOutput: false });
    releaseA();
    const a = await runA;
    expect([a.status, b.status]).toEqual(["success", "success"]);
    expect(eventsA.filter((e) => e.type === "materialization")).toHaveLength(1);
    expect(eventsB.filter((e) => e.type === "materialization")).toHaveLength(1);
    const warning = eventsA.find((e) => e.type === "log" && e.level === "warning");
    expect(warning).toMatchObject({ asset: "sales/daily", message: expect.stringContaining('asset "sales/daily" partition "eu": run run-B committed this output while run run-A was writing it') });
    expect(eventsB.some((e) => e.type === "log" && e.level === "warning")).toBe(false);
    const mat = eventsA.find((e) => e.type === "materialization") as Extract<StepEvent, { type: "materialization" }>;
    expect(mat.metadata.path).toMatch(new RegExp(`^${url}/sales/daily/eu/data-[0-9a-f]{16}-[0-9a-f-]{36}\\.parquet$`));
    expect((await openStore(url, env).readRecord(["sales", "daily"], "eu"))?.runId).toBe("run-A");
  });

  it("a writer killed between its data object and its record leaves the previous output readable", async () => {
    const url = moto.storageUrl(`killed-${Date.now()}`);
    const store = openStore(url, moto.env);
    const before = await write(store, ["orders"], frame(3), { runId: "run-old" });
    const script = `
      import pl from "nodejs-polars";
      import { openStore } from "@baton/core";
      const store = openStore(${JSON.stringify(url)}, process.env, { s3: { beforeCommit: async () => { process.stdout.write("AT-COMMIT\\n"); await new Promise(() => {}); } } });
      await store.write({ key: ["orders"], partitionKey: undefined, frame: pl.DataFrame({ id: [9, 9, 9, 9] }), producedAs: "polars", format: "parquet", codeVersion: "v1", runId: "run-killed" });
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: fileURLToPath(new URL("..", import.meta.url)), env: { ...process.env, ...moto.env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes("AT-COMMIT") || child.exitCode !== null, { what: "the child writer to reach its commit" });
    expect(out).toContain("AT-COMMIT");
    child.kill("SIGKILL");
    await waitFor(() => child.exitCode !== null || child.signalCode !== null, { what: "the killed writer to exit" });
    // Its data object is there, unnamed; the record still names the old output.
    expect(await dataFiles(store, "orders/__unpartitioned__")).toHaveLength(2);
    const back = await store.read(["orders"], undefined);
    expect(back.record).toEqual(before);
    expect(back.frame.height).toBe(3);
  });

  it("collects superseded data objects only once older than the stale window", async () => {
    const url = moto.storageUrl(`gc-${Date.now()}`);
    const young = openStore(url, moto.env); // the default window: 10 minutes
    await write(young, ["t"], frame(1));
    await write(young, ["t"], frame(2));
    await write(young, ["t"], frame(3));
    expect(await dataFiles(young, "t/__unpartitioned__")).toHaveLength(3);
    const old = openStore(url, moto.env, { s3: { staleMs: 0 } }); // every superseded object counts as old
    const last = await write(old, ["t"], frame(4));
    expect(await dataFiles(old, "t/__unpartitioned__")).toEqual([`t/__unpartitioned__/${last.file}`]);
    expect((await old.read(["t"], undefined)).frame.height).toBe(4);
  });

  it("uploads a large output in parts (multipart, If-None-Match on completion) and reads it back whole", async () => {
    const store = s3({ s3: { partSize: 5 * 1024 * 1024 } });
    const n = 1_700_000; // two float64 columns in IPC: ~27 MB
    const big = pl.DataFrame({ a: Array.from({ length: n }, (_, i) => i * 1.5), b: Array.from({ length: n }, (_, i) => Math.sin(i)) });
    // The object goes up from a spool file in the OS temp folder (streamed, not one buffer), and the
    // read comes down to one; neither is left behind.
    const spools = mkdtempSync(join(tmpdir(), "baton-spools-"));
    const tmp = process.env.TMPDIR;
    process.env.TMPDIR = spools;
    let record: Awaited<ReturnType<typeof write>>;
    try {
      record = await write(store, ["big"], big, { format: "ipc" });
      expect((await store.read(["big"], undefined)).frame.height).toBe(n);
      expect(readdirSync(spools)).toEqual([]);
    } finally {
      if (tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmp;
      rmSync(spools, { recursive: true, force: true });
    }
    const etag = await etagOf(store, `big/__unpartitioned__/${record.file}`);
    expect(etag).toMatch(/-\d+"$/); // a multipart object's ETag ends in -<parts>
    expect(Number(/-(\d+)"$/.exec(etag!)![1])).toBeGreaterThanOrEqual(3);
    const back = await store.read(["big"], undefined);
    expect(back.frame.height).toBe(n);
    expect(back.record.contentHash).toBe(record.contentHash);
    // What create-only rests on for multipart bodies: Upload sends If-None-Match with
    // CompleteMultipartUpload, and the server refuses to complete over an existing key.
    const { Upload } = requireFromCore("@aws-sdk/lib-storage") as { Upload: new (o: object) => { done(): Promise<unknown> } };
    const again = new Upload({ client: client(), params: { ...objectKey(store, `big/__unpartitioned__/${record.file}`), Body: Buffer.alloc(11 * 1024 * 1024, 1), IfNoneMatch: "*" }, partSize: 5 * 1024 * 1024 });
    await expect(again.done()).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    expect(await etagOf(store, `big/__unpartitioned__/${record.file}`)).toBe(etag);
  }, 300_000);

  it("a TMPDIR that cannot hold the spool file fails the write naming TMPDIR, not retryable, and keeps the previous output", async () => {
    const store = s3();
    await write(store, ["spooled"], frame(2), { runId: "ok" });
    const tmp = process.env.TMPDIR;
    process.env.TMPDIR = "/nonexistent/baton-tmp";
    try {
      await expect(write(store, ["spooled"], frame(3), { runId: "no-tmp" })).rejects.toMatchObject({
        name: "BatonStorageError",
        code: "ENOENT",
        retryable: false,
        message: expect.stringContaining("/nonexistent/baton-tmp is not writable"),
        hint: expect.stringContaining("set TMPDIR to a writable folder"),
      });
    } finally {
      if (tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmp;
    }
    const back = await store.read(["spooled"], undefined);
    expect({ runId: back.record.runId, rows: back.frame.height }).toEqual({ runId: "ok", rows: 2 });
  });

  it("a reader whose data object was collected under it re-reads the record; a record naming a missing object is MISSING_OUTPUT", async () => {
    const url = moto.storageUrl(`reread-${Date.now()}`);
    const writer = openStore(url, moto.env, { s3: { staleMs: 0 } });
    const reader = openStore(url, moto.env);
    await write(writer, ["hot"], frame(1), { runId: "w-1" });
    // The reader gets the record, then, before it fetches the data, a newer commit replaces the
    // record and collects the old data object (staleMs 0): its GET of the data is a real 404.
    // The record comes through get, the data file through readData (downloaded to a spool file).
    type ReadData = <T>(rel: string, read: (path: string) => T, asset: string | undefined) => Promise<T | undefined>;
    const backend = (reader as unknown as { backend: { get(rel: string, asset?: string): Promise<Buffer | undefined>; readData: ReadData } }).backend;
    const get = backend.get.bind(backend);
    const readData = backend.readData.bind(backend) as ReadData;
    const seen: string[] = [];
    const note = (rel: string, found: boolean) => seen.push(`${rel.split("/").at(-1)!.replace(/-[0-9a-f]{16}-[0-9a-f-]{36}/, "")}:${found ? "found" : "missing"}`);
    let raced = false;
    backend.get = async (rel, a) => {
      const bytes = await get(rel, a);
      note(rel, bytes !== undefined);
      if (!raced && rel.endsWith("record.json")) {
        raced = true;
        await write(writer, ["hot"], frame(2), { runId: "w-2" });
      }
      return bytes;
    };
    backend.readData = async (rel, read, a) => {
      const result = await readData(rel, read, a);
      note(rel, result !== undefined);
      return result;
    };
    const { frame: f, record } = await reader.read(["hot"], undefined);
    expect(record.runId).toBe("w-2");
    expect(f.height).toBe(2);
    expect(seen).toEqual(["record.json:found", "data.parquet:missing", "record.json:found", "data.parquet:found"]);
    backend.get = get;
    backend.readData = readData;
    // Damage: the record names an object that is gone.
    const stale = await reader.readText("hot/__unpartitioned__/record.json");
    const gone = JSON.parse(stale) as { file: string };
    await client().send(new sdk.DeleteObjectCommand(objectKey(reader, `hot/__unpartitioned__/${gone.file}`)));
    await expect(reader.read(["hot"], undefined, "downstream")).rejects.toMatchObject({ code: "MISSING_OUTPUT", message: expect.stringContaining(`${gone.file} does not exist`) });
  });
});

describe("the step and the embedded executor on s3:// (moto)", () => {
  it("materialize() runs a small graph into the bucket; metadata paths are s3:// URLs; credentials never reach events", async () => {
    const url = moto.storageUrl(`graph-${Date.now()}`);
    const env: Record<string, string> = { ...moto.env, BATON_STORAGE: url };
    const secret = env.AWS_SECRET_ACCESS_KEY!;
    const orders = asset({ key: "orders", compute: () => pl.DataFrame({ id: [1, 2, 3], amount: [10, 20, 30] }) });
    const total = asset({
      key: "total",
      inputs: { orders },
      compute: ({ orders: o }, ctx) => {
        ctx.log.info(`secret is ${secret}`);
        return o.select(pl.col("amount").sum());
      },
    });
    const events: StepEvent[] = [];
    const result = await materialize(definitions({ assets: [orders, total] }), { env, onEvent: (e) => events.push(e) });
    expect(result.status).toBe("success");
    expect(result.assets["total"]!.materializations[0]!.metadata.path).toMatch(new RegExp(`^${url}/total/__unpartitioned__/data-`));
    const store = openStore(url, moto.env);
    expect((await store.read(["total"], undefined)).frame.toRecords()).toEqual([{ amount: 60 }]);
    const text = JSON.stringify(events);
    expect(text).toContain("secret is ***");
    expect(text).not.toContain(secret);
    for (const f of await store.listFiles()) if (f.endsWith(".json")) expect(await store.readText(f)).not.toContain(secret);
  });

  it("the SDK's NodeVersionSupportWarning stays out of a step's stderr; other warnings still show", async () => {
    const url = moto.storageUrl(`warn-${Date.now()}`);
    const script = `
      import pl from "nodejs-polars";
      import { openStore } from "@baton/core";
      const store = openStore(${JSON.stringify(url)}, process.env);
      await store.write({ key: ["w"], partitionKey: undefined, frame: pl.DataFrame({ id: [1] }), producedAs: "polars", format: "parquet", codeVersion: null, runId: "r" });
      await store.read(["w"], undefined);
      process.emitWarning("another warning", "OtherWarning");
      await new Promise((r) => setTimeout(r, 50));
    `;
    // The SDK's own switch off, so the warning is really emitted and must be dropped by the store.
    const { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: _off, ...inherited } = process.env;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: fileURLToPath(new URL("..", import.meta.url)), env: { ...inherited, ...moto.env }, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    expect(code, err).toBe(0);
    expect(err).not.toContain("NodeVersionSupportWarning");
    expect(err).toContain("OtherWarning: another warning");
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
