/**
 * Pipes metadata: typed constructors for every metadata type the orchestrator accepts, automatic
 * inference for plain values, and the normalisation applied to the `metadata` param of reports.
 *
 * Wire form of one entry: `{"type": <PipesMetadataType>, "raw_value": <JSON>}`. The raw value
 * shapes are those read by dagster's `metadata_value_from_external` (dagster 1.13.28).
 */
import { toAssetKeyPath, type PipesAssetKeyLike } from "./asset-keys.js";
import { DagsterPipesError } from "./errors.js";
import {
  PIPES_METADATA_TYPE_INFER,
  PIPES_METADATA_TYPES,
  type PipesMetadataType,
} from "./protocol.js";
import { PipesFloat, serializeJson } from "./serialize.js";

/** One metadata entry as sent on the wire. */
export interface PipesMetadataValue<T extends PipesMetadataType = PipesMetadataType> {
  type: T;
  raw_value: unknown;
}

/** Metadata param of the report methods: raw values (inferred) or typed entries. */
export type PipesMetadataInput = Record<string, unknown>;

export type PipesTableScalar = string | number | boolean | null;
export type PipesTableRecord = Record<string, PipesTableScalar>;

export interface PipesTableColumnConstraints {
  nullable?: boolean;
  unique?: boolean;
  other?: string[];
}

export interface PipesTableColumn {
  name: string;
  /** Column type as free text; Dagster's default is `"string"`. */
  type?: string;
  description?: string | null;
  tags?: Record<string, string> | null;
  constraints?: PipesTableColumnConstraints | null;
}

export interface PipesTableColumnDep {
  /** Upstream asset; a string is read as an escaped asset key (`"a/b"` = `["a", "b"]`). */
  assetKey: PipesAssetKeyLike;
  columnName: string;
}

const METADATA_TYPE_SET: ReadonlySet<string> = new Set(PIPES_METADATA_TYPES);

function fail(message: string): never {
  throw new DagsterPipesError(message);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (value instanceof Date) return "Date";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** True when `value` is a typed entry: a plain object with exactly the keys `type` and `raw_value`. */
export function isPipesMetadataValue(value: unknown): value is PipesMetadataValue {
  if (!isPlainObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 2 && keys.includes("type") && keys.includes("raw_value");
}

export function isPipesMetadataType(value: unknown): value is PipesMetadataType {
  return typeof value === "string" && METADATA_TYPE_SET.has(value);
}

// ---------------------------------------------------------------------------------------------
// Raw value validation (shared by the typed constructors and by normalisation)
// ---------------------------------------------------------------------------------------------

function requireString(raw: unknown, where: string, type: string): string {
  if (typeof raw !== "string") fail(`${where}: metadata type "${type}" needs a string, got ${describe(raw)}.`);
  return raw;
}

function requireJsonSerializable(raw: unknown, where: string): void {
  serializeJson(raw, where);
}

function toEpochSeconds(raw: unknown, where: string): number {
  if (raw instanceof Date) {
    const ms = raw.getTime();
    if (Number.isNaN(ms)) fail(`${where}: metadata type "timestamp" got an invalid Date.`);
    return ms / 1000;
  }
  if (typeof raw !== "number" || !Number.isFinite(raw)) {
    fail(`${where}: metadata type "timestamp" needs a finite number of seconds since the epoch or a Date, got ${describe(raw)}.`);
  }
  return raw;
}

function normalizeColumn(column: unknown, where: string, defaultType: boolean): Record<string, unknown> {
  if (!isPlainObject(column)) fail(`${where}: a table column must be an object, got ${describe(column)}.`);
  const name = column["name"];
  if (typeof name !== "string") fail(`${where}: a table column needs a string "name".`);
  let type = column["type"];
  if (type === undefined && defaultType) type = "string";
  if (typeof type !== "string") fail(`${where}: table column "${name}" needs a string "type".`);
  const out: Record<string, unknown> = { name, type };
  const description = column["description"];
  if (description !== undefined && description !== null) {
    out["description"] = requireString(description, `${where}: column "${name}" description`, "table column");
  }
  const tags = column["tags"];
  if (tags !== undefined && tags !== null) {
    if (!isPlainObject(tags) || !Object.values(tags).every((v) => typeof v === "string")) {
      fail(`${where}: column "${name}" tags must be an object of strings.`);
    }
    out["tags"] = { ...tags };
  }
  const constraints = column["constraints"];
  if (constraints !== undefined && constraints !== null) {
    if (!isPlainObject(constraints)) fail(`${where}: column "${name}" constraints must be an object.`);
    const c: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(constraints)) {
      if (value === undefined) continue;
      if (key === "nullable" || key === "unique") {
        if (typeof value !== "boolean") fail(`${where}: column "${name}" constraint "${key}" must be a boolean.`);
        c[key] = value;
      } else if (key === "other") {
        if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
          fail(`${where}: column "${name}" constraint "other" must be an array of strings.`);
        }
        c[key] = [...(value as string[])];
      } else {
        fail(`${where}: column "${name}" has unknown constraint "${key}" (expected nullable, unique, other).`);
      }
    }
    out["constraints"] = c;
  }
  return out;
}

