// The benchmark's Baton side: one asset, the same transform as the native Python asset in runner.py.
import pl from "nodejs-polars";
import { asset, definitions } from "@baton/core";

export const ROWS = 200_000;

export const summary = asset({
  key: "baton_summary",
  group: "bench",
  compute: () => {
    const id = Array.from({ length: ROWS }, (_, i) => i);
    const frame = pl.DataFrame({ id, k: id.map((i) => i % 100), v: id.map((i) => i * 0.5) });
    return frame.groupBy("k").agg(pl.col("v").sum().alias("total"), pl.col("id").count().alias("n")).sort("k");
  },
});

export default definitions({ assets: [summary] });
