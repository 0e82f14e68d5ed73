import pl from "nodejs-polars";
import { tableFromArrays } from "apache-arrow";
import { afterEach, describe, expect, it, vi } from "vitest";
import { asset, input } from "../asset.js";
import { assetCheck } from "../asset-check.js";
import { definitions } from "../definitions.js";
import { isRetryable, BatonError } from "../errors.js";
import { materialize } from "../executor/materialize.js";
import { toManifest } from "../manifest/build.js";
import { dailyPartitions } from "../partitions/index.js";
import { env, resource, secret } from "../resource.js";
import { runStep } from "../step/run.js";
import { stepResourceKeys } from "../step/resources.js";
import type { StepEvent } from "../step/events.js";
import { cleanupTempDirs, expectValidManifest, onlyValidationError, tempDir } from "../__tests__/helpers.js";
import { MemoryTableSink } from "../__tests__/memory-table-sink.js";
import { contentHash } from "./frames.js";
import { LocalIOStore } from "./store.js";
import { isTableSink } from "./table-sink.js";

afterEach(cleanupTempDirs);

const NOW = new Date("2024-06-01T00:00:00Z");
const days = dailyPartitions({ start: "2024-01-01" });

/** A catalog resource over one in-memory sink, and the assets of TABLE-OUTPUT-CONTRACT.md §1. */
function lakeOf(sink = new MemoryTableSink()) {
  const lake = resource({ config: { token: secret("LAKE_TOKEN") }, create: () => sink });
  return { sink, lake };
}

function run(defs: ReturnType<typeof definitions>, store = new LocalIOStore(tempDir()), options: Parameters<typeof materialize>[1] = {}) {
  const events: StepEvent[] = [];
  const result = materialize(defs, { store, now: NOW, runId: "run-1", env: { LAKE_TOKEN: "tok-canary-123" }, sleep: async () => undefined, onEvent: (e) => events.push(e), ...options });
  return { result, events, store };
}

const materializations = (events: readonly StepEvent[]) => events.flatMap((e) => (e.type === "materialization" ? [e] : []));