function normalizeColumns(columns: unknown, where: string, defaultType: boolean): Record<string, unknown>[] {
  if (!Array.isArray(columns)) fail(`${where}: table columns must be an array, got ${describe(columns)}.`);
  return columns.map((column, i) => normalizeColumn(column, `${where}[${i}]`, defaultType));
}

function normalizeRecords(records: unknown, where: string): PipesTableRecord[] {
  if (!Array.isArray(records)) fail(`${where}: table records must be an array, got ${describe(records)}.`);
  return records.map((record, i) => {
    if (!isPlainObject(record)) fail(`${where}[${i}]: a table record must be an object.`);
    const out: PipesTableRecord = {};
    for (const [key, value] of Object.entries(record)) {
      if (value === undefined) continue;
      if (value !== null && typeof value !== "string" && typeof value !== "boolean" && typeof value !== "number") {
        fail(`${where}[${i}].${key}: table record values must be string, number, boolean or null, got ${describe(value)}.`);
      }
      out[key] = value;
    }
    return out;
  });
}

function normalizeDepAssetKey(raw: unknown, where: string): string | string[] {
  if (typeof raw === "string") return raw;
  if (Array.isArray(raw) && raw.length > 0 && raw.every((p) => typeof p === "string")) return [...(raw as string[])];
  fail(`${where}: "asset_key" must be a string or a non-empty array of strings.`);
}

/**
 * Validates `raw` for metadata type `type` and returns the value to put on the wire.
 * Throws a {@link DagsterPipesError} naming `where` on a mismatch.
 */
