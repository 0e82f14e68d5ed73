import { TABLE_NAME, type AssetTable } from "./table-sink.js";

/** What makes a table io invalid, with its fix; undefined when it is valid. */
export interface TableIoProblem {
  readonly problem: string;
  readonly hint: string;
}

/**
 * The checks of TABLE-OUTPUT-CONTRACT.md §1 that one asset allows (`asset()` throws the first,
 * `definitions()` re-checks definitions written by hand). The io is `{ format: "iceberg", … }`.
 */
export function tableIoProblem(
  io: Readonly<Record<string, unknown>>,
  owner: { readonly resources: readonly string[]; readonly partitioned: boolean; readonly output: string },
): TableIoProblem | undefined {
  const { catalog, table, partitionColumn, mode } = io;
  const example = `io: { format: "iceberg", catalog: "lake", table: "analytics.events"${owner.partitioned ? ', partitionColumn: "day"' : ""} }`;
  if (owner.output === "none") {
    return { problem: 'a side-effect asset (output: "none") cannot store its output in a table', hint: 'remove io, or remove output: "none" and return the frame to store' };
  }
  if (typeof catalog !== "string" || catalog === "") {
    return { problem: `io.catalog is ${JSON.stringify(catalog) ?? String(catalog)}, not a resource name`, hint: `name the catalog resource the asset declares: resources: { lake: icebergCatalog }, ${example}` };
  }
  if (!owner.resources.includes(catalog)) {
    const declared = owner.resources.length ? ` (it declares: ${owner.resources.join(", ")})` : " (it declares none)";
    return { problem: `io.catalog "${catalog}" is not a resource the asset declares${declared}`, hint: `add it: resources: { ${catalog}: icebergCatalog } (from @baton/iceberg)` };
  }
  if (typeof table !== "string" || !TABLE_NAME.test(table)) {
    return { problem: `io.table ${JSON.stringify(table) ?? String(table)} is not a table name`, hint: 'use "namespace.table" (one namespace level; letters, digits and "_", not starting with a digit), e.g. "analytics.daily_events"' };
  }
  if (partitionColumn !== undefined && (typeof partitionColumn !== "string" || partitionColumn === "")) {
    return { problem: `io.partitionColumn ${JSON.stringify(partitionColumn) ?? String(partitionColumn)} is not a column name`, hint: 'name a column of the output, e.g. partitionColumn: "day"' };
  }
  if (owner.partitioned && partitionColumn === undefined) {
    return { problem: `a partitioned asset stored in table ${table} needs io.partitionColumn`, hint: 'name the output column that holds the partition key, e.g. partitionColumn: "day": a replace deletes the rows of that partition only' };
  }
  if (mode !== undefined && mode !== "replace" && mode !== "append") {
    return { problem: `unknown io.mode ${JSON.stringify(mode) ?? String(mode)}`, hint: 'use "replace" (the default: idempotent) or "append"' };
  }
  return undefined;
}

/** The resolved table of a valid table io. */
export function assetTableOf(io: Readonly<Record<string, unknown>>): AssetTable {
  return {
    format: "iceberg",
    catalog: io.catalog as string,
    name: io.table as string,
    partitionColumn: io.partitionColumn as string | undefined,
    mode: (io.mode as AssetTable["mode"] | undefined) ?? "replace",
  };
}
