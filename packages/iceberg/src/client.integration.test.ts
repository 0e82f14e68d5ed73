import { resolveConfig } from "@baton/core";
import pl from "nodejs-polars";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { caught, readWithScript, startTestCatalog, type Row, type TestCatalog } from "./__tests__/catalog.js";
import { IcebergCatalogClient, type IcebergCatalogConfig } from "./client.js";
import { icebergCatalog } from "./resource.js";

const sorted = (df: pl.DataFrame): Row[] => df.sort(["day", "id"]).toRecords() as Row[];

function day(d: string, ids: number[], value = 1.5): pl.DataFrame {
  return pl.DataFrame({ day: ids.map(() => d), id: ids, value: ids.map((i) => i * value) }).withColumns(pl.col("id").cast(pl.Int64));
}

describe("IcebergCatalogClient against Apache Iceberg's REST catalog on moto", () => {
  let catalog: TestCatalog;
  let config: IcebergCatalogConfig;
  let client: IcebergCatalogClient;
  const T = "baton.daily_metrics";

  beforeAll(async () => {
    catalog = await startTestCatalog();
    ({ config } = catalog);
    client = await IcebergCatalogClient.open(config);
  }, 600_000);
  afterAll(async () => {
    await client?.close();
    await catalog?.stop();
  });

  let first = "";
  let firstRows: Row[] = [];

  it("creates a partitioned table and appends in one commit each, snapshot ids as exact strings", async () => {
    const empty = await client.createTable(T, day("x", [1]).schema, { partitionColumn: "day" });
    expect(empty.numRows).toBe(0);
    expect(empty.schema.fields.map((f) => f.name)).toEqual(["day", "id", "value"]);
    // re-creating with the same columns is a no-op (a re-run), not an error
    await client.createTable(T, day("x", [1]).schema, { partitionColumn: "day" });

    first = await client.append(T, pl.concat([day("2024-01-01", [1, 2]), day("2024-01-02", [3])]));
    expect(first).toMatch(/^-?\d+$/);
    expect(await client.currentSnapshotId(T)).toBe(first);
    const second = await client.append(T, day("2024-01-03", [4, 5]));
    expect(second).not.toBe(first);
    const snapshots = await client.snapshots(T);
    expect(snapshots.map((s) => s.snapshotId).slice(-2)).toEqual([first, second]);
    expect(snapshots.at(-1)?.operation).toBe("append");
    firstRows = sorted(await client.scan(T, { snapshotId: first }));
    expect(firstRows.map((r) => r.id)).toEqual([1n, 2n, 3n].map(Number));
    expect(sorted(await client.scan(T)).map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
    // the REST catalog's own record of the head is the id append returned, digit for digit
    const table = (await (await fetch(`${catalog.uri}/v1/namespaces/baton/tables/daily_metrics`)).text());
    expect(table).toMatch(new RegExp(`"current-snapshot-id"\\s*:\\s*${second}\\b`));
  });

  it("replaces one partition in one commit and leaves the others untouched", async () => {
    const before = sorted(await client.scan(T, { filter: { day: ["2024-01-01", "2024-01-03"] } }));
    const head = await client.currentSnapshotId(T);
    const metaBefore = (await (await fetch(`${catalog.uri}/v1/namespaces/baton/tables/daily_metrics`)).json()) as { "metadata-location": string };
    const replaced = await client.replacePartition(T, day("2024-01-02", [30, 31], 2), { column: "day", value: "2024-01-02" });
    const rows = sorted(await client.scan(T));
    expect(rows.filter((r) => r.day === "2024-01-02")).toEqual([
      { day: "2024-01-02", id: 30, value: 60 },
      { day: "2024-01-02", id: 31, value: 62 },
    ]);
    expect(rows.filter((r) => r.day !== "2024-01-02")).toEqual(before);
    // one REST commit: the table's metadata log gained exactly one entry (the metadata file before it)
    const metaAfter = (await (await fetch(`${catalog.uri}/v1/namespaces/baton/tables/daily_metrics`)).json()) as { metadata: { "metadata-log": { "metadata-file": string }[] } };
    expect(metaAfter.metadata["metadata-log"].at(-1)?.["metadata-file"]).toBe(metaBefore["metadata-location"]);
    expect(await client.currentSnapshotId(T)).toBe(replaced);
    expect(replaced).not.toBe(head);
  });

  it("a scan pinned to a snapshot reads the same rows after later commits", async () => {
    expect(sorted(await client.scan(T, { snapshotId: first }))).toEqual(firstRows);
    const some = await client.scan(T, { snapshotId: first, columns: ["id", "day"], filter: { day: "2024-01-01" } });
    expect(some.columns).toEqual(["id", "day"]);
    expect(some.sort("id").getColumn("id").toArray()).toEqual([1, 2]);
    const arrow = await client.loadTable(T);
    expect(arrow.numRows).toBe(6);
    expect(arrow.schema.fields.map((f) => f.name)).toEqual(["day", "id", "value"]);
  });

  it("takes the seed's Arrow schema in createTable and gives Arrow back from loadTable", async () => {
    const { Field, Float64, Int32, Schema, Utf8 } = await import("apache-arrow");
    const schema = new Schema([new Field("shop", new Utf8(), true), new Field("n", new Int32(), true), new Field("revenue", new Float64(), true)]);
    const created = await client.createTable("baton.from_arrow", schema);
    // strings come back as polars writes them to Arrow (large offsets), as core's own polars → Arrow does
    expect(created.schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual(["shop:LargeUtf8", "n:Int32", "revenue:Float64"]);
    await client.append("baton.from_arrow", pl.DataFrame({ shop: ["a", "b"], n: [1, 2], revenue: [1.5, 2.5] }).withColumns(pl.col("n").cast(pl.Int32)));
    const loaded = await client.loadTable("baton.from_arrow");
    expect(loaded.toArray().map((r) => r.toJSON())).toEqual([
      { shop: "a", n: 1, revenue: 1.5 },
      { shop: "b", n: 2, revenue: 2.5 },
    ]);
  });

  it("pyiceberg 0.12 and Python polars (python/read_table.py) read the rows the client wrote, at the same snapshot", async () => {
    const now = readWithScript(catalog.env, T);
    const ours = sorted(await client.scan(T));
    expect(now.pyiceberg).toEqual(ours);
    expect(now.polars).toEqual(ours);
    expect(now.current).toBe(await client.currentSnapshotId(T));
    expect(now.snapshots).toEqual((await client.snapshots(T)).map((s) => s.snapshotId));
    const then = readWithScript(catalog.env, T, first);
    expect(then.pyiceberg).toEqual(firstRows);
    expect(then.polars).toEqual(firstRows);
  }, 600_000);

  it("an unknown table is an UNKNOWN_TABLE error naming it, for reads and writes", async () => {
    for (const p of [client.scan("baton.nope"), client.append("baton.nope", day("2024-01-01", [1])), client.scan("nowhere.nope")]) {
      const e = await caught(p);
      expect(e.reason).toBe("UNKNOWN_TABLE");
      expect(e.message).toContain("nope");
      expect(e.hint).toContain("createTable");
      expect(e.retryable).toBe(false);
    }
    const snap = await caught(client.scan(T, { snapshotId: "123" }));
    expect(snap.message).toContain(`${T}: has no snapshot 123`);
  });

  it("a schema mismatch on append names the table and the columns, and commits nothing", async () => {
    const head = await client.snapshots(T);
    const rows = sorted(await client.scan(T));
    const wrongType = day("2024-01-05", [1]).withColumns(pl.col("value").cast(pl.Utf8));
    const e = await caught(client.append(T, wrongType));
    expect(e.reason).toBe("SCHEMA_MISMATCH");
    expect(e.code).toBe("WRONG_OUTPUT_TYPE");
    expect(e.message).toContain(T);
    expect(e.message).toContain(`column "value" is VARCHAR, the table has DOUBLE`);
    const missing = await caught(client.append(T, day("2024-01-05", [1]).drop("value")));
    expect(missing.message).toContain(`column "value" (DOUBLE) is missing`);
    const wrongPartition = await caught(client.replacePartition(T, day("2024-01-06", [1]), { column: "day", value: "2024-01-05" }));
    expect(wrongPartition.message).toContain("carry another day");
    expect(await client.snapshots(T)).toEqual(head);
    expect(sorted(await client.scan(T))).toEqual(rows);
  });

  it("a write that fails after its delete is staged rolls back whole: no half-committed snapshot", async () => {
    const failing = await IcebergCatalogClient.open({
      ...config,
      beforeCommit: async () => {
        throw new Error("the step was killed before COMMIT");
      },
    });
    try {
      const head = await client.snapshots(T);
      const rows = sorted(await client.scan(T));
      await expect(failing.replacePartition(T, day("2024-01-01", [99]), { column: "day", value: "2024-01-01" })).rejects.toThrow(/killed before COMMIT/);
      expect(await client.snapshots(T)).toEqual(head);
      expect(sorted(await client.scan(T))).toEqual(rows);
    } finally {
      await failing.close();
    }
  });

  it("a commit conflict is a retryable COMMIT_CONFLICT naming the table; only the other writer's commit lands", async () => {
    const other = await IcebergCatalogClient.open(config);
    let otherId = "";
    const racing = await IcebergCatalogClient.open({
      ...config,
      // another writer commits between this transaction's reads and its COMMIT
      beforeCommit: async () => {
        otherId = await other.append(T, day("2024-01-07", [70]));
      },
    });
    try {
      const e = await caught(racing.replacePartition(T, day("2024-01-03", [40]), { column: "day", value: "2024-01-03" }));
      expect(e.reason).toBe("COMMIT_CONFLICT");
      expect(e.retryable).toBe(true);
      expect(e.message).toContain(T);
      expect(e.hint).toContain("run the step again");
      expect(await client.currentSnapshotId(T)).toBe(otherId);
      const rows = sorted(await client.scan(T));
      expect(rows.filter((r) => r.day === "2024-01-03").map((r) => r.id)).toEqual([4, 5]);
      expect(rows.some((r) => r.id === 70)).toBe(true);
    } finally {
      await racing.close();
      await other.close();
    }
  });

  it("an unreachable catalog is a retryable CATALOG_UNREACHABLE naming the URI", async () => {
    const e = await caught(IcebergCatalogClient.open({ ...config, uri: "http://127.0.0.1:9" }));
    expect(e.reason).toBe("CATALOG_UNREACHABLE");
    expect(e.retryable).toBe(true);
    expect(e.message).toContain("http://127.0.0.1:9");
    expect(e.hint).toContain("ICEBERG_REST_URI");
  });

  it("the icebergCatalog resource builds the client from the environment; the keys are secret fields", async () => {
    const fields = icebergCatalog.config;
    expect(fields.secretAccessKey.secret).toBe(true);
    expect(fields.accessKeyId.secret).toBe(true);
    const values = resolveConfig("lake", fields, catalog.env);
    const prev = process.env.BATON_DUCKDB_EXTENSIONS;
    process.env.BATON_DUCKDB_EXTENSIONS = config.extensionDirectory!;
    try {
      const lake = await icebergCatalog.create(values);
      try {
        expect((await lake.scan(T, { filter: { day: "2024-01-02" } })).height).toBe(2);
      } finally {
        await icebergCatalog.teardown?.(lake);
      }
    } finally {
      if (prev === undefined) delete process.env.BATON_DUCKDB_EXTENSIONS;
      else process.env.BATON_DUCKDB_EXTENSIONS = prev;
    }
  });
});
