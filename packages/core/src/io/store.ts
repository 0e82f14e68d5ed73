import pl from "nodejs-polars";
import { writeFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BatonError } from "../errors.js";
import type { AssetKey } from "../keys.js";
import type { FrameKind } from "../asset.js";
import { contentHash, inChunksOf, schemaOf, type ColumnSchema } from "./frames.js";
import type { StoreBackend } from "./backend.js";
import { LocalBackend } from "./local-backend.js";
import { BatonStorageError } from "./storage-error.js";
import type { RecordTable, TableResolver, TableSink } from "./table-sink.js";

/**
 * The record stored beside each output. `file` is the data file it commits to; an "iceberg" output has no
 * file: `table` names the catalog, the table and the snapshot the step committed (TABLE-OUTPUT-CONTRACT.md §3).
 */
export interface OutputRecord {
  readonly assetKey: string;
  readonly partitionKey: string | null;
  readonly format: "parquet" | "ipc" | "iceberg" | "none";
  readonly file: string | null;
  readonly rowCount: number | null;
  readonly schema: readonly ColumnSchema[];
  readonly contentHash: string | null;
  readonly producedAs: FrameKind | "none";
  readonly codeVersion: string | null;
  readonly runId: string;
  /** Absent from parquet/ipc records (readers ignore what they do not know). */
  readonly table?: RecordTable;
}

const UNPARTITIONED = "__unpartitioned__";

/** Rows per record batch of a stored IPC file (a batch is encoded in memory before it is written). */
const IPC_BATCH_ROWS = 65_536;

/**
 * One path segment for a key part or a partition key. `encodeURIComponent` (the encoding stores
 * have always used, kept for ordinary keys) leaves "." alone and would let "." and ".." climb out of
 * the asset's folder, so a leading "." is encoded as well; the reserved unpartitioned folder name
 * is encoded so a partition named like it cannot take that folder. The result is one segment that
 * is neither "." nor ".." nor the reserved name, and different keys give different segments.
 */
