import type pl from "nodejs-polars";

/** A SQL identifier, double-quoted (DuckDB's rules: a quote inside is doubled). */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export type Scalar = string | number | bigint | boolean | null;

/** A SQL literal for a filter value; numbers must be finite (NaN and Infinity have no literal). */
export function literal(value: Scalar): string {
  if (value === null) return "NULL";
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`${value} has no SQL literal`);
    return String(value);
  }
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * The Iceberg-storable DuckDB type for a polars column, or undefined when Iceberg has none. Iceberg's
 * integers are 32 and 64 bits and signed, so the narrow and unsigned ones widen to the next that
 * holds every value; timestamps are microseconds (a millisecond column converts without loss).
 */
export function sqlTypeOf(dtype: pl.DataType): string | undefined {
  const d = dtype as pl.DataType & { timeZone?: string | null; precision?: number | null; scale?: number | null };
  switch (dtype.variant) {
    case "Int8":
    case "Int16":
    case "Int32":
    case "UInt8":
    case "UInt16":
      return "INTEGER";
    case "Int64":
    case "UInt32":
      return "BIGINT";
    case "Float32":
      return "FLOAT";
    case "Float64":
      return "DOUBLE";
    case "Bool":
      return "BOOLEAN";
    case "String":
    case "Utf8":
    case "Categorical":
      return "VARCHAR";
    case "Date":
      return "DATE";
    case "Datetime":
      return d.timeZone ? "TIMESTAMP WITH TIME ZONE" : "TIMESTAMP";
    case "Time":
      return "TIME";
    case "Decimal":
      return d.precision != null ? `DECIMAL(${d.precision},${d.scale ?? 0})` : undefined;
    default:
      return undefined;
  }
}

/** DuckDB spells some types two ways (DESCRIBE says "TIMESTAMP WITH TIME ZONE", users write TIMESTAMPTZ). */
export function normalType(sqlType: string): string {
  const t = sqlType.trim().toUpperCase();
  if (t === "TIMESTAMPTZ") return "TIMESTAMP WITH TIME ZONE";
  if (t === "INT" || t === "INT4") return "INTEGER";
  if (t === "INT8" || t === "LONG") return "BIGINT";
  if (t === "REAL" || t === "FLOAT4") return "FLOAT";
  if (t === "FLOAT8") return "DOUBLE";
  if (t === "STRING" || t === "TEXT") return "VARCHAR";
  return t.replace(/\s+/g, " ");
}
