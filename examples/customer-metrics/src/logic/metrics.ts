import pl from "nodejs-polars";

/** The seed's pure function: total spend and order count per customer. No Baton, no orchestrator. */
export function calculateCustomerMetrics(orders: pl.DataFrame, customers: pl.DataFrame): pl.DataFrame {
  return orders
    .join(customers, { on: "customer_id" })
    .groupBy("customer_id")
    .agg(pl.col("amount").sum().round(2).alias("total_spend"), pl.col("order_id").count().alias("order_count"))
    .sort("customer_id");
}

/** Revenue and order count of one day's orders. */
export function summarizeDay(orders: pl.DataFrame, day: string): pl.DataFrame {
  const ofDay = orders.filter(pl.col("order_date").eq(pl.lit(day)));
  return pl.DataFrame({
    day: pl.Series("day", [day], pl.Utf8),
    orders: pl.Series("orders", [ofDay.height], pl.Int64),
    revenue: pl.Series("revenue", [ofDay.height === 0 ? 0 : Math.round((ofDay.getColumn("amount").sum() as number) * 100) / 100], pl.Float64),
  });
}
