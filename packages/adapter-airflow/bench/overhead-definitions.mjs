// The per-task overhead benchmark: one source asset and one transform, the same transform the
// native Python+polars DAG (native_dags.py) performs.
import pl from "nodejs-polars";
import { asset, definitions } from "@baton/core";

const ROWS = 200_000;

export const orders = asset({
  key: "orders",
  compute: () => {
    const ids = Array.from({ length: ROWS }, (_, i) => i % 1000);
    const amounts = Array.from({ length: ROWS }, (_, i) => (i * 7) % 100);
    return pl.DataFrame({ customer_id: pl.Series("customer_id", ids, pl.Int64), amount: pl.Series("amount", amounts, pl.Float64) });
  },
});

export const customerTotals = asset({
  key: "customer_totals",
  inputs: { orders },
  compute: ({ orders }) => orders.groupBy("customer_id").agg(pl.col("amount").sum().alias("total"), pl.col("amount").count().alias("orders")).sort("customer_id"),
});

export default definitions({ assets: [orders, customerTotals] });
