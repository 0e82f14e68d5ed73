import pl from "nodejs-polars";
import { mkdir, open, readFile, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
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

/** Why a storage operation failed and what to do, for the errno codes a store meets. */
function storageHint(code: string | undefined, root: string): string {
  switch (code) {
    case "ENOSPC":
    case "EDQUOT":
      return `free space on that filesystem (the previous output, if any, is intact) or set BATON_STORAGE to a folder on a larger disk (now ${root})`;
    case "EROFS":
      return `the filesystem is read-only: set BATON_STORAGE to a writable folder (now ${root})`;
    case "EACCES":
    case "EPERM":
      return `this user cannot write there: fix the folder's permissions or set BATON_STORAGE to a writable folder (now ${root})`;
    case "ENAMETOOLONG":
      return "a key is too long for a file name: use shorter partition keys or asset key parts (each at most 255 bytes once percent-encoded)";
    case "ENOTDIR":
    case "EEXIST":
      return `a file stands where the store needs a folder: remove it, or set BATON_STORAGE to another folder (now ${root})`;
    default:
      return `check that BATON_STORAGE (now ${root}) is a writable local folder`;
  }
}

/**
 * A storage failure (disk full, read-only filesystem, permissions): names the path and the fix. Not
 * a BatonError on purpose: it is not a mistake in the definitions, and a retry may succeed once
 * the disk has room. `code` is the errno code (ENOSPC, EROFS…), `cause` the original error.
 */
export class BatonStorageError extends Error {
  override name = "BatonStorageError";
  readonly code: string | undefined;
  readonly path: string;
  readonly hint: string;
  readonly asset: string | undefined;
  constructor(action: string, path: string, cause: unknown, root: string, asset?: string) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const reason = ((cause as Error | undefined)?.message ?? String(cause)).replace(/^[A-Z]+: /, "").replace(/, \w+(?: '[^']*'(?: -> '[^']*')?)?$/, "");
    const hint = storageHint(code, root);
    super(`${asset !== undefined ? `asset "${asset}": ` : ""}cannot ${action} ${path}: ${reason}${code && !reason.includes(code) ? ` (${code})` : ""}\n  fix: ${hint}`, { cause });
    this.code = code;
    this.path = path;
    this.hint = hint;
    this.asset = asset;
  }
}

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

  /** `<root>/<key parts>/<partition>`: always key.length + 1 segments below the root, each encoded. */
  dirOf(key: AssetKey, partitionKey: string | undefined): string {
    return join(this.assetDir(key), partitionKey === undefined ? UNPARTITIONED : encodeSegment(nonEmpty(partitionKey, "partition key", key)));
  }

  private assetDir(key: AssetKey): string {
    if (key.length === 0) throw new BatonError("INVALID_KEY", "an asset key needs at least one part", { hint: 'use a key such as "sales/orders"' });
    return join(this.root, ...key.map((part) => encodeSegment(nonEmpty(part, "asset key part", key))));
  }

  /**
   * Create the output folder now, so a store that cannot be written fails before the compute runs
   * (and with the real reason: a read-only parent, not a misleading ENOENT).
   */
  async prepare(key: AssetKey, partitionKey: string | undefined): Promise<string> {
    const dir = this.dirOf(key, partitionKey);
    await this.makeDir(dir, key.join("/"));
    return dir;
  }

  private async makeDir(dir: string, asset: string): Promise<void> {
    let first: string | undefined;
    try {
      first = await mkdir(dir, { recursive: true });
    } catch (e) {
      throw new BatonStorageError("create the output folder", dir, await realMkdirError(dir, e), this.root, asset);
    }
    // New folders are durable only once their parents' entries are: sync each parent that gained one.
    if (first !== undefined) {
      const top = dirname(first);
      for (let d = dirname(dir); ; d = dirname(d)) {
        await syncDir(d);
        if (d === top || d === dirname(d)) break;
      }
    }
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
    const id = args.key.join("/");
    const dir = await this.prepare(args.key, args.partitionKey);
    const frame = args.frame;
    const hash = frame ? contentHash(frame) : null;
    let file: string | null = null;
    if (frame && hash) {
      file = `data-${hash.slice(0, 16)}.${args.format === "parquet" ? "parquet" : "ipc"}`;
      const bytes = args.format === "parquet" ? frame.writeParquet({ compression: "zstd" }) : frame.writeIPC();
      await this.commitFile(join(dir, file), bytes, id);
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
    };
    // The commit point. The data file is on disk (fsync) and named in its folder (folder fsync)
    // before the record that points at it is renamed into place, so a host crash cannot leave a
    // committed record naming a partial or missing file.
    await this.commitFile(join(dir, "record.json"), Buffer.from(JSON.stringify(record, null, 2) + "\n"), id);
    await removeStale(dir, file);
    return record;
  }

  private async commitFile(target: string, bytes: Uint8Array, asset: string): Promise<void> {
    try {
      await atomicWrite(target, bytes);
    } catch (e) {
      throw new BatonStorageError("write", target, e, this.root, asset);
    }
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
    const path = join(this.dirOf(key, partitionKey), "record.json");
    let record: OutputRecord;
    try {
      record = JSON.parse(await readFile(path, "utf8")) as OutputRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
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
        hint: `two keys share this folder (a store written by an older Baton, keys differing only in case on a case-insensitive filesystem, or files copied by hand): delete ${dirname(path)} and re-materialize both`,
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
      if (!record || !record.file) {
        throw new BatonError("MISSING_OUTPUT", `input "${id}"${partitionKey !== undefined ? ` partition "${partitionKey}"` : ""} has not been materialized (looked in ${this.dirOf(key, partitionKey)})`, {
          ...(neededBy !== undefined ? { asset: neededBy } : {}),
          hint: missingInputHint(id, partitionKey, reader),
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
    try {
      const base = this.assetDir(key);
      const entries = await readdir(base, { withFileTypes: true });
      // A folder here may also be the prefix of a longer asset key ("a/b" below "a"): only folders
      // with a record are partitions.
      const found = await Promise.all(
        entries
          .filter((e) => e.isDirectory() && e.name !== UNPARTITIONED)
          .map(async (e) => {
            const k = decodeSegment(e.name);
            if (k === undefined || k === "" || encodeSegment(k) !== e.name) return undefined;
            const hasRecord = await stat(join(base, e.name, "record.json")).then((s) => s.isFile(), () => false);
            return hasRecord ? k : undefined;
          }),
      );
      return found.filter((k): k is string => k !== undefined).sort();
    } catch {
      return [];
    }
  }
}

function nonEmpty(value: string, what: string, key: AssetKey): string {
  if (typeof value !== "string" || value === "") {
    throw new BatonError("INVALID_KEY", `${what} ${JSON.stringify(value)} of "${key.join("/")}" cannot name a storage folder`, { hint: "use a non-empty key" });
  }
  return value;
}

/** mkdir -p reports ENOENT when a parent cannot be created (e.g. a read-only filesystem): find the real error. */
async function realMkdirError(dir: string, error: unknown): Promise<unknown> {
  if ((error as NodeJS.ErrnoException).code !== "ENOENT") return error;
  let d = dir;
  while (dirname(d) !== d && !(await stat(dirname(d)).then(() => true, () => false))) d = dirname(d);
  try {
    await mkdir(d);
    return error;
  } catch (e) {
    return e;
  }
}

/**
 * Write `target` by rename from a temp file: the bytes are flushed to disk (fsync) before the
 * rename, and the folder after it, so the name never points at a partial file, even after a
 * host crash.
 */
async function atomicWrite(target: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${target}.${randomUUID()}.tmp`;
  try {
    const handle = await open(tmp, "wx");
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dirname(target));
}

/** fsync a folder so the names in it are durable; a no-op where folders cannot be synced (Windows). */
async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, "r");
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch (e) {
    if (!["EINVAL", "ENOTSUP", "EISDIR", "EPERM", "EBADF"].includes((e as NodeJS.ErrnoException).code ?? "")) throw e;
  } finally {
    await handle.close();
  }
}

/** Our own temp files: `<data file or record.json>.<uuid>.tmp`. */
const TEMP_FILE = /^(?:data-.*|record\.json)\.[0-9a-f-]{36}\.tmp$/;

/**
 * Data files the record no longer points at, and temp files left by killed writers. Only files
 * older than the stale window go: a younger one may belong to a concurrent writer about to commit
 * (its data file) or still writing (its temp file, whose mtime moves while it writes).
 */
async function removeStale(dir: string, keep: string | null): Promise<void> {
  const now = Date.now();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const name = entry.name;
    // Folders here belong to longer asset keys; only files are ours.
    if (!entry.isFile() || name === keep) continue;
    if (!(TEMP_FILE.test(name) || (name.startsWith("data-") && !name.endsWith(".tmp")))) continue;
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (info && now - info.mtimeMs > STALE_AFTER_MS) await rm(join(dir, name), { force: true });
  }
}

/** Who reads an input: its asset id, and its own partition key when it is partitioned. */
export type Reader = string | { readonly asset: string; readonly partitionKey?: string | undefined };

function readerAsset(reader: Reader | undefined): string | undefined {
  return typeof reader === "string" ? reader : reader?.asset;
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
  const only = `baton materialize --select ${shellWord(id)}${partitionKey !== undefined ? ` --partition ${shellWord(partitionKey)}` : ""}`;
  if (reader === undefined) return `materialize it first: ${only}`;
  if (typeof reader === "string") {
    // The reader's own partition is unknown: "+reader" needs its key when it is partitioned.
    return partitionKey === undefined ? `materialize it first: ${only}, or with everything upstream of "${reader}": baton materialize --select ${shellWord(`+${reader}`)}` : `materialize it first: ${only}`;
  }
  const key = reader.partitionKey !== undefined ? ` --partition ${shellWord(reader.partitionKey)}` : "";
  return `materialize it with everything upstream of "${reader.asset}": baton materialize --select ${shellWord(`+${reader.asset}`)}${key}, or only this input: ${only}`;
}