describe("table outputs: write, record, read (TABLE-OUTPUT-CONTRACT.md §3, §4)", () => {
  it("a partitioned asset replaces its partition in one commit; the record pins the snapshot; a downstream asset reads it through the catalog", async () => {
    const { sink, lake } = lakeOf();
    const events_ = asset({
      key: "daily_events",
      partitions: days,
      resources: { lake },
      io: { format: "iceberg", catalog: "lake", table: "analytics.daily_events", partitionColumn: "day" },
      compute: (_i, ctx) => pl.DataFrame({ day: [ctx.partitionKey, ctx.partitionKey], n: [1, 2] }),
    });
    const seen: pl.DataFrame[] = [];
    const totals = asset({
      key: "totals",
      partitions: days,
      inputs: { events_ },
      compute: ({ events_: e }) => (seen.push(e), pl.DataFrame({ total: [e.getColumn("n").sum()] })),
    });
    const defs = definitions({ assets: [events_, totals] });
    const { result, events, store } = run(defs, undefined, { partition: "2024-01-02" });
    const r = await result;
    expect(r.status).toBe("success");
    const record = (await store.readRecord(["daily_events"], "2024-01-02"))!;
    const frame = pl.DataFrame({ day: ["2024-01-02", "2024-01-02"], n: [1, 2] });
    expect(record).toMatchObject({
      format: "iceberg",
      file: null,
      rowCount: 2,
      producedAs: "polars",
      contentHash: contentHash(frame),
      table: { format: "iceberg", catalog: "lake", name: "analytics.daily_events", snapshotId: "4817311548932601471", partitionColumn: "day", location: "s3://warehouse/analytics/daily_events" },
    });
    expect(sink.writes).toMatchObject([{ asset: "daily_events", table: "analytics.daily_events", mode: "replace", partitionColumn: "day", partitionValue: "2024-01-02" }]);
    // The data file of the store is not written: the table holds the rows.
    expect((await store.listFiles()).filter((f) => f.startsWith("daily_events/"))).toEqual(["daily_events/2024-01-02/record.json"]);
    expect(sink.reads).toEqual([{ asset: "totals", table: "analytics.daily_events", snapshotId: "4817311548932601471", partitionColumn: "day", partitionValue: "2024-01-02" }]);
    expect(seen[0]!.getColumn("n").toArray()).toEqual([1, 2]);
    const [m] = materializations(events).filter((e) => e.asset === "daily_events");
    expect(m!.metadata).toMatchObject({ format: "iceberg", path: null, rowCount: 2, table: { format: "iceberg", catalog: "lake", name: "analytics.daily_events", snapshotId: "4817311548932601471", location: "s3://warehouse/analytics/daily_events" } });
    expect(m!.dataVersion).toBe(record.contentHash);
    // A parquet output has no table in its record nor in its event.
    const [t] = materializations(events).filter((e) => e.asset === "totals");
    expect(t!.metadata.table).toBeUndefined();
    expect((await store.readRecord(["totals"], "2024-01-02"))!.table).toBeUndefined();
  });

  it("the content hash of a table output is the parquet output's of the same frame (Arrow output converted as for parquet)", async () => {
    const { sink, lake } = lakeOf();
    const arrow = () => tableFromArrays({ id: Int32Array.from([1, 2, 3]), v: Float64Array.from([0.5, 1.5, 2.5]) });
    const inTable = asset({ key: "in_table", resources: { lake }, io: { format: "iceberg", catalog: "lake", table: "ns.in_table" }, compute: arrow });
    const inParquet = asset({ key: "in_parquet", compute: arrow });
    const { result, store } = run(definitions({ assets: [inTable, inParquet] }));
    expect((await result).status).toBe("success");
    const a = (await store.readRecord(["in_table"], undefined))!;
    const b = (await store.readRecord(["in_parquet"], undefined))!;
    expect(a.contentHash).toBe(b.contentHash);
    expect(a.schema).toEqual(b.schema);
    expect(a.producedAs).toBe("arrow");
    // Read back as produced: an Arrow downstream input, the same rows.
    const { frame } = await store.withTables(() => sink).read(["in_table"], undefined);
    expect(frame.getColumn("id").toArray()).toEqual([1, 2, 3]);
  });

  it("replace of one partition leaves the others' rows; a second replace of it is idempotent", async () => {
    const { sink, lake } = lakeOf();
    let rows = 1;
    const daily = asset({
      key: "daily",
      partitions: days,
      resources: { lake },
      io: { format: "iceberg", catalog: "lake", table: "analytics.daily", partitionColumn: "day" },
      compute: (_i, ctx) => pl.DataFrame({ day: Array.from({ length: rows }, () => ctx.partitionKey), n: Array.from({ length: rows }, (_, i) => i) }),
    });
    const defs = definitions({ assets: [daily] });
    const store = new LocalIOStore(tempDir());
    for (const day of ["2024-01-01", "2024-01-02"]) expect((await run(defs, store, { partition: day }).result).status).toBe("success");
    rows = 3;
    expect((await run(defs, store, { partition: "2024-01-01" }).result).status).toBe("success");
    expect((await run(defs, store, { partition: "2024-01-01" }).result).status).toBe("success");
    const rowsOf = (day: string) => sink.current("analytics.daily")!.filter(pl.col("day").eq(pl.lit(day))).height;
    expect([rowsOf("2024-01-01"), rowsOf("2024-01-02")]).toEqual([3, 1]);
    expect(sink.writes.map((w) => w.mode)).toEqual(["replace", "replace", "replace", "replace"]);
  });

  it("an unpartitioned replace overwrites the table; append adds the output again on each run", async () => {
    const { sink, lake } = lakeOf();
    const whole = asset({ key: "whole", resources: { lake }, io: { format: "iceberg", catalog: "lake", table: "ns.whole" }, compute: () => pl.DataFrame({ x: [1, 2] }) });
    const log = asset({ key: "log", resources: { lake }, io: { format: "iceberg", catalog: "lake", table: "ns.log", mode: "append" }, compute: () => pl.DataFrame({ x: [7] }) });
    const defs = definitions({ assets: [whole, log] });
    const store = new LocalIOStore(tempDir());
    for (let i = 0; i < 2; i++) expect((await run(defs, store).result).status).toBe("success");
    expect(sink.current("ns.whole")!.height).toBe(2);
    expect(sink.current("ns.log")!.getColumn("x").toArray()).toEqual([7, 7]);
    expect(sink.writes.filter((w) => w.table === "ns.whole")).toMatchObject([{ mode: "replace", partitionColumn: undefined, partitionValue: undefined }, { mode: "replace" }]);
    // The record of the append names its own commit's snapshot and the rows this step wrote.
    const record = (await store.readRecord(["log"], undefined))!;
    expect(record.rowCount).toBe(1);
    expect(record.table!.snapshotId).toBe(sink.tables.get("ns.log")!.at(-1)!.id);
  });

  it("a downstream reads the pinned snapshot, whatever was committed to the table since", async () => {
    const { sink, lake } = lakeOf();
    const source = asset({ key: "source", resources: { lake }, io: { format: "iceberg", catalog: "lake", table: "ns.source" }, compute: () => pl.DataFrame({ x: [1, 2, 3] }) });
    const seen: number[][] = [];
    const down = asset({ key: "down", inputs: { source }, compute: ({ source: s }) => (seen.push(s.getColumn("x").toArray() as number[]), s) });
    const defs = definitions({ assets: [source, down] });
    const store = new LocalIOStore(tempDir());
    expect((await run(defs, store, { selection: "source" }).result).status).toBe("success");
    const pinned = (await store.readRecord(["source"], undefined))!.table!.snapshotId;
    // Someone else writes the table (another tool, a lost Baton step): the record still names the old snapshot.
    await sink.writeAssetTable({ asset: "elsewhere", table: "ns.source", frame: pl.DataFrame({ x: [9] }), mode: "replace", partitionColumn: undefined, partitionValue: undefined });
    expect((await run(defs, store, { selection: "down" }).result).status).toBe("success");
    expect(seen).toEqual([[1, 2, 3]]);
    expect(sink.reads.map((r) => r.snapshotId)).toEqual([pinned]);
  });

  it("an unpartitioned downstream reads every stored partition (readMany), each from its own pinned snapshot", async () => {
    const { sink, lake } = lakeOf();
    const daily = asset({
      key: "daily",
      partitions: days,
      resources: { lake },
      io: { format: "iceberg", catalog: "lake", table: "analytics.daily", partitionColumn: "day" },
      compute: (_i, ctx) => pl.DataFrame({ day: [ctx.partitionKey], n: [Number(ctx.partitionKey.slice(-1))] }),
    });
    const all = asset({ key: "all", inputs: { daily: input(daily, { partitionMapping: { type: "allPartitions" } }) }, compute: ({ daily: d }) => d.sort("day") });
    const defs = definitions({ assets: [daily, all] });
    const store = new LocalIOStore(tempDir());
    for (const day of ["2024-01-01", "2024-01-02"]) expect((await run(defs, store, { selection: "daily", partition: day }).result).status).toBe("success");
    const r = await run(defs, store, { selection: "all" }).result;
    expect(r.status).toBe("success");
    const { frame } = await store.read(["all"], undefined);
    expect(frame.getColumn("n").toArray()).toEqual([1, 2]);
    // Each partition from the snapshot its record pins: the first day's is the table's first snapshot.
    const snapshots = sink.tables.get("analytics.daily")!.map((x) => x.id);
    expect(sink.reads.map((x) => [x.partitionValue, x.snapshotId]).sort()).toEqual([
      ["2024-01-01", snapshots[0]],
      ["2024-01-02", snapshots[1]],
    ]);
  });

  it("rows of another partition are refused before anything is committed (WRONG_OUTPUT_TYPE naming the asset, table, column and value)", async () => {
    const { sink, lake } = lakeOf();
    const daily = asset({
      key: "daily",
      partitions: days,
      resources: { lake },
      io: { format: "iceberg", catalog: "lake", table: "analytics.daily", partitionColumn: "day" },
      compute: () => pl.DataFrame({ day: ["2024-01-02", "2024-01-03"], n: [1, 2] }),
    });
    const { result, store } = run(definitions({ assets: [daily] }), undefined, { partition: "2024-01-02" });
    const r = await result;
    expect(r.status).toBe("failure");
    expect(r.assets.daily!.attempts).toBe(1);
    expect(r.assets.daily!.error).toMatchObject({ code: "WRONG_OUTPUT_TYPE", retryable: false });
    expect(r.assets.daily!.error!.message).toMatch(/asset "daily".*partition "2024-01-02" of table analytics\.daily .*column "day" \(the first: "2024-01-03"\); nothing was committed/);
    expect(sink.writes).toEqual([]);
    expect(await store.listFiles()).toEqual([]);
  });

  it("a partition column missing from the output is WRONG_OUTPUT_TYPE", async () => {
    const { lake } = lakeOf();
    const whole = asset({ key: "whole", resources: { lake }, io: { format: "iceberg", catalog: "lake", table: "ns.whole", partitionColumn: "day" }, compute: () => pl.DataFrame({ x: [1] }) });
    const r = await run(definitions({ assets: [whole] })).result;
    expect(r.assets.whole!.error!.message).toContain('the output has no column "day", the partition column of table ns.whole (columns: x)');
  });

  it("a resource that is no table catalog fails the step with CONFIG before the compute runs", async () => {
    const lake = resource({ create: () => ({ query: () => undefined }) });
    let ran = false;
    const a = asset({ key: "daily_events", resources: { lake }, io: { format: "iceberg", catalog: "lake", table: "ns.t" }, compute: () => ((ran = true), pl.DataFrame({ x: [1] })) });
    const r = await run(definitions({ assets: [a] })).result;
    expect(r.assets.daily_events!.error).toMatchObject({ code: "CONFIG", retryable: false });
    expect(r.assets.daily_events!.error!.message).toContain('resource "lake" of asset "daily_events" is not a table catalog (no writeAssetTable): use icebergCatalog from @baton/iceberg');
    expect(ran).toBe(false);
    expect(isTableSink({ tableFormat: "iceberg", writeAssetTable: () => undefined })).toBe(false);
    expect(isTableSink(new MemoryTableSink())).toBe(true);
  });

  it("a store without table access refuses an iceberg record with CONFIG naming the table and snapshot", async () => {
    const { lake } = lakeOf();
    const a = asset({ key: "t", resources: { lake }, io: { format: "iceberg", catalog: "lake", table: "analytics.daily_events" }, compute: () => pl.DataFrame({ x: [1] }) });
    const { result, store } = run(definitions({ assets: [a] }));
    expect((await result).status).toBe("success");
    const err = await store.read(["t"], undefined).catch((e: unknown) => e as BatonError);
    expect(err).toMatchObject({ code: "CONFIG" });
    expect((err as BatonError).message).toContain('is Iceberg table analytics.daily_events snapshot 4817311548932601471: read it through its catalog resource "lake"');
  });

  it("a snapshot whose rows differ in number from the record is a MANIFEST error naming the asset, table and snapshot", async () => {
    const { sink, lake } = lakeOf();
    const a = asset({ key: "t", resources: { lake }, io: { format: "iceberg", catalog: "lake", table: "ns.t" }, compute: () => pl.DataFrame({ x: [1, 2] }) });
    const { result, store } = run(definitions({ assets: [a] }));
    expect((await result).status).toBe("success");
    sink.tables.get("ns.t")![0]!.frame = pl.DataFrame({ x: [1] });
    const err = (await store.withTables(() => sink).read(["t"], undefined).catch((e: unknown) => e)) as BatonError;
    expect(err.code).toBe("MANIFEST");
    expect(err.message).toContain("table ns.t snapshot 4817311548932601471 has 1 rows for \"t\", its record 2");
  });
});

