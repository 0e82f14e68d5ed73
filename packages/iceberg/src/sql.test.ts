import pl from "nodejs-polars";
import { describe, expect, it } from "vitest";
import { schemaProblems } from "./client.js";
import { ident, literal, normalType, sqlTypeOf } from "./sql.js";

describe("SQL text for DuckDB", () => {
  it("quotes identifiers and literals so that names and values cannot end the statement", () => {
    expect(ident('we"ird')).toBe('"we""ird"');
    expect(literal("it's")).toBe("'it''s'");
    expect(literal(7402645535182401471n)).toBe("7402645535182401471");
    expect(literal(null)).toBe("NULL");
    expect(() => literal(Number.NaN)).toThrow(/no SQL literal/);
  });

  it("maps polars columns to Iceberg-storable DuckDB types, widening what Iceberg lacks", () => {
    const df = pl.DataFrame({ i: [1], s: ["a"], b: [true], t: [new Date(0)] }).withColumns(
      pl.col("i").cast(pl.Int16).alias("i16"),
      pl.col("i").cast(pl.UInt32).alias("u32"),
      pl.col("i").cast(pl.Int64).alias("i64"),
      pl.col("t").cast(pl.Date).alias("d"),
      pl.col("t").cast(pl.Datetime("us", "UTC")).alias("tz"),
    );
    const types = Object.fromEntries(Object.entries(df.schema as Record<string, pl.DataType>).map(([k, v]) => [k, sqlTypeOf(v)]));
    expect(types).toEqual({ i: "DOUBLE", s: "VARCHAR", b: "BOOLEAN", t: "TIMESTAMP", i16: "INTEGER", u32: "BIGINT", i64: "BIGINT", d: "DATE", tz: "TIMESTAMP WITH TIME ZONE" });
    expect(sqlTypeOf(pl.UInt64)).toBeUndefined();
    expect(normalType("timestamptz")).toBe("TIMESTAMP WITH TIME ZONE");
  });

  it("names every difference between a table's columns and a frame's", () => {
    const table = [{ name: "day", type: "VARCHAR" }, { name: "n", type: "BIGINT" }];
    expect(schemaProblems(table, [{ name: "n", type: "BIGINT" }, { name: "day", type: "VARCHAR" }])).toEqual([]);
    expect(schemaProblems(table, [{ name: "n", type: "DOUBLE" }, { name: "extra", type: "VARCHAR" }])).toEqual([
      'column "day" (VARCHAR) is missing',
      'column "n" is DOUBLE, the table has BIGINT',
      'column "extra" (VARCHAR) is not in the table',
    ]);
  });
});
