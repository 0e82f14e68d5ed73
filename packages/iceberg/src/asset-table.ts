import pl from "nodejs-polars";
import { IcebergError } from "./errors.js";
import { ident, literal } from "./sql.js";

/** Helpers of the asset output format (core's TableSink): partition checks as text, the table's location. */

/** `column = value` compared as text, as the contract compares a partition key with the column (a date, an integer, a string). */
export function textEquals(column: string, value: string): string {
  return `CAST(${ident(column)} AS VARCHAR) = ${literal(value)}`;
}

/**
 * Refuses an output that is not all of the partition being written: the column must exist and every row's value,
 * as text, must be the partition key. Runs before anything is created or staged.
 */
export function checkPartitionRows(asset: string, table: string, frame: pl.DataFrame, column: string, value: string | undefined): void {
  if (!frame.columns.includes(column)) {
    throw new IcebergError("SCHEMA_MISMATCH", `the output has no partition column "${column}" (columns: ${frame.columns.join(", ")})`, {
      table,
      asset,
      hint: `add a "${column}" column to the output, or name one of its columns as io.partitionColumn`,
    });
  }
  if (value === undefined || frame.height === 0) return;
  const wrong = frame.select(pl.col(column).cast(pl.Utf8).alias("value")).filter(pl.col("value").isNull().or(pl.col("value").neq(pl.lit(value))));
  if (wrong.height === 0) return;
  const first = wrong.getColumn("value").get(0) as string | null;
  throw new IcebergError(
    "SCHEMA_MISMATCH",
    `every output row of partition ${value} must have ${column} = "${value}", but ${wrong.height} of ${frame.height} do not (the first: ${first === null ? "null" : JSON.stringify(first)}); nothing was committed`,
    { table, asset, hint: `set ${column} from ctx.partitionKey, or filter the other partitions' rows out of the output` },
  );
}

/**
 * The table's location (s3://…) from the REST catalog's loadTable response, or null when the catalog does not
 * say (the commit stands either way). The config call gives the catalog's path prefix, if any. Each call has a
 * deadline: it runs after the commit, so a catalog that stops answering must not hold a committed step.
 */
const LOCATION_TIMEOUT_MS = 30_000;

export async function tableLocation(uri: string, warehouse: string, table: string): Promise<string | null> {
  const [namespace, name] = table.split(".") as [string, string];
  try {
    const base = uri.replace(/\/+$/, "");
    const bounded = { signal: AbortSignal.timeout(LOCATION_TIMEOUT_MS) };
    const config = (await (await fetch(`${base}/v1/config?warehouse=${encodeURIComponent(warehouse)}`, bounded)).json()) as { overrides?: { prefix?: string } };
    const prefix = config.overrides?.prefix ? `${encodeURIComponent(config.overrides.prefix)}/` : "";
    const response = await fetch(`${base}/v1/${prefix}namespaces/${encodeURIComponent(namespace)}/tables/${encodeURIComponent(name)}`, bounded);
    if (!response.ok) return null;
    const location = ((await response.json()) as { metadata?: { location?: unknown } }).metadata?.location;
    return typeof location === "string" ? location : null;
  } catch {
    return null;
  }
}

/** Runs one TableSink operation so that whatever it throws is an IcebergError naming the asset and the table. */
export async function namingAsset<T>(asset: string, table: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof IcebergError) throw e.forAsset(asset, table);
    throw new IcebergError("ENGINE", e instanceof Error ? e.message : String(e), { table, asset, hint: "see the message above", cause: e });
  }
}