describe("table outputs: the commit order and the deadline (TABLE-OUTPUT-CONTRACT.md §3)", () => {
  it("the deadline is checked before the table commit and again before the record: past it between the two, no record names the snapshot", async () => {
    const { sink, lake } = lakeOf();
    let committed = false;
    sink.beforeWrite = async () => {
      // The catalog is slow: the attempt's deadline passes during the commit.
      await new Promise((r) => setTimeout(r, 600));
      committed = true;
    };
    const slow = asset({ key: "slow", timeoutSeconds: 0.2, resources: { lake }, io: { format: "iceberg", catalog: "lake", table: "ns.slow" }, compute: () => pl.DataFrame({ x: [1] }) });
    const store = new LocalIOStore(tempDir());
    const write = vi.spyOn(store, "write");
    const r = await runStep({ definitions: definitions({ assets: [slow] }), assets: ["slow"], runId: "r", store, env: { LAKE_TOKEN: "tok-canary-123" }, now: NOW, onEvent: () => undefined });
    expect(r.status).toBe("failure");
    expect(r.assets.slow!.error).toContain("timed out");
    await vi.waitFor(() => expect(committed).toBe(true), { timeout: 10_000 });
    // The write resumes after its commit; its second deadline check throws before the record. Wait for the
    // write itself to settle, so the absence of a record below is the outcome, not a write still under way.
    await (write.mock.results[0]!.value as Promise<unknown>).catch(() => undefined);
    expect(sink.tables.get("ns.slow")).toHaveLength(1);
    expect(await store.listFiles()).toEqual([]);
  });

  it("store.write: deadline check, table commit, deadline check, record", async () => {
    const sink = new MemoryTableSink();
    const order: string[] = [];
    sink.beforeWrite = async () => void order.push("table commit");
    const store = new LocalIOStore(tempDir());
    let checks = 0;
    const args = {
      key: ["t"],
      partitionKey: undefined,
      frame: pl.DataFrame({ x: [1] }),
      producedAs: "polars" as const,
      format: "iceberg" as const,
      codeVersion: "1",
      runId: "r",
      table: { catalog: "lake", sink, name: "ns.t", partitionColumn: undefined, mode: "replace" as const },
    };
    const record = await store.write({ ...args, beforeCommit: () => void order.push(`check ${++checks}`) });
    expect(order).toEqual(["check 1", "table commit", "check 2", "check 3"]);
    expect(record.table!.snapshotId).toBe("4817311548932601471");
    // Past the deadline after the table commit: the table has the snapshot, the store no record.
    const late = await store
      .write({ ...args, key: ["u"], table: { ...args.table, name: "ns.u" }, beforeCommit: () => { if (sink.tables.has("ns.u")) throw new Error("deadline"); } })
      .catch((e: unknown) => e as Error);
    expect((late as Error).message).toBe("deadline");
    expect(sink.tables.get("ns.u")).toHaveLength(1);
    expect(await store.readRecord(["u"], undefined)).toBeUndefined();
  });
});

