import pl from "nodejs-polars";
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import { BatonError } from "../errors.js";
import type { AssetKey } from "../keys.js";
import type { FrameKind } from "../asset.js";
import { contentHash, schemaOf, type ColumnSchema } from "./frames.js";

/** The record stored beside each output. `file` is the data file it commits to. */
export interface OutputRecord {
  readonly assetKey: string;
  readonly partitionKey: string | null;
  readonly format: "parquet" | "ipc" | "none";
  readonly file: string | null;
  readonly rowCount: number | null;
  readonly schema: readonly ColumnSchema[];
  readonly contentHash: string | null;
  readonly producedAs: FrameKind | "none";
  readonly codeVersion: string | null;
  readonly runId: string;
}

const UNPARTITIONED = "__unpartitioned__";
const STALE_AFTER_MS = 60_000;

export function defaultStorageRoot(environment: Readonly<Record<string, string | undefined>> = process.env): string {
  return resolve(environment.BATON_STORAGE ?? join(process.cwd(), ".baton", "storage"));
}

/**
 * Outputs in a local folder: `<root>/<key parts>/<partition>/`. A write puts the data in a new
 * file named by its hash, then replaces `record.json` by rename — the single commit point — so a
 * reader sees the old output or the new one, never a torn one.
 */
export class LocalIOStore {
  readonly root: string;
  constructor(root: string = defaultStorageRoot()) {
    this.root = resolve(root);
  }

  dirOf(key: AssetKey, partitionKey: string | undefined): string {
    return join(this.root, ...key.map(encodeURIComponent), partitionKey === undefined ? UNPARTITIONED : encodeURIComponent(partitionKey));
  }

  async write(args: {
    key: AssetKey;
    partitionKey: string | undefined;
    frame: pl.DataFrame | undefined;
    producedAs: FrameKind | "none";
    format: "parquet" | "ipc";
    codeVersion: string | undefined;
    runId: string;
  }): Promise<OutputRecord> {
    const dir = this.dirOf(args.key, args.partitionKey);
    await mkdir(dir, { recursive: true });
    const frame = args.frame;
    const hash = frame ? contentHash(frame) : null;
    let file: string | null = null;
    if (frame && hash) {
      file = `data-${hash.slice(0, 16)}.${args.format === "parquet" ? "parquet" : "ipc"}`;
      const bytes = args.format === "parquet" ? frame.writeParquet({ compression: "zstd" }) : frame.writeIPC();
      await atomicWrite(join(dir, file), bytes);
    }
    const record: OutputRecord = {
      assetKey: args.key.join("/"),
      partitionKey: args.partitionKey ?? null,
      format: frame ? args.format : "none",
      file,
      rowCount: frame ? frame.height : null,
      schema: frame ? schemaOf(frame) : [],
      contentHash: hash,
      producedAs: args.producedAs,
      codeVersion: args.codeVersion ?? null,
      runId: args.runId,
    };
    await atomicWrite(join(dir, "record.json"), Buffer.from(JSON.stringify(record, null, 2) + "\n"));
    await removeStale(dir, file);
    return record;
  }

  async readRecord(key: AssetKey, partitionKey: string | undefined): Promise<OutputRecord | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dirOf(key, partitionKey), "record.json"), "utf8")) as OutputRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new BatonError("MANIFEST", `cannot read the output record of "${key.join("/")}"${partitionKey ? ` partition "${partitionKey}"` : ""}: ${(e as Error).message}`, {
        asset: key.join("/"),
        file: join(this.dirOf(key, partitionKey), "record.json"),
        hint: "re-materialize the asset to rewrite its output",
      });
    }
  }

  /** Read one output; a missing one is an error that says what to materialize. */
  async read(key: AssetKey, partitionKey: string | undefined, neededBy?: string): Promise<{ frame: pl.DataFrame; record: OutputRecord }> {
    const id = key.join("/");
    let previous: string | null | undefined;
    for (;;) {
      const record = await this.readRecord(key, partitionKey);
      if (!record || !record.file) {
        throw new BatonError("MISSING_OUTPUT", `input "${id}"${partitionKey !== undefined ? ` partition "${partitionKey}"` : ""} has not been materialized (looked in ${this.dirOf(key, partitionKey)})`, {
          ...(neededBy !== undefined ? { asset: neededBy } : {}),
          hint: `materialize it first, e.g. baton materialize --select ${id}${partitionKey !== undefined ? ` --partition ${partitionKey}` : ""}, or select with upstream: --select +${neededBy ?? id}`,
        });
      }
      const path = join(this.dirOf(key, partitionKey), record.file);
      let bytes: Buffer;
      try {
        bytes = await readFile(path);
      } catch (e) {
        // A writer committed a newer record and removed this data file after we read the old
        // record: read the new one. The same record pointing at a missing file is real damage.
        if ((e as NodeJS.ErrnoException).code === "ENOENT" && record.file !== previous) {
          previous = record.file;
          continue;
        }
        throw new BatonError("MISSING_OUTPUT", `the data file of "${id}"${partitionKey !== undefined ? ` partition "${partitionKey}"` : ""} cannot be read: ${(e as Error).message}`, {
          ...(neededBy !== undefined ? { asset: neededBy } : {}),
          file: path,
          hint: `re-materialize it: baton materialize --select ${id}${partitionKey !== undefined ? ` --partition ${partitionKey}` : ""}`,
        });
      }
      const frame = record.format === "parquet" ? pl.readParquet(bytes) : pl.readIPC(bytes);
      return { frame, record };
    }
  }

  /** An unpartitioned view of several partitions: their frames concatenated in key order. */
  async readMany(key: AssetKey, partitionKeys: readonly string[], neededBy?: string): Promise<{ frame: pl.DataFrame; records: OutputRecord[] }> {
    const parts = await Promise.all(partitionKeys.map((k) => this.read(key, k, neededBy)));
    if (parts.length === 0) {
      throw new BatonError("MISSING_OUTPUT", `input "${key.join("/")}" has no partitions to read`, {
        ...(neededBy !== undefined ? { asset: neededBy } : {}),
        hint: "materialize at least one partition of the upstream asset first",
      });
    }
    const frame = parts.length === 1 ? parts[0]!.frame : pl.concat(parts.map((p) => p.frame), { how: "vertical" });
    return { frame, records: parts.map((p) => p.record) };
  }

  /** Partition keys that have a stored output, for listings and "all partitions" reads. */
  async storedPartitions(key: AssetKey): Promise<string[]> {
    try {
      const entries = await readdir(join(this.root, ...key.map(encodeURIComponent)), { withFileTypes: true });
      return entries.filter((e) => e.isDirectory() && e.name !== UNPARTITIONED).map((e) => decodeURIComponent(e.name)).sort();
    } catch {
      return [];
    }
  }
}

async function atomicWrite(target: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${target}.${randomUUID()}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Data files the record no longer points at. Temp files are left alone: another writer may own one. */
async function removeStale(dir: string, keep: string | null): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(dir)) {
    if (!name.startsWith("data-") || name.endsWith(".tmp") || name === keep) continue;
    // A file this young may belong to a concurrent writer about to commit its record: leave it
    // for the next write to collect rather than break that writer's output.
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (info && now - info.mtimeMs > STALE_AFTER_MS) await rm(join(dir, name), { force: true });
  }
}
