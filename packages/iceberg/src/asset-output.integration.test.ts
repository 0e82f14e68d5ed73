import pl from "nodejs-polars";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { caught, sortedRows, startTestCatalog, type TestCatalog } from "./__tests__/catalog.js";
import { IcebergCatalogClient } from "./client.js";
import type { TableWrite } from "@baton/core";

/** A day's events; `day` is a Date column: the partition key is compared with it as text. */
function events(day: string, ids: number[]): pl.DataFrame {
  return pl
    .DataFrame({ day: ids.map(() => day), id: ids, n: ids.map((i) => i * 10) })
    .withColumns(pl.col("day").str.strptime(pl.Date, "%Y-%m-%d"), pl.col("id").cast(pl.Int64), pl.col("n").cast(pl.Int64));
}

type Metadata = { "metadata-location": string; metadata: { "current-snapshot-id"?: number; location: string; "metadata-log": unknown[]; snapshots?: unknown[] } };

describe("IcebergCatalogClient as core's TableSink, against the REST catalog on moto", () => {
  let catalog: TestCatalog;
  let lake: IcebergCatalogClient;
  const timings: Record<string, number> = {};

  /** The REST catalog's own view of a table (its JSON text too: snapshot ids there are exact digits). */
  async function metadata(table: string): Promise<{ json: Metadata; text: string }> {
    const [ns, name] = table.split(".");
    const text = await (await fetch(`${catalog.uri}/v1/namespaces/${ns}/tables/${name}`)).text();
    return { json: JSON.parse(text) as Metadata, text };
  }

  const daily = (partitionValue: string, frame: pl.DataFrame, over: Partial<TableWrite> = {}): TableWrite => ({
    asset: "daily_events",
    table: "sink.daily_events",
    frame,
    mode: "replace",
    partitionColumn: "day",
    partitionValue,
    ...over,
  });

  beforeAll(async () => {
    catalog = await startTestCatalog();
    timings.catalogStartMs = catalog.startMs;
    lake = await IcebergCatalogClient.open(catalog.config);
  }, 600_000);
  afterAll(async () => {
    await lake?.close();
    await catalog?.stop();
    console.log(`iceberg timings (ms): ${JSON.stringify(timings)}`);
  });

  it("partitioned replace: creates the table on the first write, one commit per write, other partitions untouched", async () => {
    let t = Date.now();
    const first = await lake.writeAssetTable(daily("2024-01-01", events("2024-01-01", [1, 2])));
    timings.firstWriteMs = Date.now() - t;
    expect(first.snapshotId).toMatch(/^\d+$/);
    expect(first.location).toMatch(/^s3:\/\/iceberg-warehouse\/.*daily_events/);
    const second = await lake.writeAssetTable(daily("2024-01-02", events("2024-01-02", [3])));
    const before = await metadata("sink.daily_events");
    t = Date.now();
    const replaced = await lake.writeAssetTable(daily("2024-01-01", events("2024-01-01", [7, 8, 9])));
    timings.replaceWriteMs = Date.now() - t;
    const after = await metadata("sink.daily_events");
    // one REST commit: the metadata log gained one entry, the metadata file the replace started from
    expect(after.json.metadata["metadata-log"]).toHaveLength(before.json.metadata["metadata-log"].length + 1);
    expect(after.json.metadata["metadata-log"].at(-1)).toMatchObject({ "metadata-file": before.json["metadata-location"] });
    // the id the sink returned is the catalog's head, digit for digit (a JS number would have rounded it)
    expect(after.text).toMatch(new RegExp(`"current-snapshot-id"\\s*:\\s*${replaced.snapshotId}\\b`));
    expect(replaced.location).toBe(after.json.metadata.location);

    const read = (snapshotId: string, partitionValue?: string) =>
      lake.readAssetTable({ asset: "reader", table: "sink.daily_events", snapshotId, partitionColumn: "day", partitionValue });
    t = Date.now();
    const day2 = await read(replaced.snapshotId, "2024-01-02");
    timings.readMs = Date.now() - t;
    expect(sortedRows(day2)).toEqual(sortedRows(events("2024-01-02", [3])));
    expect(sortedRows(await read(replaced.snapshotId, "2024-01-01"))).toEqual(sortedRows(events("2024-01-01", [7, 8, 9])));
    // the pinned snapshots still read as they were committed
    expect(sortedRows(await read(first.snapshotId))).toEqual(sortedRows(events("2024-01-01", [1, 2])));
    expect(sortedRows(await read(second.snapshotId, "2024-01-01"))).toEqual(sortedRows(events("2024-01-01", [1, 2])));
  });

  it("unpartitioned replace overwrites the whole table in one commit; append adds one commit of rows", async () => {
    const whole = (frame: pl.DataFrame, mode: "replace" | "append" = "replace") =>
      lake.writeAssetTable({ asset: "totals", table: "sink.totals", frame, mode, partitionColumn: undefined, partitionValue: undefined });
    const read = (snapshotId: string) => lake.readAssetTable({ asset: "reader", table: "sink.totals", snapshotId, partitionColumn: undefined, partitionValue: undefined });
    const a = pl.DataFrame({ shop: ["a", "b"], revenue: [1.5, 2.5] });
    const b = pl.DataFrame({ shop: ["c"], revenue: [9.0] });
    // zero rows commit no snapshot in DuckDB: a table's first write must have rows, and a retry cannot help
    const empty = await caught(whole(pl.DataFrame({ shop: [] as string[], revenue: [] as number[] }).withColumns(pl.col("shop").cast(pl.Utf8), pl.col("revenue").cast(pl.Float64))));
    expect(empty.retryable).toBe(false);
    expect(empty.message).toContain(`asset "totals": Iceberg table sink.totals:`);
    expect(empty.hint).toContain("at least one row");
    const one = await whole(a);
    const two = await whole(b);
    expect(sortedRows(await read(two.snapshotId))).toEqual(sortedRows(b));
    const three = await whole(a, "append");
    expect(sortedRows(await read(three.snapshotId))).toEqual(sortedRows(pl.concat([a, b])));
    expect(sortedRows(await read(one.snapshotId))).toEqual(sortedRows(a));
    const snapshots = await lake.snapshots("sink.totals");
    expect(snapshots.at(-1)).toMatchObject({ snapshotId: three.snapshotId, operation: "append" });
  });

  it("a row outside the partition is refused before anything is created, naming the asset, table, column and value", async () => {
    const frame = pl.concat([events("2024-01-05", [1]), events("2024-01-04", [2])]);
    const e = await caught(lake.writeAssetTable(daily("2024-01-05", frame, { table: "sink.never_created" })));
    expect(e.code).toBe("WRONG_OUTPUT_TYPE");
    expect(e.retryable).toBe(false);
    expect(e.asset).toBe("daily_events");
    expect(e.message).toContain(`asset "daily_events": Iceberg table sink.never_created:`);
    expect(e.message).toContain(`day = "2024-01-05"`);
    expect(e.message).toContain(`the first: "2024-01-04"`);
    expect((await caught(lake.snapshots("sink.never_created"))).reason).toBe("UNKNOWN_TABLE");
    const missing = await caught(lake.writeAssetTable(daily("2024-01-05", frame.drop("day"))));
    expect(missing.message).toContain(`no partition column "day"`);
  });

  it("a schema mismatch on append names the asset, table and columns and commits nothing", async () => {
    const head = await lake.snapshots("sink.daily_events");
    const wrong = events("2024-01-03", [5]).withColumns(pl.col("n").cast(pl.Utf8)).withColumn(pl.lit(true).alias("extra"));
    const e = await caught(lake.writeAssetTable(daily("2024-01-03", wrong, { mode: "append" })));
    expect(e.reason).toBe("SCHEMA_MISMATCH");
    expect(e.code).toBe("WRONG_OUTPUT_TYPE");
    expect(e.retryable).toBe(false);
    expect(e.message).toContain(`asset "daily_events": Iceberg table sink.daily_events:`);
    expect(e.message).toContain(`column "n" is VARCHAR, the table has BIGINT`);
    expect(e.message).toContain(`column "extra" (BOOLEAN) is not in the table`);
    expect(e.hint).toContain("write to a new table");
    expect(await lake.snapshots("sink.daily_events")).toEqual(head);
  });

  it("reading an unknown table or snapshot names the reader, the table and the snapshot", async () => {
    const { snapshotId } = (await lake.snapshots("sink.daily_events")).at(-1)!;
    for (const [table, id] of [
      ["sink.gone", snapshotId],
      ["nowhere.gone", snapshotId],
      ["sink.daily_events", "123"],
    ] as const) {
      const e = await caught(lake.readAssetTable({ asset: "downstream", table, snapshotId: id, partitionColumn: undefined, partitionValue: undefined }));
      expect(e.reason).toBe("UNKNOWN_TABLE");
      expect(e.retryable).toBe(false);
      expect(e.message).toContain(`asset "downstream": Iceberg table ${table}: cannot read snapshot ${id}`);
      expect(e.hint).toContain("materialize the upstream asset again");
    }
  });

  it("an unreachable catalog fails the write as retryable, naming the asset, table and URI", async () => {
    const nowhere = await IcebergCatalogClient.open({ ...catalog.config, uri: "http://127.0.0.1:9", attach: "first-use" });
    try {
      const e = await caught(nowhere.writeAssetTable(daily("2024-01-01", events("2024-01-01", [1]))));
      expect(e.reason).toBe("CATALOG_UNREACHABLE");
      expect(e.retryable).toBe(true);
      expect(e.message).toContain(`asset "daily_events": Iceberg table sink.daily_events:`);
      expect(e.message).toContain("http://127.0.0.1:9");
      expect(e.hint).toContain("ICEBERG_REST_URI");
    } finally {
      await nowhere.close();
    }
  });

  it("two writers racing on one partition: the loser's commit is refused (retryable), only the winner's lands", async () => {
    const winner = await IcebergCatalogClient.open(catalog.config);
    let won = "";
    const loser = await IcebergCatalogClient.open({
      ...catalog.config,
      // the other writer replaces the same partition between this write's staging and its COMMIT
      beforeCommit: async () => {
        won = (await winner.writeAssetTable(daily("2024-01-02", events("2024-01-02", [20])))).snapshotId;
      },
    });
    try {
      const head = (await lake.snapshots("sink.daily_events")).map((s) => s.snapshotId);
      const e = await caught(loser.writeAssetTable(daily("2024-01-02", events("2024-01-02", [30]))));
      expect(e.reason).toBe("COMMIT_CONFLICT");
      expect(e.retryable).toBe(true);
      expect(e.message).toContain(`asset "daily_events": Iceberg table sink.daily_events:`);
      const now = (await lake.snapshots("sink.daily_events")).map((s) => s.snapshotId);
      // the winner's commit (a delete and an append snapshot), nothing of the loser's
      expect(now.slice(0, head.length)).toEqual(head);
      expect(now.at(-1)).toBe(won);
      expect(now).toHaveLength(head.length + 2);
      const rows = await lake.readAssetTable({ asset: "reader", table: "sink.daily_events", snapshotId: won, partitionColumn: "day", partitionValue: "2024-01-02" });
      expect(sortedRows(rows)).toEqual(sortedRows(events("2024-01-02", [20])));
    } finally {
      await loser.close();
      await winner.close();
    }
  });
});
