import pl from "nodejs-polars";
import type { Table } from "apache-arrow";
import { createHash, randomUUID } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FrameKind } from "../asset.js";
import { withoutSourceMaps } from "../source.js";

export function isPolarsFrame(x: unknown): x is pl.DataFrame {
  return (
    typeof x === "object" &&
    x !== null &&
    typeof (x as pl.DataFrame).writeIPCStream === "function" &&
    typeof (x as pl.DataFrame).height === "number"
  );
}

/**
 * Duck-typed so that core need not load apache-arrow (~90 ms) in a step whose assets never touch
 * it, and so that a table from another copy of the library is still recognised.
 */
export function isArrowTable(x: unknown): x is Table {
  if (typeof x !== "object" || x === null) return false;
  const t = x as { constructor?: { name?: string }; schema?: unknown; numRows?: unknown; batches?: unknown };
  return t.constructor?.name === "Table" && typeof t.numRows === "number" && Array.isArray(t.batches) && typeof t.schema === "object";
}

let arrowModule: Promise<typeof import("apache-arrow")> | undefined;
// Loaded with source maps off: the user's code needs them, apache-arrow's 470 map files do not.
const arrow = () => (arrowModule ??= withoutSourceMaps(() => import("apache-arrow")));

/**
 * Both kinds become a polars frame for storage. Arrow → polars goes through IPC one record batch at
 * a time, so the conversion holds one batch's IPC bytes beside the table, not a copy of all of it
 * (a table with dictionary columns goes as one stream: each batch would bring its own dictionary).
 */
export async function toPolars(x: pl.DataFrame | Table): Promise<pl.DataFrame> {
  if (isPolarsFrame(x)) return x;
  const { tableToIPC } = await arrow();
  const fromIPC = (t: Table) => pl.readIPCStream(asBuffer(tableToIPC(t, "stream")));
  const dictionaries = x.schema.fields.some((f) => f.type.typeId === DICTIONARY_TYPE_ID);
  if (x.batches.length <= 1 || dictionaries) return fromIPC(x);
  const parts: pl.DataFrame[] = [];
  let start = 0;
  for (const batch of x.batches) {
    if (batch.numRows === 0) continue;
    parts.push(fromIPC(x.slice(start, start + batch.numRows)));
    start += batch.numRows;
  }
  return parts.length === 0 ? fromIPC(x) : parts.length === 1 ? parts[0]! : pl.concat(parts, { how: "vertical", rechunk: false });
}

/** apache-arrow's Type.Dictionary, without loading the module for the constant. */
const DICTIONARY_TYPE_ID = -1;

/** A Buffer over the same memory (Buffer.from(uint8Array) would copy it). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export async function toKind(df: pl.DataFrame, kind: FrameKind): Promise<pl.DataFrame | Table> {
  return kind === "polars" ? df : toArrow(df);
}

/** A polars frame as an Arrow table; a large one through a spool file, never a JS Buffer nodejs-polars would not free. */
export async function toArrow(df: pl.DataFrame): Promise<Table> {
  const { tableFromIPC } = await arrow();
  if (df.height <= HASH_SLICE_ROWS) return tableFromIPC(df.writeIPCStream());
  // Through a spool file: what nodejs-polars writes into a JS Buffer is never freed (see contentHash).
  return withSpool(
    "arrows",
    (spool) => {
      df.writeIPCStream(spool);
      return tableFromIPC(readFileSync(spool));
    },
    () => tableFromIPC(df.writeIPCStream()),
  );
}

/**
 * Run `use` with a fresh file path in the OS temp folder, removed afterwards; `inMemory` when no
 * file can be created there (a read-only or missing TMPDIR costs memory, never the step).
 */
function withSpool<T>(ext: string, use: (path: string) => T, inMemory: () => T): T {
  const spool = join(tmpdir(), `baton-${randomUUID()}.${ext}`);
  try {
    writeFileSync(spool, "", { flag: "wx" });
  } catch {
    return inMemory();
  }
  try {
    return use(spool);
  } finally {
    rmSync(spool, { force: true });
  }
}

export interface ColumnSchema {
  readonly name: string;
  readonly type: string;
}

export function schemaOf(df: pl.DataFrame): ColumnSchema[] {
  return df.columns.map((name, i) => ({ name, type: dtypeName(df.dtypes[i]) }));
}

function dtypeName(d: unknown): string {
  const s = String(d);
  const m = /^DataType\((.*)\)$/.exec(s);
  return m ? m[1]! : s;
}

/**
 * Rows per slice of the content hash. Part of the hash's definition: changing it changes every
 * stored hash (and so every golden hash and data version), so it is a constant, not a knob.
 */
export const HASH_SLICE_ROWS = 65_536;

/**
 * Content hash of the data, independent of the storage format and of how the frame happens to be
 * chunked: sha256 over the Arrow IPC streams of consecutive slices of HASH_SLICE_ROWS rows (the
 * last one shorter), each slice its own stream (schema message, one record batch, end marker). An
 * empty frame hashes the stream of its schema alone, so column names and types still count. A
 * frame of at most one slice hashes as it always did (sha256 of the one-chunk frame's stream).
 *
 * Streamed slice by slice, so hashing costs one slice of memory, not a copy of the frame (issue 13).
 * A frame of more than one slice has each slice written by polars to a spool file in the OS temp
 * folder and read back: nodejs-polars 0.25.2 never frees what it writes into a JS Buffer or
 * Writable (measured: the native heap grows by the bytes written, GC or not), which over a large
 * frame would be that copy again, kept for the life of the process.
 */
export function contentHash(df: pl.DataFrame): string {
  const hash = createHash("sha256");
  if (df.height <= HASH_SLICE_ROWS) return hash.update(df.rechunk().writeIPCStream()).digest("hex");
  // One chunk per slice: the stream's batches then depend on the rows only, never on the frame's chunks.
  const slice = (offset: number) => df.slice(offset, HASH_SLICE_ROWS).rechunk();
  const hashSlices = (bytesOf: (offset: number) => Buffer) => {
    for (let offset = 0; offset < df.height; offset += HASH_SLICE_ROWS) hash.update(bytesOf(offset));
    return hash.digest("hex");
  };
  return withSpool(
    "arrows",
    (spool) =>
      hashSlices((offset) => {
        slice(offset).writeIPCStream(spool);
        return readFileSync(spool);
      }),
    () => hashSlices((offset) => slice(offset).writeIPCStream()),
  );
}

/**
 * The same rows as chunks of at most `rows` rows, without copying (slices are views). polars' IPC
 * writer encodes each chunk as one record batch in memory before writing it, so a one-chunk frame
 * would be encoded whole: written from this, the IPC file costs one batch of memory.
 */
export function inChunksOf(df: pl.DataFrame, rows: number): pl.DataFrame {
  if (df.height <= rows) return df;
  const parts: pl.DataFrame[] = [];
  for (let offset = 0; offset < df.height; offset += rows) parts.push(df.slice(offset, rows));
  return pl.concat(parts, { how: "vertical", rechunk: false });
}
