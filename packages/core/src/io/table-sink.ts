import type pl from "nodejs-polars";
import { BatonError } from "../errors.js";

/**
 * What a catalog resource implements so that an asset can store its output in one of its tables
 * (TABLE-OUTPUT-CONTRACT.md §2). Core knows no Iceberg: `@baton/iceberg`'s `icebergCatalog` is one.
 */
export interface TableSink {
  readonly tableFormat: "iceberg";
  /** One commit; returns the committed snapshot. Throws a BatonError naming `asset` and `table`. */
  writeAssetTable(write: TableWrite): Promise<TableCommit>;
  /** The rows of `snapshotId` (where partitionColumn = partitionValue, when given). */
  readAssetTable(read: TableRead): Promise<pl.DataFrame>;
}

export interface TableWrite {
  /** The asset written, for messages. */
  readonly asset: string;
  /** `namespace.table`. */
  readonly table: string;
  /** The output as compute returned it (an Arrow table converted). */
  readonly frame: pl.DataFrame;
  readonly mode: "replace" | "append";
  readonly partitionColumn: string | undefined;
  /** The partition key; undefined: the whole table. */
  readonly partitionValue: string | undefined;
}

export interface TableCommit {
  /** A decimal string: 64-bit snapshot ids do not fit a JS number. */
  readonly snapshotId: string;
  /** The table's location (s3://…), for the materialization; null when unknown. */
  readonly location: string | null;
}

export interface TableRead {
  /** The asset that reads (for messages). */
  readonly asset: string;
  readonly table: string;
  readonly snapshotId: string;
  readonly partitionColumn: string | undefined;
  readonly partitionValue: string | undefined;
}

/** An asset's table io as declared: `io: { format: "iceberg", catalog, table, partitionColumn, mode }`. */
export interface TableIO<C extends string = string> {
  readonly format: "iceberg";
  /** The name of a resource the asset declares, whose instance is a `TableSink`. */
  readonly catalog: C;
  /** `namespace.table`. */
  readonly table: string;
  /** Required for a partitioned asset: replace deletes the rows whose value equals the partition key. */
  readonly partitionColumn?: string;
  /** "replace" (default, idempotent) or "append" (at-least-once: a retry after a lost record appends again). */
  readonly mode?: "replace" | "append";
}

/** The table of an asset definition, resolved (the manifest's `assets[].table`). */
export interface AssetTable {
  readonly format: "iceberg";
  readonly catalog: string;
  readonly name: string;
  readonly partitionColumn: string | undefined;
  readonly mode: "replace" | "append";
}

/** The `table` of an output record: the snapshot the step committed, which every read of the record pins. */
export interface RecordTable {
  readonly format: "iceberg";
  readonly catalog: string;
  readonly name: string;
  readonly snapshotId: string;
  readonly partitionColumn: string | null;
  readonly location: string | null;
}

/**
 * The sink of catalog resource `catalog`, declared by `asset` (for the message): a store reads and
 * writes table outputs through it. Throws CONFIG when that resource is not a table catalog.
 */
export type TableResolver = (catalog: string, asset: string) => TableSink;

/** `namespace.table`, one namespace level, each part an identifier. */
export const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/;

export function isTableSink(x: unknown): x is TableSink {
  if (typeof x !== "object" || x === null) return false;
  const s = x as Partial<TableSink>;
  return s.tableFormat === "iceberg" && typeof s.writeAssetTable === "function" && typeof s.readAssetTable === "function";
}

/** A resolver over built resource instances: the one check that a catalog resource is a `TableSink`. */
export function tableResolver(instances: Readonly<Record<string, unknown>>): TableResolver {
  return (catalog, asset) => {
    const instance = instances[catalog];
    if (isTableSink(instance)) return instance;
    const why = Object.hasOwn(instances, catalog) ? "is not a table catalog (no writeAssetTable)" : "is not built in this step";
    throw new BatonError("CONFIG", `resource "${catalog}" of asset "${asset}" ${why}: use icebergCatalog from @baton/iceberg`, {
      asset,
      hint: `declare it as resources: { ${catalog}: icebergCatalog } (from @baton/iceberg), or pass an object implementing TableSink as resources.${catalog}`,
    });
  };
}
