"""Hand-written Airflow DAG doing what the Baton `customer_totals` step does, in Python with polars."""

import json
import os
from pathlib import Path

import polars as pl
from airflow.sdk import DAG, Asset, task

STORAGE = Path(os.environ.get("BATON_BENCH_STORAGE", "/tmp/baton-bench-storage"))

with DAG(dag_id="native_overhead", schedule=None, catchup=False):

    @task(
        outlets=[Asset(name="native_customer_totals", uri="x-bench://customer_totals")]
    )
    def customer_totals() -> dict:
        folder = STORAGE / "orders" / "__unpartitioned__"
        record = json.loads((folder / "record.json").read_text())
        orders = pl.read_parquet(folder / record["file"])
        out = (
            orders.group_by("customer_id")
            .agg(
                pl.col("amount").sum().alias("total"),
                pl.col("amount").count().alias("orders"),
            )
            .sort("customer_id")
        )
        target = STORAGE / "native_customer_totals.parquet"
        out.write_parquet(target)
        return {"rows": out.height, "path": str(target)}

    customer_totals()
