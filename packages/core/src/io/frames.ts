import pl from "nodejs-polars";
import { Table, tableFromIPC, tableToIPC } from "apache-arrow";
import { createHash } from "node:crypto";
import type { FrameKind } from "../asset.js";

export function isPolarsFrame(x: unknown): x is pl.DataFrame {
  return (
    typeof x === "object" &&
    x !== null &&
    typeof (x as pl.DataFrame).writeIPCStream === "function" &&
    typeof (x as pl.DataFrame).height === "number"
  );
}

export function isArrowTable(x: unknown): x is Table {
  return x instanceof Table || (typeof x === "object" && x !== null && (x as { constructor?: { name?: string } }).constructor?.name === "Table" && "schema" in x && "numRows" in x);
}

/** Both kinds become a polars frame for storage; Arrow → polars goes through one IPC buffer. */
export function toPolars(x: pl.DataFrame | Table): pl.DataFrame {
  return isPolarsFrame(x) ? x : pl.readIPCStream(Buffer.from(tableToIPC(x, "stream")));
}

export function toKind(df: pl.DataFrame, kind: FrameKind): pl.DataFrame | Table {
  return kind === "polars" ? df : tableFromIPC(df.writeIPCStream());
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
 * Content hash of the data, independent of the storage format: sha256 over the Arrow IPC stream of
 * the frame in one chunk, so the same rows and schema give the same hash on every runtime.
 */
export function contentHash(df: pl.DataFrame): string {
  return createHash("sha256").update(df.rechunk().writeIPCStream()).digest("hex");
}