describe("table outputs: check steps and the step's resources (TABLE-OUTPUT-CONTRACT.md §4)", () => {
  it("a check-only step reads its target's table, and a standalone check's table input, through the catalog", async () => {
    const { sink, lake } = lakeOf();
    const source = asset({ key: "source", resources: { lake }, io: { format: "iceberg", catalog: "lake", table: "ns.source" }, compute: () => pl.DataFrame({ x: [1, 2] }) });
    const other = asset({ key: "other", compute: () => pl.DataFrame({ y: [1] }) });
    const sameRows = assetCheck({ asset: other, name: "as_many_as_source", inputs: { source }, check: (out, { source: s }) => out.height <= s.height });
    const inline = asset({
      key: "checked",
      resources: { lake },
      io: { format: "iceberg", catalog: "lake", table: "ns.checked" },
      compute: () => pl.DataFrame({ x: [1] }),
      checks: [{ name: "has_rows", check: (f: pl.DataFrame) => f.height > 0 }],
    });
    const defs = definitions({ assets: [source, other, inline], checks: [sameRows] });
    const store = new LocalIOStore(tempDir());
    expect((await run(defs, store).result).status).toBe("success");
    sink.reads.length = 0;
    const r = await run(defs, store, { checksOnly: true }).result;
    expect(r.status).toBe("success");
    expect(r.assets.other!.checks).toMatchObject([{ check: "as_many_as_source", passed: true }]);
    expect(r.assets.checked!.checks).toMatchObject([{ check: "has_rows", passed: true }]);
    expect(sink.reads.map((x) => [x.asset, x.table]).sort()).toEqual([["checked", "ns.checked"], ["other", "ns.source"]]);
  });

  it("stepResourceKeys: own resources, plus the catalog of every table read (inputs, standalone check inputs); ctx.resources stays the declared ones", async () => {
    const { lake } = lakeOf();
    const warehouse = resource({ config: { url: env("WH_URL", { default: "x" }) }, create: () => ({ wh: true }) });
    const source = asset({ key: "source", resources: { lake }, io: { format: "iceberg", catalog: "lake", table: "ns.source" }, compute: () => pl.DataFrame({ x: [1] }) });
    let seen: string[] = [];
    const reader = asset({ key: "reader", resources: { warehouse }, inputs: { source }, compute: ({ source: s }, ctx) => ((seen = Object.keys(ctx.resources)), s) });
    const plain = asset({ key: "plain", compute: () => pl.DataFrame({ x: [1] }) });
    const check = assetCheck({ asset: plain, name: "vs_source", inputs: { source }, check: () => true });
    const defs = definitions({ assets: [source, reader, plain], checks: [check] });
    expect(stepResourceKeys(defs, [defs.asset("reader")])).toEqual(["warehouse", "lake"]);
    expect(stepResourceKeys(defs, [defs.asset("plain")])).toEqual(["lake"]);
    expect(stepResourceKeys(defs, [defs.asset("source")])).toEqual(["lake"]);
    const events: StepEvent[] = [];
    const r = await run(defs, undefined, { onEvent: (e) => events.push(e) }).result;
    expect(r.status).toBe("success");
    expect(seen).toEqual(["warehouse"]);
    // The catalog's secret is redacted in the reader's step like its own resources' secrets.
    expect(JSON.stringify(events)).not.toContain("tok-canary-123");
  });
});

