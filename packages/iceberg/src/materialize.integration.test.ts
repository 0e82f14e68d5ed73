import { asset, dailyPartitions, definitions, LocalIOStore, materialize, type MaterializeOptions, type MaterializeResult } from "@baton/core";
import { freePort } from "@baton/testing";
import { tableFromArrays } from "apache-arrow";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pl from "nodejs-polars";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWithPython, sortedRows, startTestCatalog, type TestCatalog } from "./__tests__/catalog.js";
import { IcebergCatalogClient } from "./client.js";
import { icebergCatalog } from "./resource.js";

const ORDERS = "it.orders";
const EVENTS = "it.daily_events";
const APPENDED = "it.appended";
const daily = dailyPartitions({ start: "2024-01-01" });

/** What the computes return; the tests change them between runs. */
const source = {
  eventsVersion: 1,
  appendedType: pl.Int64 as pl.DataType,
};

function ordersArrow() {
  return tableFromArrays({ id: Int32Array.from([1, 2, 3]), customer: ["ann", "bob", "ann"], amount: Float64Array.from([10.5, 7.25, 2]) });
}

function dayEvents(day: string, version: number): pl.DataFrame {
  return pl.DataFrame({ day: [day, day, day], shop: ["a", "b", "a"], n: [1, 2, 3].map((n) => n * version) });
}

const orders = asset({
  key: "iceberg_orders",
  resources: { lake: icebergCatalog },
  io: { format: "iceberg", catalog: "lake", table: ORDERS },
  compute: () => ordersArrow(),
});

const orderTotals = asset({
  key: "order_totals",
  inputs: { orders },
  // the input comes as the upstream produced it: an Arrow table (read from the pinned snapshot)
  compute: ({ orders }) => {
    const totals = new Map<string, number>();
    for (const row of orders.toArray()) totals.set(String(row.customer), (totals.get(String(row.customer)) ?? 0) + Number(row.amount));
    return pl.DataFrame({ customer: [...totals.keys()], total: [...totals.values()] }).sort("customer");
  },
});

const dailyEvents = asset({
  key: "daily_events",
  partitions: daily,
  resources: { lake: icebergCatalog },
  io: { format: "iceberg", catalog: "lake", table: EVENTS, partitionColumn: "day" },
  // an unreachable catalog and a lost commit race are transient: the retry tests count on one
  retry: { maxRetries: 1 },
  compute: (_inputs, ctx) => dayEvents(ctx.partitionKey, source.eventsVersion),
});

const dailyShops = asset({
  key: "daily_shops",
  partitions: daily,
  inputs: { events: dailyEvents },
  compute: ({ events }) => events.groupBy("shop").agg(pl.col("n").sum().alias("n")).sort("shop"),
});

const appended = asset({
  key: "appended_events",
  resources: { lake: icebergCatalog },
  io: { format: "iceberg", catalog: "lake", table: APPENDED, mode: "append" },
  compute: () => pl.DataFrame({ shop: ["a"], n: [1] }).withColumns(pl.col("n").cast(source.appendedType)),
});

const defs = definitions({ assets: [orders, orderTotals, dailyEvents, dailyShops, appended] });

