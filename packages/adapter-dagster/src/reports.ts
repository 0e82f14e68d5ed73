/**
 * Step events as Pipes reports: Dagster's standard metadata keys where it has them
 * (`dagster/row_count`, `dagster/column_schema`, `dagster/table_name`), `iceberg/*` for an Iceberg
 * table's snapshot and location, `baton/*` for the rest, then the asset's own.
 */
import type { MetadataValue } from "@baton/core";
import type { StepEvent } from "@baton/core/step";
import { PipesMetadata, type PipesMetadataValue, type ReportAssetCheckOptions, type ReportAssetMaterializationOptions } from "./pipes/index.js";

export type MaterializationEvent = Extract<StepEvent, { type: "materialization" }>;
export type CheckEvent = Extract<StepEvent, { type: "check" }>;
type Metadata = Record<string, PipesMetadataValue | string | number | boolean | null | readonly unknown[]>;

/** Baton metadata values (JSON) as Pipes values: objects must be sent as typed JSON. */
export function userMetadata(values: Readonly<Record<string, MetadataValue>>): Metadata {
  const out: Metadata = {};
  for (const [k, v] of Object.entries(values)) out[k] = v !== null && typeof v === "object" && !Array.isArray(v) ? PipesMetadata.json(v) : (v as Metadata[string]);
  return out;
}

/** The Iceberg table an output was committed to (TABLE-OUTPUT-CONTRACT.md §6); absent for files. */
export type TableOutput = NonNullable<MaterializationEvent["metadata"]["table"]>;

/**
 * A table as Dagster's own integrations record one: `dagster/table_name` (what the catalog and
 * lineage key tables by); the snapshot id as text (a 64-bit id fits neither a JS number nor the
 * GraphQL Int the UI reads int metadata as); the table's location as a link. `snapshot` false leaves the id out:
 * a range run's one report stands for several commits (each partition's is in `baton/partitions`).
 */
function tableMetadata(table: TableOutput, snapshot = true): Metadata {
  const out: Metadata = {
    "dagster/table_name": PipesMetadata.text(table.name),
    "baton/catalog": PipesMetadata.text(table.catalog),
  };
  if (snapshot) out["iceberg/snapshot_id"] = PipesMetadata.text(table.snapshotId);
  if (table.location !== null) out["iceberg/location"] = PipesMetadata.url(table.location);
  return out;
}

function outputMetadata(m: MaterializationEvent["metadata"], snapshot = true): Metadata {
  const out: Metadata = {};
  if (m.rowCount !== null) out["dagster/row_count"] = PipesMetadata.int(m.rowCount);
  if (m.format !== "none") out["dagster/column_schema"] = PipesMetadata.tableSchema(m.schema.map((c) => ({ name: c.name, type: c.type })));
  if (m.contentHash !== null) out["baton/content_hash"] = PipesMetadata.text(m.contentHash);
  out["baton/duration_ms"] = PipesMetadata.float(m.durationMs);
  if (m.path !== null) out["baton/path"] = PipesMetadata.path(m.path);
  out["baton/format"] = PipesMetadata.text(m.format);
  return m.table ? { ...out, ...tableMetadata(m.table, snapshot) } : out;
}

export function materializationReport(assetKey: string, e: MaterializationEvent): ReportAssetMaterializationOptions {
  return { assetKey, dataVersion: e.dataVersion, metadata: { ...outputMetadata(e.metadata), ...userMetadata(e.metadata.user) } };
}

/**
 * One report for every partition of a range. Dagster records it once per partition, so neither
 * a row count nor the data version (a content hash) is set for the range: each partition's are
 * in `baton/partitions`, which the Python side adds to that partition's own event
 * (`context.add_asset_metadata(..., partition_key=)`, baton_dagster/step.py); so is the snapshot
 * an Iceberg output committed for that partition.
 */
export function rangeMaterializationReport(assetKey: string, events: readonly MaterializationEvent[]): ReportAssetMaterializationOptions {
  const last = events.at(-1)!;
  const partitions = Object.fromEntries(
    events.map((e) => {
      const { rowCount, contentHash, table } = e.metadata;
      return [e.partitionKey ?? "", { rowCount, contentHash, ...(table ? { snapshotId: table.snapshotId } : {}) }];
    }),
  );
  const metadata: Metadata = {
    ...outputMetadata({ ...last.metadata, rowCount: null, contentHash: null, path: null, durationMs: events.reduce((t, e) => t + e.metadata.durationMs, 0) }, false),
    "baton/partitions": PipesMetadata.json(partitions),
    ...userMetadata(last.metadata.user),
  };
  return { assetKey, dataVersion: null, metadata };
}

function checkMetadata(e: CheckEvent): Metadata {
  return { ...(e.description !== null ? { description: PipesMetadata.text(e.description) } : {}), ...userMetadata(e.metadata) };
}

export function checkReport(assetKey: string, e: CheckEvent): ReportAssetCheckOptions {
  return { assetKey, checkName: e.check, passed: e.passed, severity: e.severity === "warn" ? "WARN" : "ERROR", metadata: checkMetadata(e) };
}

/** A check over a range passes when it passed for every partition; the failing keys are listed. */
export function rangeCheckReport(assetKey: string, events: readonly CheckEvent[]): ReportAssetCheckOptions {
  const first = events[0]!;
  const failed = events.filter((e) => !e.passed).map((e) => e.partitionKey ?? "");
  return {
    ...checkReport(assetKey, first),
    passed: failed.length === 0,
    metadata: { ...checkMetadata(first), "baton/failed_partitions": PipesMetadata.json(failed) },
  };
}