describe("table outputs: definitions (TABLE-OUTPUT-CONTRACT.md §1)", () => {
  const { lake } = lakeOf();
  const base = { resources: { lake }, compute: () => pl.DataFrame({ x: [1] }) };
  const refused = (config: object) => {
    try {
      asset({ key: "daily_events", ...base, ...config } as never);
    } catch (e) {
      return e as BatonError;
    }
    throw new Error("expected asset() to refuse it");
  };

  it.each([
    ["output none", { output: "none", compute: () => undefined, io: { format: "iceberg", catalog: "lake", table: "ns.t" } }, 'a side-effect asset (output: "none") cannot store its output in a table'],
    ["an undeclared catalog", { io: { format: "iceberg", catalog: "lakes", table: "ns.t" } }, 'io.catalog "lakes" is not a resource the asset declares (it declares: lake)'],
    ["a table without namespace", { io: { format: "iceberg", catalog: "lake", table: "events" } }, 'io.table "events" is not a table name'],
    ["two namespace levels", { io: { format: "iceberg", catalog: "lake", table: "a.b.c" } }, 'io.table "a.b.c" is not a table name'],
    ["a part starting with a digit", { io: { format: "iceberg", catalog: "lake", table: "ns.1t" } }, 'io.table "ns.1t" is not a table name'],
    ["a partitioned asset without partitionColumn", { partitions: days, io: { format: "iceberg", catalog: "lake", table: "ns.t" } }, "a partitioned asset stored in table ns.t needs io.partitionColumn"],
    ["an unknown mode", { io: { format: "iceberg", catalog: "lake", table: "ns.t", mode: "upsert" } }, 'unknown io.mode "upsert"'],
    ["an unknown format", { io: { format: "delta" } }, 'unknown io format "delta"'],
  ])("asset() refuses %s (INVALID_DEFINITION naming the asset and file)", (_what, config, problem) => {
    const e = refused(config);
    expect(e).toBeInstanceOf(BatonError);
    expect(e.code).toBe("INVALID_DEFINITION");
    expect(e.problem).toBe(problem);
    expect(e.asset).toBe("daily_events");
    expect(e.file).toMatch(/table-output\.test\.ts$/);
    expect(e.hint).toBeTruthy();
  });

  it("definitions() refuses two assets with the same catalog and table (DUPLICATE_KEY), and a hand-written table io", () => {
    const a = asset({ key: "a", ...base, io: { format: "iceberg", catalog: "lake", table: "ns.t" } });
    const b = asset({ key: "b", ...base, io: { format: "iceberg", catalog: "lake", table: "ns.t" } });
    const e = onlyValidationError(() => definitions({ assets: [a, b] }));
    expect(e.code).toBe("DUPLICATE_KEY");
    expect(e.asset).toBe("b");
    expect(e.problem).toContain('table ns.t of catalog "lake" is also the output of asset "a"');
    // Another catalog's table of the same name is another table.
    const other = resource({ create: () => new MemoryTableSink() });
    const c = asset({ key: "c", resources: { other }, compute: base.compute, io: { format: "iceberg", catalog: "other", table: "ns.t" } });
    expect(() => definitions({ assets: [a, c] })).not.toThrow();
    const forged = { ...a, key: ["forged"], id: "forged", table: { ...a.table!, catalog: "nowhere" } };
    expect(onlyValidationError(() => definitions({ assets: [forged] })).problem).toContain('io.catalog "nowhere" is not a resource the asset declares');
  });
});