describe("materialize() of assets stored in Iceberg tables (io: { format: \"iceberg\" }), against the REST catalog on moto", () => {
  let catalog: TestCatalog;
  let lake: IcebergCatalogClient;
  let root: string;
  let store: LocalIOStore;
  const timings: Record<string, number> = {};

  const run = (options: MaterializeOptions) => materialize(defs, { store, env: catalog.env, sleep: async () => undefined, ...options });
  const record = async (key: string, partition?: string) => (await store.readRecord([key], partition))!;
  const failure = (result: MaterializeResult, key: string) => {
    expect(result.assets[key]?.status, JSON.stringify(result.assets[key]?.error)).toBe("failure");
    return result.assets[key]!.error!.message;
  };
  const succeeded = (result: MaterializeResult) => {
    for (const [key, a] of Object.entries(result.assets)) expect(a.status, `${key}: ${JSON.stringify(a.error)}`).toBe("success");
  };

  beforeAll(async () => {
    catalog = await startTestCatalog();
    timings.catalogStartMs = catalog.startMs;
    // the resource's client finds the extension binaries the tests installed
    process.env.BATON_DUCKDB_EXTENSIONS = catalog.env.BATON_DUCKDB_EXTENSIONS;
    lake = await IcebergCatalogClient.open(catalog.config);
    root = mkdtempSync(join(tmpdir(), "baton-iceberg-store-"));
    store = new LocalIOStore(root);
  }, 600_000);
  afterAll(async () => {
    await lake?.close();
    await catalog?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
    console.log(`iceberg materialize timings (ms): ${JSON.stringify(timings)}`);
  });

  it("an Arrow output goes to its table in one commit; the record pins that snapshot; pyiceberg and polars read the same rows", async () => {
    let t = Date.now();
    const result = await run({ selection: [orders, orderTotals] });
    timings.arrowRunMs = Date.now() - t;
    succeeded(result);
    const rec = await record("iceberg_orders");
    expect(rec).toMatchObject({ format: "iceberg", file: null, rowCount: 3, producedAs: "arrow" });
    const snapshotId = rec.table!.snapshotId;
    expect(rec.table).toMatchObject({ format: "iceberg", catalog: "lake", name: ORDERS, partitionColumn: null });
    expect(rec.table!.location).toMatch(/^s3:\/\/iceberg-warehouse\//);
    expect(snapshotId).toMatch(/^\d+$/);
    expect(await lake.currentSnapshotId(ORDERS)).toBe(snapshotId);
    expect(result.assets.iceberg_orders!.materializations[0]!.metadata).toMatchObject({ format: "iceberg", path: null, table: { name: ORDERS, snapshotId } });

    const written = sortedRows(pl.DataFrame({ id: [1, 2, 3], customer: ["ann", "bob", "ann"], amount: [10.5, 7.25, 2] }));
    t = Date.now();
    const py = readWithPython(catalog.env, ORDERS, snapshotId);
    timings.pythonReadMs = Date.now() - t;
    expect(py.pinned).toBe(snapshotId); // pyiceberg's int, printed, is the record's string digit for digit
    expect(py.current).toBe(snapshotId);
    expect(py.pyiceberg).toEqual(written);
    expect(py.polars).toEqual(written);

    const totals = async () => sortedRows((await store.read(["order_totals"], undefined)).frame);
    expect(await totals()).toEqual([
      { customer: "ann", total: 12.5 },
      { customer: "bob", total: 7.25 },
    ]);
    // another writer appends to the table: the downstream, run again, still reads the snapshot the record pins
    await lake.append(ORDERS, pl.DataFrame({ id: [4], customer: ["bob"], amount: [100] }).withColumns(pl.col("id").cast(pl.Int32)));
    succeeded(await run({ selection: [orderTotals] }));
    expect((await totals()).find((r) => r.customer === "bob")).toEqual({ customer: "bob", total: 7.25 });
  });

  it("a daily-partitioned output: one commit per partition, a replace leaves the other partitions' rows untouched, downstream per partition", async () => {
    let t = Date.now();
    succeeded(await run({ selection: [dailyEvents, dailyShops], partition: "2024-01-01" }));
    timings.partitionRunMs = Date.now() - t;
    succeeded(await run({ selection: [dailyEvents, dailyShops], partition: "2024-01-02" }));
    const day1 = (await record("daily_events", "2024-01-01")).table!.snapshotId;
    const day2 = (await record("daily_events", "2024-01-02")).table!.snapshotId;
    expect(await lake.currentSnapshotId(EVENTS)).toBe(day2);

    source.eventsVersion = 10;
    t = Date.now();
    succeeded(await run({ selection: [dailyEvents, dailyShops], partition: "2024-01-01" }));
    timings.replaceRunMs = Date.now() - t;
    const replaced = await record("daily_events", "2024-01-01");
    expect(replaced.table).toMatchObject({ name: EVENTS, partitionColumn: "day" });
    expect(await lake.currentSnapshotId(EVENTS)).toBe(replaced.table!.snapshotId);
    // day 2's record still pins its own snapshot, and its rows are the same in the table's newest snapshot
    expect((await record("daily_events", "2024-01-02")).table!.snapshotId).toBe(day2);
    const at = (snapshotId: string, day: string) => lake.readAssetTable({ asset: "test", table: EVENTS, snapshotId, partitionColumn: "day", partitionValue: day });
    expect(sortedRows(await at(replaced.table!.snapshotId, "2024-01-02"))).toEqual(sortedRows(dayEvents("2024-01-02", 1)));
    expect(sortedRows(await at(replaced.table!.snapshotId, "2024-01-01"))).toEqual(sortedRows(dayEvents("2024-01-01", 10)));
    expect(sortedRows(await at(day1, "2024-01-01"))).toEqual(sortedRows(dayEvents("2024-01-01", 1)));
    expect(sortedRows((await store.read(["daily_shops"], "2024-01-01")).frame)).toEqual([
      { shop: "b", n: 20 },
      { shop: "a", n: 40 },
    ]);
    expect(sortedRows((await store.read(["daily_shops"], "2024-01-02")).frame)).toEqual([
      { shop: "b", n: 2 },
      { shop: "a", n: 4 },
    ]);

    const py = readWithPython(catalog.env, EVENTS, replaced.table!.snapshotId);
    const whole = sortedRows(pl.concat([dayEvents("2024-01-01", 10), dayEvents("2024-01-02", 1)]));
    expect(py.pyiceberg).toEqual(whole);
    expect(py.polars).toEqual(whole);
    // Iceberg's snapshot ids are 63-bit: the ones here are past 2^53, where a JS number would have rounded them
    expect(py.snapshots.some((id) => BigInt(id) > BigInt(Number.MAX_SAFE_INTEGER))).toBe(true);
    expect(py.snapshots).toEqual(expect.arrayContaining([day1, day2, replaced.table!.snapshotId]));
  });

  it("a schema mismatch on append fails the step naming the asset, table and column; nothing is committed, the record stays", async () => {
    succeeded(await run({ selection: [appended] }));
    const before = await record("appended_events");
    const head = await lake.snapshots(APPENDED);
    source.appendedType = pl.Utf8;
    const message = failure(await run({ selection: [appended] }), "appended_events");
    expect(message).toContain(`asset "appended_events": Iceberg table ${APPENDED}:`);
    expect(message).toContain(`column "n" is VARCHAR, the table has BIGINT`);
    expect(await lake.snapshots(APPENDED)).toEqual(head);
    expect(await record("appended_events")).toEqual(before);
  });

  it("an unreachable catalog fails the step (retried: it is transient) naming the asset, table and URI; nothing is written", async () => {
    const uri = `http://127.0.0.1:${await freePort()}`;
    const head = await lake.snapshots(EVENTS);
    const before = await record("daily_events", "2024-01-02");
    const result = await run({ selection: [dailyEvents], partition: "2024-01-02", env: { ...catalog.env, ICEBERG_REST_URI: uri } });
    const message = failure(result, "daily_events");
    expect(message).toContain(`asset "daily_events": Iceberg table ${EVENTS}:`);
    expect(message).toContain(uri);
    expect(result.assets.daily_events!.attempts).toBe(2);
    expect(await lake.snapshots(EVENTS)).toEqual(head);
    expect(await record("daily_events", "2024-01-02")).toEqual(before);
  });

  it("two writers racing on one partition: the catalog refuses the loser's commit whole, and its retry commits on top of the winner's", async () => {
    const winner = await IcebergCatalogClient.open(catalog.config);
    let won = "";
    const racing = await IcebergCatalogClient.open({
      ...catalog.config,
      // once: the other writer replaces the same partition between the first attempt's staging and its COMMIT
      beforeCommit: async () => {
        if (won === "") won = await winner.replacePartition(EVENTS, dayEvents("2024-01-02", 7), { column: "day", value: "2024-01-02" });
      },
    });
    const failures: string[] = [];
    try {
      const head = (await lake.snapshots(EVENTS)).map((s) => s.snapshotId);
      const result = await run({
        selection: [dailyEvents],
        partition: "2024-01-02",
        resources: { lake: racing },
        onEvent: (e) => {
          if (e.type === "asset_failure") failures.push(e.error.message);
        },
      });
      succeeded(result);
      expect(result.assets.daily_events!.attempts).toBe(2);
      expect(failures).toHaveLength(1);
      expect(failures[0]).toContain(`asset "daily_events": Iceberg table ${EVENTS}: another writer committed first`);
      const ours = (await record("daily_events", "2024-01-02")).table!.snapshotId;
      const now = (await lake.snapshots(EVENTS)).map((s) => s.snapshotId);
      // the history: what was there, the winner's one commit (a delete and an append snapshot), then the retry's;
      // nothing of the refused attempt
      expect(now.slice(0, head.length)).toEqual(head);
      expect(now.slice(head.length)).toHaveLength(4);
      expect(now[head.length + 1]).toBe(won);
      expect(now.at(-1)).toBe(ours);
      const rows = await lake.readAssetTable({ asset: "test", table: EVENTS, snapshotId: ours, partitionColumn: "day", partitionValue: "2024-01-02" });
      expect(sortedRows(rows)).toEqual(sortedRows(dayEvents("2024-01-02", source.eventsVersion)));
    } finally {
      await racing.close();
      await winner.close();
    }
  });

  it("a downstream whose pinned table is gone fails naming the reader, the table and the snapshot", async () => {
    const pinned = (await record("iceberg_orders")).table!.snapshotId;
    const dropped = await fetch(`${catalog.uri}/v1/namespaces/it/tables/orders?purgeRequested=true`, { method: "DELETE" });
    expect(dropped.ok).toBe(true);
    const message = failure(await run({ selection: [orderTotals] }), "order_totals");
    expect(message).toContain(`asset "order_totals": Iceberg table ${ORDERS}: cannot read snapshot ${pinned}`);
    expect(message).toContain("materialize the upstream asset again");
  });
});