export function encodeSegment(part: string): string {
  const encoded = encodeURIComponent(part).replace(/^\./, "%2E");
  return encoded === UNPARTITIONED ? "%5F_unpartitioned__" : encoded;
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export { BatonStorageError } from "./storage-error.js";

/**
 * The local folder BATON_STORAGE names (default `./.baton/storage`). A URL is never read as a
 * folder name (`s3://b/p` once became a local folder `s3:`): anything but a path or `file://` is
 * an error here; `openStore` opens the other stores.
 */
export function defaultStorageRoot(environment: Readonly<Record<string, string | undefined>> = process.env): string {
  const spec = environment.BATON_STORAGE;
  if (spec === undefined || spec === "") return join(process.cwd(), ".baton", "storage");
  if (/^file:/i.test(spec)) return fileURLToPath(spec);
  if (/^[A-Za-z][A-Za-z0-9+.-]+:/.test(spec)) {
    throw new BatonError("STORAGE_URL", `BATON_STORAGE=${JSON.stringify(spec)} is not a local folder`, {
      hint: "open it with openStore(process.env.BATON_STORAGE) (s3://bucket[/prefix]), or set BATON_STORAGE to a local folder",
    });
  }
  return resolve(spec);
}

/** What `write` takes: one output of one asset (and partition). */
export interface WriteArgs {
  readonly key: AssetKey;
  readonly partitionKey: string | undefined;
  readonly frame: pl.DataFrame | undefined;
  readonly producedAs: FrameKind | "none";
  readonly format: "parquet" | "ipc" | "iceberg";
  readonly codeVersion: string | undefined;
  readonly runId: string;
  /**
   * Called just before the commit point (and, for a table output, before the table commit too); a throw leaves
   * the previous output in place (a timed-out attempt).
   */
  readonly beforeCommit?: () => void;
  /** Required with format "iceberg": the frame goes to this table in one commit, the record names its snapshot. */
  readonly table?: TableTarget;
}

/** Where a table output goes: the catalog resource's sink and the asset's table io. */
export interface TableTarget {
  readonly catalog: string;
  readonly sink: TableSink;
  readonly name: string;
  readonly partitionColumn: string | undefined;
  readonly mode: "replace" | "append";
}

/** A committed write; `conflict` when another writer committed the same output meanwhile (S3; last writer wins). */
export type WriteResult = OutputRecord & { readonly conflict?: { readonly otherRunId: string | null } };

/** Where outputs live (STORAGE-CONTRACT.md): a local folder or an S3 prefix, with one layout. */
export interface IOStore {
  /** "/abs/folder" or "s3://bucket/prefix", for messages. */
  readonly url: string;
  /** The partition folder, as a path or an s3:// URL. */
  dirOf(key: AssetKey, partitionKey: string | undefined): string;
  /** One file of a partition folder, as a path or an s3:// URL (materialization metadata "path"). */
  locationOf(key: AssetKey, partitionKey: string | undefined, file: string): string;
  prepare(key: AssetKey, partitionKey: string | undefined): Promise<string>;
  write(args: WriteArgs): Promise<WriteResult>;
  readRecord(key: AssetKey, partitionKey: string | undefined): Promise<OutputRecord | undefined>;
  read(key: AssetKey, partitionKey: string | undefined, reader?: Reader): Promise<{ frame: pl.DataFrame; record: OutputRecord }>;
  readMany(key: AssetKey, partitionKeys: readonly string[], reader?: Reader): Promise<{ frame: pl.DataFrame; records: OutputRecord[] }>;
  storedPartitions(key: AssetKey): Promise<string[]>;
  /**
   * This store, reading table outputs through `resolve` (catalog resource name -> its sink). Without it, a read
   * of an "iceberg" record throws CONFIG: core's tools that build no resources cannot read a table.
   */
  withTables(resolve: TableResolver): IOStore;
  /** Every file or object below the root, relative and "/"-separated, sorted (tests, secret scans). */
  listFiles(): Promise<string[]>;
  /** One file or object below the root as text. */
  readText(relative: string): Promise<string>;
  /**
   * A local path of one file of a partition folder (a record's data file): the file itself in a local
   * folder, else a copy downloaded into `tempDir` (an asset group's `inputFile`).
   */
  localFile(key: AssetKey, partitionKey: string | undefined, file: string, tempDir: string): Promise<string>;
}

/**
 * Outputs under a root: `<root>/<key parts>/<partition>/`. A write puts the data in a new file,
 * then replaces `record.json` in one step — the single commit point — so a reader sees the old
 * output or the new one, never a torn one. The layout, the record checks and the read loop live
 * here once; the backend only moves bytes (a local folder, an S3 prefix).
 */
export class BackendIOStore implements IOStore {
  readonly url: string;
  /** How table outputs are read: set on the view `withTables` returns. */
  protected tables: TableResolver | undefined;
  constructor(protected readonly backend: StoreBackend) {
    this.url = backend.url;
  }

  withTables(resolve: TableResolver): IOStore {
    // A view sharing the backend (and the subclass's fields), not a second store.
    const view = Object.create(this) as BackendIOStore;
    view.tables = resolve;
    return view;
  }

  /** `<root>/<key parts>/<partition>`: always key.length + 1 segments below the root, each encoded. */
  dirOf(key: AssetKey, partitionKey: string | undefined): string {
    return this.backend.location(this.partitionRel(key, partitionKey));
  }

  locationOf(key: AssetKey, partitionKey: string | undefined, file: string): string {
    return this.backend.location(`${this.partitionRel(key, partitionKey)}/${file}`);
  }

  private partitionRel(key: AssetKey, partitionKey: string | undefined): string {
    return `${this.assetRel(key)}/${partitionKey === undefined ? UNPARTITIONED : encodeSegment(nonEmpty(partitionKey, "partition key", key))}`;
  }

  private assetRel(key: AssetKey): string {
    if (key.length === 0) throw new BatonError("INVALID_KEY", "an asset key needs at least one part", { hint: 'use a key such as "sales/orders"' });
    return key.map((part) => encodeSegment(nonEmpty(part, "asset key part", key))).join("/");
  }

  /**
   * Make the output folder writable now, so a store that cannot be written fails before the
   * compute runs (and with the real reason: a read-only parent, not a misleading ENOENT).
   */
  async prepare(key: AssetKey, partitionKey: string | undefined): Promise<string> {
    await this.backend.prepare(this.partitionRel(key, partitionKey), key.join("/"));
    return this.dirOf(key, partitionKey);
  }

  async write(args: WriteArgs): Promise<WriteResult> {
    const id = args.key.join("/");
    const rel = this.partitionRel(args.key, args.partitionKey);
    await this.prepare(args.key, args.partitionKey);
    const frame = args.frame;
    const hash = frame ? contentHash(frame) : null;
    let file: string | null = null;
    let table: RecordTable | undefined;
    if (args.format === "iceberg") {
      table = await this.writeTable(args, frame);
    } else if (frame && hash) {
      file = this.backend.dataName(hash.slice(0, 16), args.format === "parquet" ? "parquet" : "ipc");
      // Written by polars to a file path, never to a JS Buffer: the file is never a second copy in
      // memory (and nodejs-polars 0.25.2 never frees what it writes to JS, see contentHash).
      const fill = args.format === "parquet" ? (path: string) => frame.writeParquet(path, { compression: "zstd" }) : (path: string) => inChunksOf(frame, IPC_BATCH_ROWS).writeIPC(path);
      await this.backend.putData(`${rel}/${file}`, fill, id);
    }
    const record: OutputRecord = {
      assetKey: id,
      partitionKey: args.partitionKey ?? null,
      format: frame ? args.format : "none",
      file,
      rowCount: frame ? frame.height : null,
      schema: frame ? schemaOf(frame) : [],
      contentHash: hash,
      producedAs: args.producedAs,
      codeVersion: args.codeVersion ?? null,
      runId: args.runId,
      ...(table ? { table } : {}),
    };
    args.beforeCommit?.();
    // The commit point: the data is complete before the record that names it replaces the old one.
    const { conflict } = await this.backend.commitRecord(`${rel}/record.json`, Buffer.from(JSON.stringify(record, null, 2) + "\n"), id, args.runId);
    await this.backend.removeStale(rel, file);
    return conflict ? { ...record, conflict } : record;
  }

  /**
   * The table commit of a table output, between two deadline checks: an attempt past its deadline commits
   * nothing, and one that passes it during the commit writes no record (the snapshot stays unnamed, the retry
   * replaces the partition again). The record (Baton's commit) follows in `write`.
   */
  private async writeTable(args: WriteArgs, frame: pl.DataFrame | undefined): Promise<RecordTable> {
    const id = args.key.join("/");
    const t = args.table;
    if (!t || !frame) {
      throw new BatonError("CONFIG", `an "iceberg" write of "${id}" needs ${t ? "a frame" : "the catalog's table target"}`, { asset: id, hint: "write table outputs through the step runtime (runStep), which resolves the catalog resource" });
    }
    args.beforeCommit?.();
    const commit = await t.sink.writeAssetTable({ asset: id, table: t.name, frame, mode: t.mode, partitionColumn: t.partitionColumn, partitionValue: args.partitionKey });
    if (typeof commit?.snapshotId !== "string" || !/^-?[0-9]+$/.test(commit.snapshotId)) {
      throw new BatonError("CONFIG", `catalog "${t.catalog}" committed table ${t.name} but returned snapshot id ${JSON.stringify(commit?.snapshotId) ?? "undefined"}, not a decimal string`, {
        asset: id,
        hint: "the catalog resource's writeAssetTable must return { snapshotId: \"<decimal>\", location }",
      });
    }
    args.beforeCommit?.();
    return { format: "iceberg", catalog: t.catalog, name: t.name, snapshotId: commit.snapshotId, partitionColumn: t.partitionColumn ?? null, location: commit.location ?? null };
  }

  /** The rows of a table output: the snapshot its record pins, through the catalog resource. */
  private async readTable(key: AssetKey, record: OutputRecord, partitionKey: string | undefined, reader: Reader | undefined): Promise<pl.DataFrame> {
    const id = key.join("/");
    const t = record.table;
    const shown = `"${id}"${partitionKey !== undefined ? ` partition "${partitionKey}"` : ""}`;
    const neededBy = readerAsset(reader);
    if (!t || typeof t.catalog !== "string" || typeof t.name !== "string" || typeof t.snapshotId !== "string") {
      throw new BatonError("MANIFEST", `the output record of ${shown} has format "iceberg" but names no table snapshot`, {
        asset: id,
        file: this.locationOf(key, partitionKey, "record.json"),
        hint: `re-materialize it: ${materializeCommand(id, partitionKey)}`,
      });
    }
    if (!this.tables) {
      throw new BatonError("CONFIG", `the output of ${shown} is Iceberg table ${t.name} snapshot ${t.snapshotId}: read it through its catalog resource "${t.catalog}"`, {
        ...(neededBy !== undefined ? { asset: neededBy } : {}),
        hint: `read it in a step (an input of an asset) or with pyiceberg: load_catalog("rest", uri=…, warehouse=…).load_table("${t.name}").scan(snapshot_id=${t.snapshotId}).to_polars()`,
      });
    }
    const sink = this.tables(t.catalog, id);
    const frame = await sink.readAssetTable({
      asset: neededBy ?? id,
      table: t.name,
      snapshotId: t.snapshotId,
      partitionColumn: t.partitionColumn ?? undefined,
      partitionValue: partitionKey,
    });
    if (record.rowCount !== null && frame.height !== record.rowCount) {
      throw new BatonError("MANIFEST", `table ${t.name} snapshot ${t.snapshotId} has ${frame.height} rows for ${shown}, its record ${record.rowCount}`, {
        asset: neededBy ?? id,
        hint: `the snapshot's rows changed or the record was edited: re-materialize it: ${materializeCommand(id, partitionKey)}`,
      });
    }
    return frame;
  }

  /**
   * The record of one output, or undefined when there is none. A record that names another asset
   * or partition than the one asked for is an error, never read as this output: it means two keys
   * share a folder (an old store written before keys were encoded, keys differing only in case on
   * a case-insensitive filesystem, or files copied by hand).
   */
  async readRecord(key: AssetKey, partitionKey: string | undefined): Promise<OutputRecord | undefined> {
    const id = key.join("/");
    const shown = `"${id}"${partitionKey !== undefined ? ` partition ${JSON.stringify(partitionKey)}` : ""}`;
    const rel = `${this.partitionRel(key, partitionKey)}/record.json`;
    const path = this.backend.location(rel);
    let record: OutputRecord;
    try {
      const bytes = await this.backend.get(rel, id);
      if (bytes === undefined) return undefined;
      record = JSON.parse(bytes.toString("utf8")) as OutputRecord;
    } catch (e) {
      if (e instanceof BatonStorageError) throw e;
      throw new BatonError("MANIFEST", `cannot read the output record of ${shown}: ${(e as Error).message}`, {
        asset: id,
        file: path,
        hint: "re-materialize the asset to rewrite its output",
      });
    }
    if (typeof record !== "object" || record === null || record.assetKey !== id || (record.partitionKey ?? null) !== (partitionKey ?? null)) {
      const owner = typeof record === "object" && record !== null ? `"${String(record.assetKey)}"${record.partitionKey != null ? ` partition ${JSON.stringify(record.partitionKey)}` : " (unpartitioned)"}` : JSON.stringify(record);
      throw new BatonError("MANIFEST", `the output record found for ${shown} belongs to ${owner}: refusing to read another asset's data`, {
        asset: id,
        file: path,
        hint: `two keys share this folder (a store written by an older Baton, keys differing only in case on a case-insensitive filesystem, or files copied by hand): delete ${this.dirOf(key, partitionKey)} and re-materialize both`,
      });
    }
    return record;
  }

  /** Read one output; a missing one is an error that says what to materialize. */
  async read(key: AssetKey, partitionKey: string | undefined, reader?: Reader): Promise<{ frame: pl.DataFrame; record: OutputRecord }> {
    const id = key.join("/");
    const neededBy = readerAsset(reader);
    let previous: string | null | undefined;
    for (;;) {
      const record = await this.readRecord(key, partitionKey);
      if (record?.format === "iceberg") return { frame: await this.readTable(key, record, partitionKey, reader), record };
      if (!record || !record.file) {
        throw new BatonError("MISSING_OUTPUT", `input "${id}"${partitionKey !== undefined ? ` partition "${partitionKey}"` : ""} has not been materialized (looked in ${this.dirOf(key, partitionKey)})`, {
          ...(neededBy !== undefined ? { asset: neededBy } : {}),
          hint: missingInputHint(id, partitionKey, reader),
        });
      }
      const rel = `${this.partitionRel(key, partitionKey)}/${record.file}`;
      const path = this.backend.location(rel);
      let frame: pl.DataFrame | undefined;
      let failure: unknown;
      try {
        // From a path, not a buffer: the file's bytes are never a second copy beside the frame.
        frame = await this.backend.readData(rel, (file) => (record.format === "parquet" ? pl.readParquet(file) : pl.readIPC(file)), neededBy);
      } catch (e) {
        if (e instanceof BatonStorageError) throw e;
        failure = e;
      }
      if (frame === undefined) {
        // A writer committed a newer record and removed this data file after we read the old
        // record: read the new one. The same record pointing at a missing file is real damage.
        if (failure === undefined && record.file !== previous) {
          previous = record.file;
          continue;
        }
        const reason = failure === undefined ? `${path} does not exist` : (failure as Error).message;
        throw new BatonError("MISSING_OUTPUT", `the data file of "${id}"${partitionKey !== undefined ? ` partition "${partitionKey}"` : ""} cannot be read: ${reason}`, {
          ...(neededBy !== undefined ? { asset: neededBy } : {}),
          file: path,
          hint: `re-materialize it: ${materializeCommand(id, partitionKey)}`,
        });
      }
      return { frame, record };
    }
  }

  /** An unpartitioned view of several partitions: their frames concatenated in key order. */
  async readMany(key: AssetKey, partitionKeys: readonly string[], reader?: Reader): Promise<{ frame: pl.DataFrame; records: OutputRecord[] }> {
    const parts = await Promise.all(partitionKeys.map((k) => this.read(key, k, reader)));
    if (parts.length === 0) {
      const neededBy = readerAsset(reader);
      throw new BatonError("MISSING_OUTPUT", `input "${key.join("/")}" has no partitions to read`, {
        ...(neededBy !== undefined ? { asset: neededBy } : {}),
        hint: `materialize at least one partition of it first: baton materialize --select ${shellWord(key.join("/"))} --partition KEY (or --partition-range FIRST...LAST)`,
      });
    }
    const frame = parts.length === 1 ? parts[0]!.frame : pl.concat(parts.map((p) => p.frame), { how: "vertical" });
    return { frame, records: parts.map((p) => p.record) };
  }

  /** Partition keys that have a stored output, for listings and "all partitions" reads. */
  async storedPartitions(key: AssetKey): Promise<string[]> {
    // A folder here may also be the prefix of a longer asset key ("a/b" below "a"): only folders
    // with a record are partitions.
    const names = await this.backend.childrenWithRecord(this.assetRel(key));
    return names
      .filter((name) => name !== UNPARTITIONED)
      .map((name) => {
        const k = decodeSegment(name);
        return k === undefined || k === "" || encodeSegment(k) !== name ? undefined : k;
      })
      .filter((k): k is string => k !== undefined)
      .sort();
  }

  listFiles(): Promise<string[]> {
    return this.backend.listFiles();
  }

  async localFile(key: AssetKey, partitionKey: string | undefined, file: string, tempDir: string): Promise<string> {
    const rel = `${this.partitionRel(key, partitionKey)}/${file}`;
    const location = this.backend.location(rel);
    if (isAbsolute(location)) return location;
    const bytes = await this.backend.get(rel, key.join("/"));
    if (bytes === undefined) {
      throw new BatonError("MISSING_OUTPUT", `${location} does not exist although the record names it`, { asset: key.join("/"), hint: "re-materialize the asset to rewrite its output" });
    }
    const copy = join(tempDir, `${encodeSegment(key.join("/"))}-${file}`);
    await writeFile(copy, bytes);
    return copy;
  }

  async readText(relative: string): Promise<string> {
    const bytes = await this.backend.get(relative.split("/").filter(Boolean).join("/"), undefined);
    if (bytes === undefined) throw new Error(`${this.backend.location(relative)} does not exist`);
    return bytes.toString("utf8");
  }
}

/** Outputs in a local folder; the rename of `record.json` is the commit, last writer wins. */
export class LocalIOStore extends BackendIOStore {
  readonly root: string;
  constructor(root: string = defaultStorageRoot()) {
    super(new LocalBackend(resolve(root)));
    this.root = this.url;
  }
}

function nonEmpty(value: string, what: string, key: AssetKey): string {
  if (typeof value !== "string" || value === "") {
    throw new BatonError("INVALID_KEY", `${what} ${JSON.stringify(value)} of "${key.join("/")}" cannot name a storage folder`, { hint: "use a non-empty key" });
  }
  return value;
}

/** Who reads an input: its asset id, and its own partition key when it is partitioned. */
export type Reader = string | { readonly asset: string; readonly partitionKey?: string | undefined };

function readerAsset(reader: Reader | undefined): string | undefined {
  return typeof reader === "string" ? reader : reader?.asset;
}

/** The command that materializes one output (with its partition), quoted for a shell. */
export function materializeCommand(id: string, partitionKey: string | undefined): string {
  return `baton materialize --select ${shellWord(id)}${partitionKey !== undefined ? ` --partition ${shellWord(partitionKey)}` : ""}`;
}

function shellWord(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

/**
 * Commands that materialize a missing input: the input alone, and, given the reader and its own
 * partition key, the reader with its upstream for that key (the planner maps the key through the
 * partition mappings: `--select +sessions --partition 2024-03-10` runs the day's hours first).
 */
export function missingInputHint(id: string, partitionKey: string | undefined, reader: Reader | undefined): string {
  const only = materializeCommand(id, partitionKey);
  if (reader === undefined) return `materialize it first: ${only}`;
  if (typeof reader === "string") {
    // The reader's own partition is unknown: "+reader" needs its key when it is partitioned.
    return partitionKey === undefined ? `materialize it first: ${only}, or with everything upstream of "${reader}": baton materialize --select ${shellWord(`+${reader}`)}` : `materialize it first: ${only}`;
  }
  const key = reader.partitionKey !== undefined ? ` --partition ${shellWord(reader.partitionKey)}` : "";
  return `materialize it with everything upstream of "${reader.asset}": baton materialize --select ${shellWord(`+${reader.asset}`)}${key}, or only this input: ${only}`;
}
