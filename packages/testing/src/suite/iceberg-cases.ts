import { expect } from "vitest";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { openStore } from "@baton/core";
import { IcebergCatalogClient } from "@baton/iceberg";
import { generateEvents, generateOrders } from "../fixtures/data.js";
import { ICEBERG_CATALOG, ICEBERG_DAILY, ICEBERG_ORDERS } from "../fixtures/expected.js";
import { ensurePythonEnv } from "../python-env.js";
import { expectNoCanary, expectOutput, expectSucceeded, sharedRun, type CaseContext, type ConformanceCase } from "./case-kit.js";
import type { HarnessRun } from "./harness.js";

// Iceberg table outputs (issue 16, packages/core/TABLE-OUTPUT-CONTRACT.md §7). The suite started moto and a REST
// catalog of its own for this run (describe.ts); the cases read the tables through @baton/iceberg's client and
// through pyiceberg, never through the runtime.

const [DAY1, DAY2] = ICEBERG_DAILY.days;
const DAILY_ASSETS = [ICEBERG_DAILY.asset, ICEBERG_DAILY.downstream];
const ORDERS_ASSETS = [ICEBERG_ORDERS.asset, ICEBERG_ORDERS.downstream];

/** Rows as sorted canonical text: the same rows in any order (and from any reader) compare equal. */
function rowsOf(rows: readonly Readonly<Record<string, unknown>>[]): string[] {
  const value = (v: unknown) => (typeof v === "bigint" ? Number(v) : v);
  return rows.map((r) => JSON.stringify(Object.keys(r).sort().map((k) => [k, value(r[k])]))).sort();
}

const ordersRows = () => rowsOf(generateOrders().toRecords());
const eventRows = (...days: readonly string[]) => rowsOf(days.flatMap((d) => generateEvents(d).toRecords()));

/** One run of each, shared by the cases that read what it wrote, whichever runs first; the second day after the first. */
const ordersRun = (ctx: CaseContext) => sharedRun(ctx, "iceberg_orders", () => ctx.harness.materialize({ assets: ORDERS_ASSETS }));
const dayRun = (ctx: CaseContext, day: string): Promise<HarnessRun> =>
  sharedRun(ctx, `iceberg_daily_events[${day}]`, async () => {
    if (day === DAY2) await dayRun(ctx, DAY1);
    return ctx.harness.materialize({ assets: DAILY_ASSETS, partitionKey: day });
  });

interface PinnedTable {
  readonly name: string;
  readonly snapshotId: string;
}

/** The table and snapshot the Baton record of this output pins (TABLE-OUTPUT-CONTRACT.md §3). */
async function pinnedTable(ctx: CaseContext, asset: string, partitionKey?: string): Promise<PinnedTable> {
  const what = partitionKey === undefined ? asset : `${asset}[${partitionKey}]`;
  const record = await ctx.store.readRecord([asset], partitionKey);
  expect(record, `no stored record for ${what}`).toBeDefined();
  expect({ what, format: record!.format, file: record!.file }).toEqual({ what, format: "iceberg", file: null });
  const table = record!.table;
  expect(table, `the record of ${what} names no table`).toBeDefined();
  const { expectedTable, partitionColumn } = asset === ICEBERG_ORDERS.asset ? { expectedTable: ICEBERG_ORDERS.table, partitionColumn: null } : { expectedTable: ICEBERG_DAILY.table, partitionColumn: ICEBERG_DAILY.partitionColumn };
  expect({ what, format: table!.format, catalog: table!.catalog, name: table!.name, partitionColumn: table!.partitionColumn ?? null }).toEqual({
    what,
    format: "iceberg",
    catalog: ICEBERG_CATALOG,
    name: expectedTable,
    partitionColumn,
  });
  // Decimal text: a 64-bit id read as a JS number would have lost its last digits.
  expect(table!.snapshotId, `the snapshot id of ${what}`).toMatch(/^[0-9]+$/);
  return { name: table!.name, snapshotId: table!.snapshotId };
}

