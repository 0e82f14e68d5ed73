// TEMPORARY: the shapes of core's TableSink (TABLE-OUTPUT-CONTRACT.md §2) until @baton/core exports them.
import type pl from "nodejs-polars";
export interface TableSink {
  readonly tableFormat: "iceberg";
  writeAssetTable(write: TableWrite): Promise<TableCommit>;
  readAssetTable(read: TableRead): Promise<pl.DataFrame>;
}
export interface TableWrite {
  readonly asset: string;
  readonly table: string;
  readonly frame: pl.DataFrame;
  readonly mode: "replace" | "append";
  readonly partitionColumn: string | undefined;
  readonly partitionValue: string | undefined;
}
export interface TableCommit {
  readonly snapshotId: string;
  readonly location: string | null;
}
export interface TableRead {
  readonly asset: string;
  readonly table: string;
  readonly snapshotId: string;
  readonly partitionColumn: string | undefined;
  readonly partitionValue: string | undefined;
}
