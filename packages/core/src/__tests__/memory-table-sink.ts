import pl from "nodejs-polars";
import type { TableCommit, TableRead, TableSink, TableWrite } from "../io/table-sink.js";

/**
 * A test double of a catalog resource only (the real Iceberg catalog is @baton/iceberg's, tested
 * there): each table a list of snapshots, each snapshot the table's whole frame after one commit.
 */
export class MemoryTableSink implements TableSink {
  readonly tableFormat = "iceberg" as const;
  readonly tables = new Map<string, { id: string; frame: pl.DataFrame }[]>();
  readonly writes: TableWrite[] = [];
  readonly reads: TableRead[] = [];
  /** Awaited inside each write, before the commit (a slow catalog). */
  beforeWrite: () => Promise<void> = async () => undefined;
  private next = 4817311548932601471n;

  async writeAssetTable(write: TableWrite): Promise<TableCommit> {
    this.writes.push(write);
    await this.beforeWrite();
    const snapshots = this.tables.get(write.table) ?? [];
    const current = snapshots.at(-1)?.frame;
    let frame: pl.DataFrame;
    if (current === undefined || (write.mode === "replace" && write.partitionValue === undefined)) frame = write.frame;
    else if (write.mode === "append") frame = pl.concat([current, write.frame], { how: "vertical" });
    else frame = pl.concat([current.filter(pl.col(write.partitionColumn!).cast(pl.Utf8).neq(pl.lit(write.partitionValue!))), write.frame], { how: "vertical" });
    // Past 2^53: a snapshot id only a string carries exactly.
    const id = (this.next++).toString();
    snapshots.push({ id, frame });
    this.tables.set(write.table, snapshots);
    return { snapshotId: id, location: `s3://warehouse/${write.table.replace(".", "/")}` };
  }

  async readAssetTable(read: TableRead): Promise<pl.DataFrame> {
    this.reads.push(read);
    const snapshot = this.tables.get(read.table)?.find((s) => s.id === read.snapshotId);
    if (!snapshot) throw new Error(`table ${read.table} has no snapshot ${read.snapshotId}`);
    if (read.partitionColumn === undefined || read.partitionValue === undefined) return snapshot.frame;
    return snapshot.frame.filter(pl.col(read.partitionColumn).cast(pl.Utf8).eq(pl.lit(read.partitionValue)));
  }

  /** The rows of the table's latest snapshot. */
  current(table: string): pl.DataFrame | undefined {
    return this.tables.get(table)?.at(-1)?.frame;
  }
}
