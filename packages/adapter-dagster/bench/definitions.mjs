// The benchmark's Baton side: one asset, the same transform as the native Python asset in runner.py.
import pl from "nodejs-polars";
import { asset, definitions } from "@baton/core";

export const ROWS = 200_000;

export const summary = asset({
  key: "baton_summary",
  group: "bench",
  // In polars expressions, as runner.py's native asset: the step's cost, not JavaScript array building, is measured.
  compute: () => {
    const id = pl.Series("id", Int32Array.from({ length: ROWS }, (_, i) => i)).cast(pl.Int64);
    const frame = pl.DataFrame([id]).withColumns(pl.col("id").modulo(100).alias("k"), pl.col("id").mul(0.5).alias("v"));
    return frame.groupBy("k").agg(pl.col("v").sum().alias("total"), pl.col("id").count().alias("n")).sort("k");
  },
});

export default definitions({ assets: [summary] });
