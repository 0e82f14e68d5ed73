import pl from "nodejs-polars";
import type { Table } from "apache-arrow";
import { createHash } from "node:crypto";
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

/** Both kinds become a polars frame for storage; Arrow → polars goes through one IPC buffer. */
export async function toPolars(x: pl.DataFrame | Table): Promise<pl.DataFrame> {
  if (isPolarsFrame(x)) return x;
  const { tableToIPC } = await arrow();
  return pl.readIPCStream(Buffer.from(tableToIPC(x, "stream")));
}

export async function toKind(df: pl.DataFrame, kind: FrameKind): Promise<pl.DataFrame | Table> {
  if (kind === "polars") return df;
  const { tableFromIPC } = await arrow();
  return tableFromIPC(df.writeIPCStream());
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
