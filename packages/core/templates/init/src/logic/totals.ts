import pl from "nodejs-polars";

// Business logic as a plain function: no Baton, no orchestrator, so it is tested on its own.
export function totalsByCustomer(orders: pl.DataFrame): pl.DataFrame {
  return orders
    .groupBy("customer_id")
    .agg(pl.col("amount").sum().alias("total_spend"), pl.col("order_id").count().alias("order_count"))
    .sort("customer_id");
}