describe("table outputs: manifest (TABLE-OUTPUT-CONTRACT.md §5)", () => {
  it("assets[].format iceberg, assets[].table, and resources with the catalogs of the tables read", () => {
    const { lake } = lakeOf();
    const daily = asset({ key: "daily_events", partitions: days, resources: { lake }, io: { format: "iceberg", catalog: "lake", table: "analytics.daily_events", partitionColumn: "day" }, compute: () => pl.DataFrame({ day: ["x"] }) });
    const log = asset({ key: "log", resources: { lake }, io: { format: "iceberg", catalog: "lake", table: "analytics.log", mode: "append" }, compute: () => pl.DataFrame({ x: [1] }) });
    const down = asset({ key: "down", partitions: days, inputs: { daily }, compute: ({ daily: d }) => d });
    const m = expectValidManifest(toManifest(definitions({ assets: [daily, log, down] }), { module: "/nowhere/defs.js", manifestDir: "/nowhere" }));
    const byId = Object.fromEntries(m.assets.map((a) => [a.id, a]));
    expect(byId.daily_events).toMatchObject({ format: "iceberg", resources: ["lake"], table: { format: "iceberg", catalog: "lake", name: "analytics.daily_events", partitionColumn: "day", mode: "replace" } });
    expect(byId.log!.table).toEqual({ format: "iceberg", catalog: "lake", name: "analytics.log", partitionColumn: null, mode: "append" });
    expect(byId.down).toMatchObject({ format: "parquet", resources: ["lake"] });
    expect(byId.down!.table).toBeUndefined();
    expect(m.resources.map((r) => r.key)).toEqual(["lake"]);
  });
});