/** The orchestrator recorded one materialization of the output, naming the table and the snapshot its record pins. */
function expectRecordedTable(run: HarnessRun, asset: string, partitionKey: string | null, pinned: PinnedTable): void {
  const recorded = run.materializations.filter((m) => m.asset === asset && m.partitionKey === partitionKey);
  expect({ asset, partitionKey, materializations: recorded.length }).toEqual({ asset, partitionKey, materializations: 1 });
  const table = recorded[0]!.table;
  expect({ asset, partitionKey, table: table && { name: table.name, snapshotId: table.snapshotId } }, "the orchestrator's materialization does not name the table and snapshot the record pins").toEqual({
    asset,
    partitionKey,
    table: pinned,
  });
}

/** A client of this run's catalog, closed after `use`. */
async function withCatalog<T>(ctx: CaseContext, use: (client: IcebergCatalogClient) => Promise<T>): Promise<T> {
  const env = ctx.environment.env;
  const names = ["ICEBERG_REST_URI", "ICEBERG_WAREHOUSE", "ICEBERG_S3_ENDPOINT", "ICEBERG_S3_REGION", "ICEBERG_S3_ACCESS_KEY_ID", "ICEBERG_S3_SECRET_ACCESS_KEY"];
  const missing = names.filter((n) => env[n] === undefined);
  if (missing.length > 0)
    throw new Error(`the harness environment has no ${missing.join(", ")}: describeConformance starts the catalog when the runtime declares icebergOutput (own tests: makeHarnessEnvironment({ iceberg: await startIcebergCatalog(moto) }))`);
  const client = await IcebergCatalogClient.open({
    uri: env.ICEBERG_REST_URI!,
    warehouse: env.ICEBERG_WAREHOUSE!,
    s3: { endpoint: env.ICEBERG_S3_ENDPOINT!, region: env.ICEBERG_S3_REGION!, accessKeyId: env.ICEBERG_S3_ACCESS_KEY_ID!, secretAccessKey: env.ICEBERG_S3_SECRET_ACCESS_KEY! },
  });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

async function scanRows(client: IcebergCatalogClient, table: string, snapshotId: string, day?: string): Promise<string[]> {
  const frame = await client.scan(table, { snapshotId, ...(day === undefined ? {} : { filter: { [ICEBERG_DAILY.partitionColumn]: day } }) });
  return rowsOf(frame.toRecords());
}

/**
 * Every object of the catalog's warehouse (table metadata, manifests, data files) as text, by its URL: what a
 * Python user of the tables can read, so the canary must not be there either. Read through core's S3 store.
 */
async function warehouseTexts(ctx: CaseContext): Promise<Record<string, string>> {
  const env = ctx.environment.env;
  const warehouse = openStore(env.ICEBERG_WAREHOUSE!, {
    AWS_ACCESS_KEY_ID: env.ICEBERG_S3_ACCESS_KEY_ID!,
    AWS_SECRET_ACCESS_KEY: env.ICEBERG_S3_SECRET_ACCESS_KEY!,
    AWS_REGION: env.ICEBERG_S3_REGION!,
    AWS_ENDPOINT_URL_S3: env.ICEBERG_S3_ENDPOINT!,
  });
  const out: Record<string, string> = {};
  for (const file of await warehouse.listFiles()) out[`${warehouse.url}/${file}`] = await warehouse.readText(file);
  return out;
}

/** @baton/iceberg's Python reader and its pinned requirements (pyiceberg, polars): reused, not copied. */
const ICEBERG_PYTHON = join(dirname(fileURLToPath(import.meta.resolve("@baton/iceberg"))), "..", "python");

interface PythonRead {
  readonly pyiceberg: Record<string, unknown>[];
  readonly polars: Record<string, unknown>[];
  readonly snapshots: string[];
}

/** pyiceberg's and polars' (Python) rows of `table` at `snapshotId`, as a Python user reads them. */
async function pythonRead(ctx: CaseContext, table: string, snapshotId: string): Promise<PythonRead> {
  const venv = ensurePythonEnv({ name: "iceberg-readers", requirements: join(ICEBERG_PYTHON, "requirements-readers.txt") });
  const script = join(ICEBERG_PYTHON, "read_table.py");
  try {
    const { stdout } = await promisify(execFile)(venv.python, [script, table, snapshotId], {
      env: { ...process.env, ...ctx.environment.env },
      timeout: 180_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return JSON.parse(stdout) as PythonRead;
  } catch (e) {
    throw new Error(`pyiceberg could not read ${table} at snapshot ${snapshotId} (${script}): ${(e as Error).message}`, { cause: e });
  }
}

export const ICEBERG_CASES: readonly ConformanceCase[] = [
  {
    name: "an Arrow output stored in an Iceberg table and its downstream asset have the golden content hashes, and the orchestrator's materialization names the table and the snapshot the record pins",
    capability: "icebergOutput",
    async run(ctx) {
      const run = await ordersRun(ctx);
      expectSucceeded(run, ORDERS_ASSETS);
      for (const id of ORDERS_ASSETS) await expectOutput(ctx, id);
      expect((await ctx.store.readRecord([ICEBERG_ORDERS.asset], undefined))?.producedAs).toBe("arrow");
      const pinned = await pinnedTable(ctx, ICEBERG_ORDERS.asset);
      expectRecordedTable(run, ICEBERG_ORDERS.asset, null, pinned);
      // The downstream asset's output is an ordinary data file: its materialization names no table.
      expect(run.materializations.find((m) => m.asset === ICEBERG_ORDERS.downstream)?.table, `${ICEBERG_ORDERS.downstream} is not stored in a table`).toBeUndefined();
      const rows = await withCatalog(ctx, (client) => scanRows(client, pinned.name, pinned.snapshotId));
      expect(rows, `${pinned.name} at snapshot ${pinned.snapshotId} does not hold the generator's orders`).toEqual(ordersRows());
    },
  },
  {
    name: "a downstream asset reads the snapshot its upstream's record pins, not the table's head",
    capability: "icebergOutput",
    async run(ctx) {
      expectSucceeded(await ordersRun(ctx), ORDERS_ASSETS);
      const before = await ctx.store.readRecord([ICEBERG_ORDERS.asset], undefined);
      const pinned = await pinnedTable(ctx, ICEBERG_ORDERS.asset);
      // Another writer commits to the table: five more orders that no Baton record names.
      const head = await withCatalog(ctx, (client) => client.append(pinned.name, generateOrders({ rows: 5, seed: 99 })));
      expect(head, "the extra append did not move the table's head").not.toBe(pinned.snapshotId);
      const run = await ctx.harness.materialize({ assets: [ICEBERG_ORDERS.downstream] });
      expectSucceeded(run, [ICEBERG_ORDERS.downstream]);
      // The golden totals are those of the 200 orders of the pinned snapshot, not of the 205 at the head.
      await expectOutput(ctx, ICEBERG_ORDERS.downstream);
      expect(await ctx.store.readRecord([ICEBERG_ORDERS.asset], undefined), `reading ${ICEBERG_ORDERS.asset} rewrote its record`).toEqual(before);
    },
  },
  {
    name: "a second partition's write leaves the first partition's rows untouched, and a re-run replaces only its own partition",
    capability: "icebergOutput",
    async run(ctx) {
      const pinned: PinnedTable[] = [];
      for (const day of [DAY1, DAY2]) {
        const run = await dayRun(ctx, day);
        expectSucceeded(run, DAILY_ASSETS);
        for (const id of DAILY_ASSETS) await expectOutput(ctx, id, day);
        pinned.push(await pinnedTable(ctx, ICEBERG_DAILY.asset, day));
        expectRecordedTable(run, ICEBERG_DAILY.asset, day, pinned.at(-1)!);
      }
      const [first, second] = pinned as [PinnedTable, PinnedTable];
      expect(second.snapshotId, "both days' records pin one snapshot").not.toBe(first.snapshotId);
      const table = ICEBERG_DAILY.table;
      await withCatalog(ctx, async (client) => {
        expect(await scanRows(client, table, first.snapshotId), `${table} at the first day's snapshot`).toEqual(eventRows(DAY1));
        expect(await scanRows(client, table, second.snapshotId, DAY1), `${DAY1}'s rows after ${DAY2} was written`).toEqual(eventRows(DAY1));
        expect(await scanRows(client, table, second.snapshotId), `${table} after both days`).toEqual(eventRows(DAY1, DAY2));
      });
      // The first day again: its rows are replaced (not appended twice), the second day's stay, the record pins the new commit.
      const again = await ctx.harness.materialize({ assets: DAILY_ASSETS, partitionKey: DAY1 });
      expectSucceeded(again, DAILY_ASSETS);
      for (const id of DAILY_ASSETS) await expectOutput(ctx, id, DAY1);
      const replaced = await pinnedTable(ctx, ICEBERG_DAILY.asset, DAY1);
      expectRecordedTable(again, ICEBERG_DAILY.asset, DAY1, replaced);
      await withCatalog(ctx, async (client) => {
        expect(replaced.snapshotId, "the re-run's record does not pin the table's head").toBe(await client.currentSnapshotId(table));
        expect(await scanRows(client, table, replaced.snapshotId), `${table} after ${DAY1} was written again`).toEqual(eventRows(DAY1, DAY2));
      });
      expect([first.snapshotId, second.snapshotId], "the re-run committed no new snapshot").not.toContain(replaced.snapshotId);
    },
  },
  {
    name: "pyiceberg and polars (Python) read the snapshot a record pins and get the same rows",
    capability: "icebergOutput",
    async run(ctx) {
      expectSucceeded(await ordersRun(ctx), ORDERS_ASSETS);
      expectSucceeded(await dayRun(ctx, DAY2), DAILY_ASSETS);
      const reads = [
        { pinned: await pinnedTable(ctx, ICEBERG_ORDERS.asset), rows: ordersRows() },
        // The second day's commit holds both days (a re-run of the first since then made a newer snapshot).
        { pinned: await pinnedTable(ctx, ICEBERG_DAILY.asset, DAY2), rows: eventRows(DAY1, DAY2) },
      ];
      for (const { pinned, rows } of reads) {
        const read = await pythonRead(ctx, pinned.name, pinned.snapshotId);
        // The id Baton wrote as text is one pyiceberg knows (its ints, as text): no digit was lost on the way.
        expect(read.snapshots, `pyiceberg's snapshots of ${pinned.name}`).toContain(pinned.snapshotId);
        expect(rowsOf(read.pyiceberg), `pyiceberg's rows of ${pinned.name} at ${pinned.snapshotId}`).toEqual(rows);
        expect(rowsOf(read.polars), `polars' rows of ${pinned.name} at ${pinned.snapshotId}`).toEqual(rows);
      }
    },
  },
  {
    name: "the Iceberg catalog's S3 secret access key appears in no record, log, store file or table file",
    capability: "icebergOutput",
    async run(ctx) {
      expect(ctx.environment.env.ICEBERG_S3_SECRET_ACCESS_KEY, "the harness environment has no ICEBERG_S3_SECRET_ACCESS_KEY").toBeDefined();
      const runs = { orders: await ordersRun(ctx), [DAY1]: await dayRun(ctx, DAY1), [DAY2]: await dayRun(ctx, DAY2) };
      const texts: Record<string, string> = {};
      for (const [what, run] of Object.entries(runs)) {
        texts[`the records of the ${what} run`] = run.recordsText;
        texts[`the ${what} run's asset errors`] = JSON.stringify(run.assets);
        texts[`the ${what} run's materializations`] = JSON.stringify(run.materializations);
      }
      const warehouse = await warehouseTexts(ctx);
      const tables = [ICEBERG_ORDERS.table, ICEBERG_DAILY.table].map((t) => t.replace(".", "/"));
      for (const t of tables) expect(Object.keys(warehouse).some((url) => url.includes(`/${t}/`)), `no object of ${t} in the warehouse ${ctx.environment.env.ICEBERG_WAREHOUSE}`).toBe(true);
      await expectNoCanary(ctx, { ...texts, ...warehouse });
    },
  },
];
