import pl from "nodejs-polars";

/**
 * The seed's pure function: total spend and order count per customer. No Baton, no orchestrator.
 * Lazy, so polars plans the whole query: only the columns it uses are joined (bench/customer-metrics.ts:
 * 0.6× the eager time at 1M orders in nodejs-polars 0.25.2), with the same frame out.
 */
export function calculateCustomerMetrics(orders: pl.DataFrame, customers: pl.DataFrame): pl.DataFrame {
  return orders
    .lazy()
    .join(customers.lazy(), { on: "customer_id" })
    .groupBy("customer_id")
    .agg(pl.col("amount").sum().round(2).alias("total_spend"), pl.col("order_id").count().alias("order_count"))
    .sort("customer_id")
    .collectSync();
}

/** Revenue and order count of one day's orders. */
export function summarizeDay(orders: pl.DataFrame, day: string): pl.DataFrame {
  const ofDay = orders.filter(pl.col("order_date").eq(pl.lit(day)));
  return pl.DataFrame({
    day: pl.Series("day", [day], pl.Utf8),
    orders: pl.Series("orders", [ofDay.height], pl.Int64),
    revenue: pl.Series("revenue", [ofDay.height === 0 ? 0 : Math.round(Number(ofDay.getColumn("amount").sum()) * 100) / 100], pl.Float64),
  });
}

/** Orders whose customer_id is not a customer's: what an inner join with customers would silently drop. */
export function ordersWithoutCustomer(orders: pl.DataFrame, customers: pl.DataFrame): number {
  return orders.select("customer_id").join(customers.select("customer_id"), { on: "customer_id", how: "anti" }).height;
}