describe("isRetryable honours a boolean retryable property before the code table", () => {
  it.each([
    [Object.assign(new BatonError("CONFIG", "catalog unreachable"), { retryable: true }), true],
    [Object.assign(new BatonError("CONFIG", "unknown table"), { retryable: false }), false],
    [Object.assign(new Error("commit race lost"), { retryable: true }), true],
    [Object.assign(new Error("schema mismatch"), { retryable: false }), false],
    [new BatonError("CONFIG", "no retryable property"), false],
    [new Error("plain"), true],
  ])("%s -> %s", (e, expected) => {
    expect(isRetryable(e)).toBe(expected);
  });

  it("a sink error marked retryable is retried by the executor; one marked not is not", async () => {
    for (const retryable of [true, false]) {
      const { sink, lake } = lakeOf();
      let calls = 0;
      sink.beforeWrite = async () => {
        if (calls++ === 0) throw Object.assign(new BatonError("CONFIG", "asset \"t\": table ns.t: the catalog did not answer"), { retryable });
      };
      const t = asset({ key: "t", retry: { maxRetries: 2 }, resources: { lake }, io: { format: "iceberg", catalog: "lake", table: "ns.t" }, compute: () => pl.DataFrame({ x: [1] }) });
      const r = await run(definitions({ assets: [t] })).result;
      expect([r.assets.t!.status, r.assets.t!.attempts]).toEqual(retryable ? ["success", 2] : ["failure", 1]);
    }
  });
});