export function normalizeRawValue(type: PipesMetadataType, raw: unknown, where: string): unknown {
  switch (type) {
    case "__infer__":
      requireJsonSerializable(raw, where);
      return raw;
    case "text":
    case "url":
    case "path":
    case "notebook":
    case "md":
    case "dagster_run":
    case "asset":
      return requireString(raw, where, type);
    case "json":
      if (raw !== null && (typeof raw !== "object" || raw instanceof Date)) {
        fail(`${where}: metadata type "json" needs an object, an array or null, got ${describe(raw)}.`);
      }
      requireJsonSerializable(raw, where);
      return raw;
    case "float": {
      const value = raw instanceof PipesFloat ? raw.value : raw;
      if (typeof value !== "number") fail(`${where}: metadata type "float" needs a number, got ${describe(raw)}.`);
      return new PipesFloat(value);
    }
    case "int":
      if (typeof raw === "bigint") return raw;
      if (typeof raw !== "number" || !Number.isInteger(raw)) {
        fail(`${where}: metadata type "int" needs an integer number or a bigint, got ${typeof raw === "number" ? String(raw) : describe(raw)}.`);
      }
      return raw;
    case "bool":
      if (typeof raw !== "boolean") fail(`${where}: metadata type "bool" needs a boolean, got ${describe(raw)}.`);
      return raw;
    case "null":
      return null;
    case "timestamp":
      return toEpochSeconds(raw, where);
    case "table": {
      if (!isPlainObject(raw)) fail(`${where}: metadata type "table" needs {records, schema}, got ${describe(raw)}.`);
      return {
        records: normalizeRecords(raw["records"], `${where}.records`),
        schema: normalizeColumns(raw["schema"], `${where}.schema`, false),
      };
    }
    case "table_schema": {
      if (!isPlainObject(raw)) fail(`${where}: metadata type "table_schema" needs {columns}, got ${describe(raw)}.`);
      return { columns: normalizeColumns(raw["columns"], `${where}.columns`, false) };
    }
    case "table_column_lineage": {
      if (!isPlainObject(raw) || !isPlainObject(raw["deps_by_column"])) {
        fail(`${where}: metadata type "table_column_lineage" needs {deps_by_column: {column: [{asset_key, column_name}]}}.`);
      }
      const deps: Record<string, unknown> = {};
      for (const [column, list] of Object.entries(raw["deps_by_column"])) {
        if (!Array.isArray(list)) fail(`${where}.deps_by_column.${column}: must be an array of column deps.`);
        deps[column] = list.map((dep, i) => {
          const at = `${where}.deps_by_column.${column}[${i}]`;
          if (!isPlainObject(dep)) fail(`${at}: a column dep must be an object {asset_key, column_name}.`);
          return {
            asset_key: normalizeDepAssetKey(dep["asset_key"], at),
            column_name: requireString(dep["column_name"], `${at}.column_name`, "table_column_lineage"),
          };
        });
      }
      return { deps_by_column: deps };
    }
    default: {
      const unknownType: never = type;
      return fail(`${where}: unknown metadata type "${String(unknownType)}".`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Inference
// ---------------------------------------------------------------------------------------------

/**
 * Converts a plain JS value into a metadata entry.
 *
 * - string, finite number, boolean, null, arrays → `__infer__` (the orchestrator infers text,
 *   int/float by JSON number form, bool, null or json — integer-valued numbers become `int`)
 * - non-finite number → `float`; bigint → `int`; Date → `timestamp`; URL → `url`
 * - a typed entry `{type, raw_value}` is validated and returned
 * - any other object is rejected, as in Python: wrap it with `PipesMetadata.json(...)`
 */
export function inferMetadataValue(value: unknown, where = "metadata value"): PipesMetadataValue {
  if (isPipesMetadataValue(value)) {
    if (!isPipesMetadataType(value.type)) fail(unknownTypeMessage(value.type, `${where}.type`));
    return { type: value.type, raw_value: normalizeRawValue(value.type, value.raw_value, where) };
  }
  if (value === null || typeof value === "string" || typeof value === "boolean") {
    return { type: PIPES_METADATA_TYPE_INFER, raw_value: value };
  }
  if (typeof value === "number") {
    return Number.isFinite(value)
      ? { type: PIPES_METADATA_TYPE_INFER, raw_value: value }
      : { type: "float", raw_value: new PipesFloat(value) };
  }
  if (typeof value === "bigint") return { type: "int", raw_value: value };
  if (value instanceof PipesFloat) return { type: "float", raw_value: value };
  if (value instanceof Date) return { type: "timestamp", raw_value: toEpochSeconds(value, where) };
  if (value instanceof URL) return { type: "url", raw_value: value.href };
  if (Array.isArray(value)) {
    requireJsonSerializable(value, where);
    return { type: PIPES_METADATA_TYPE_INFER, raw_value: value };
  }
  if (typeof value === "object") {
    fail(
      `${where}: expected a raw metadata value or a typed entry with schema {raw_value: ..., type: ...}, ` +
        `got ${safePreview(value)}. Use PipesMetadata.json(...) to send an object as JSON metadata.`,
    );
  }
  fail(`${where}: a ${typeof value} cannot be sent as metadata.`);
}

function safePreview(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    if (typeof text === "string") return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    // fall through
  }
  return describe(value);
}

function unknownTypeMessage(type: unknown, param: string, method?: string): string {
  return (
    `Invalid value for parameter \`${param}\`${method ? ` of \`${method}\`` : ""}. Expected one of ` +
    `\`${[...PIPES_METADATA_TYPES].sort().join(", ")}\`, got \`${String(type)}\`.`
  );
}

/**
 * Normalises the `metadata` param of `report_asset_materialization` / `report_asset_check` the
 * way Python's `_normalize_param_metadata` does: typed entries (`{type, raw_value}`) must name a
 * known type; any other plain object is rejected; every other value is inferred. Typed raw values
 * are also checked against the shape the orchestrator expects. Empty or missing metadata becomes
 * `null`.
 */
export function normalizeMetadata(
  metadata: PipesMetadataInput | null | undefined,
  method: string,
  param = "metadata",
): Record<string, PipesMetadataValue> | null {
  if (metadata === null || metadata === undefined) return null;
  if (!isPlainObject(metadata)) {
    fail(`Invalid type for parameter \`${param}\` of \`${method}\`. Expected a plain object, got ${describe(metadata)}.`);
  }
  const out: Record<string, PipesMetadataValue> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (value === undefined) continue;
    if (isPipesMetadataValue(value)) {
      if (!isPipesMetadataType(value.type)) fail(unknownTypeMessage(value.type, `${param}.${key}.type`, method));
    } else if (isPlainObject(value)) {
      fail(
        `Invalid type for parameter \`${param}\` of \`${method}\`. Expected an object with string keys and ` +
          "values that are either raw metadata values or objects with schema `{raw_value: ..., type: ...}`. " +
          `Got a value \`${safePreview(value)}\` for key \`${key}\`. Use PipesMetadata.json(...) to send an object as JSON metadata.`,
      );
    }
    out[key] = inferMetadataValue(value, `\`${param}.${key}\` of \`${method}\``);
  }
  return Object.keys(out).length > 0 ? out : null;
}

// ---------------------------------------------------------------------------------------------
// Typed constructors
// ---------------------------------------------------------------------------------------------

function entry<T extends PipesMetadataType>(type: T, raw: unknown): PipesMetadataValue<T> {
  return { type, raw_value: normalizeRawValue(type, raw, `PipesMetadata.${type}`) };
}

function assetMetadataKey(assetKey: PipesAssetKeyLike): string {
  const parts = typeof assetKey === "string" ? toAssetKeyPath(assetKey) : [...assetKey];
  if (parts.length === 0) fail("PipesMetadata.asset: the asset key is empty.");
  for (const part of parts) {
    if (part.includes("/")) {
      // The orchestrator reads this type with AssetKey.from_user_string (plain split on "/").
      fail(`PipesMetadata.asset: asset key part "${part}" contains "/", which the "asset" metadata type cannot represent.`);
    }
  }
  return parts.join("/");
}

/** Typed constructors for every Pipes metadata type. Each returns a wire-ready entry. */
export const PipesMetadata = {
  /** Let the orchestrator infer the type (see {@link inferMetadataValue}). */
  infer: (value: unknown): PipesMetadataValue => inferMetadataValue(value, "PipesMetadata.infer"),
  text: (value: string): PipesMetadataValue<"text"> => entry("text", value),
  url: (value: string | URL): PipesMetadataValue<"url"> =>
    entry("url", value instanceof URL ? value.href : value),
  path: (value: string): PipesMetadataValue<"path"> => entry("path", value),
  notebook: (path: string): PipesMetadataValue<"notebook"> => entry("notebook", path),
  md: (markdown: string): PipesMetadataValue<"md"> => entry("md", markdown),
  /** Any JSON object/array (or null); plain objects must go through this. */
  json: (value: unknown): PipesMetadataValue<"json"> => entry("json", value),
  /** Sent with a decimal point so the orchestrator receives a Python float (`2` → `2.0`). */
  float: (value: number): PipesMetadataValue<"float"> => entry("float", value),
  int: (value: number | bigint): PipesMetadataValue<"int"> => entry("int", value),
  bool: (value: boolean): PipesMetadataValue<"bool"> => entry("bool", value),
  dagsterRun: (runId: string): PipesMetadataValue<"dagster_run"> => entry("dagster_run", runId),
  /** Reference to an asset; parts must not contain "/" (the orchestrator splits on it). */
  asset: (assetKey: PipesAssetKeyLike): PipesMetadataValue<"asset"> =>
    entry("asset", assetMetadataKey(assetKey)),
  null: (): PipesMetadataValue<"null"> => entry("null", null),
  table: (table: { records: PipesTableRecord[]; schema: PipesTableColumn[] }): PipesMetadataValue<"table"> =>
    ({
      type: "table",
      raw_value: {
        records: normalizeRecords(table.records, "PipesMetadata.table.records"),
        schema: normalizeColumns(table.schema, "PipesMetadata.table.schema", true),
      },
    }),
  tableSchema: (
    schema: PipesTableColumn[] | { columns: PipesTableColumn[] },
  ): PipesMetadataValue<"table_schema"> => ({
    type: "table_schema",
    raw_value: {
      columns: normalizeColumns(
        Array.isArray(schema) ? schema : schema.columns,
        "PipesMetadata.tableSchema.columns",
        true,
      ),
    },
  }),
  tableColumnLineage: (
    depsByColumn: Record<string, PipesTableColumnDep[]>,
  ): PipesMetadataValue<"table_column_lineage"> => {
    if (!isPlainObject(depsByColumn)) fail("PipesMetadata.tableColumnLineage: expected an object of column → deps.");
    const deps: Record<string, { asset_key: string[]; column_name: string }[]> = {};
    for (const [column, list] of Object.entries(depsByColumn)) {
      if (!Array.isArray(list)) fail(`PipesMetadata.tableColumnLineage.${column}: expected an array of deps.`);
      deps[column] = list.map((dep, i) => {
        const at = `PipesMetadata.tableColumnLineage.${column}[${i}]`;
        if (!isPlainObject(dep)) fail(`${at}: expected {assetKey, columnName}.`);
        const key = dep.assetKey;
        const parts = typeof key === "string" ? toAssetKeyPath(key) : Array.isArray(key) ? [...key] : [];
        if (parts.length === 0 || !parts.every((p) => typeof p === "string")) fail(`${at}: "assetKey" must be a non-empty string or array of strings.`);
        return { asset_key: parts, column_name: requireString(dep.columnName, `${at}.columnName`, "table_column_lineage") };
      });
    }
    return { type: "table_column_lineage", raw_value: { deps_by_column: deps } };
  },
  /** A point in time: a Date, or a number of seconds since the Unix epoch. */
  timestamp: (value: Date | number): PipesMetadataValue<"timestamp"> => entry("timestamp", value),
} as const;
