"""The Python peer of bench/customer-metrics.ts: calculateCustomerMetrics written in Python polars,
eager and lazy, timed on the same Parquet inputs. Prints one ``@@bench {json}`` line (medians, ms)."""

import json
import statistics
import sys
import time
from collections.abc import Callable

import polars as pl


def eager(orders: pl.DataFrame, customers: pl.DataFrame) -> pl.DataFrame:
    return (
        orders.join(customers, on="customer_id")
        .group_by("customer_id")
        .agg(
            pl.col("amount").sum().round(2).alias("total_spend"),
            pl.col("order_id").count().alias("order_count"),
        )
        .sort("customer_id")
    )


def lazy(orders: pl.DataFrame, customers: pl.DataFrame) -> pl.DataFrame:
    return (
        orders.lazy()
        .join(customers.lazy(), on="customer_id")
        .group_by("customer_id")
        .agg(
            pl.col("amount").sum().round(2).alias("total_spend"),
            pl.col("order_id").count().alias("order_count"),
        )
        .sort("customer_id")
        .collect()
    )


def median_ms(
    fn: Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame],
    orders: pl.DataFrame,
    customers: pl.DataFrame,
    rounds: int,
) -> float:
    fn(orders, customers)  # warm-up, not counted
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(orders, customers)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    orders_path, customers_path, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    orders, customers = pl.read_parquet(orders_path), pl.read_parquet(customers_path)
    assert eager(orders, customers).equals(lazy(orders, customers))
    figures = {
        "polars": pl.__version__,
        "threads": pl.thread_pool_size(),
        "eagerMs": median_ms(eager, orders, customers, rounds),
        "lazyMs": median_ms(lazy, orders, customers, rounds),
        "checksum": float(eager(orders, customers)["total_spend"].sum()),
    }
    print("@@bench " + json.dumps(figures))


if __name__ == "__main__":
    main()
