import pl from "nodejs-polars";
import type { AssetDefinition } from "../asset.js";
import { BatonError } from "../errors.js";
import { declaredAt } from "../source.js";
import type { AssetTable } from "./table-sink.js";

/**
 * A table output's `partitionColumn` is a column of the output, and for a partition's write every row holds
 * the partition key there (compared as text, as the replace deletes by it): else WRONG_OUTPUT_TYPE, before
 * anything is committed, so a replace can never delete one partition and append another's rows.
 */
export function checkPartitionColumn(asset: AssetDefinition, table: AssetTable, frame: pl.DataFrame, partitionKey: string | undefined): void {
  const column = table.partitionColumn;
  if (column === undefined) return;
  const at = { asset: asset.id, file: declaredAt(asset) };
  if (!frame.columns.includes(column)) {
    throw new BatonError("WRONG_OUTPUT_TYPE", `the output has no column "${column}", the partition column of table ${table.name} (columns: ${frame.columns.join(", ") || "none"})`, {
      ...at,
      hint: `return a frame with a "${column}" column, or set io.partitionColumn to one of its columns`,
    });
  }
  if (partitionKey === undefined) return;
  const wrong = frame.select(pl.col(column).cast(pl.Utf8)).filter(pl.col(column).isNull().or(pl.col(column).neq(pl.lit(partitionKey))));
  if (wrong.height === 0) return;
  const first = wrong.getColumn(column).get(0) as string | null;
  throw new BatonError("WRONG_OUTPUT_TYPE", `${wrong.height} row${wrong.height > 1 ? "s" : ""} of the output for partition "${partitionKey}" of table ${table.name} ha${wrong.height > 1 ? "ve" : "s"} another value in column "${column}" (the first: ${first === null ? "null" : JSON.stringify(first)}); nothing was committed`, {
    ...at,
    hint: `set "${column}" to the partition key (ctx.partitionKey) in every row: a replace deletes the rows of this partition only`,
  });
}
