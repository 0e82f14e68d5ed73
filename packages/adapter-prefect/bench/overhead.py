"""Per-task overhead of a Baton (Node) task versus a native Python+polars task, in one Prefect flow.

Both tasks compute customer_metrics (orders joined to customers, spend and order count per
customer) from the same stored inputs and write Parquet. Run by bench/overhead.mjs.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
from prefect import flow, task
from prefect.testing.utilities import prefect_test_harness


@task(name="customer_metrics (python+polars)", persist_result=False)
def customer_metrics_polars(orders: str, customers: str, out: str) -> dict[str, object]:
    started = time.perf_counter()
    frame = (
        pl.read_parquet(orders)
        .join(pl.read_ipc(customers), on="customer_id")
        .group_by("customer_id")
        .agg(
            pl.col("amount").sum().alias("total_spend"),
            pl.col("order_id").count().alias("order_count"),
        )
        .sort("customer_id")
    )
    frame.write_parquet(out)
    return {
        "path": out,
        "row_count": frame.height,
        "compute_ms": (time.perf_counter() - started) * 1000,
    }


def main(project_dir: str, iterations: int) -> None:
    sys.path.insert(0, project_dir)
    import flows

    from baton_core import run_step

    @flow(name="baton-overhead-bench")
    def bench(n: int) -> dict[str, list[float]]:
        refs = flows.project.materialize(assets=["raw/orders", "raw/customers"])
        orders = refs["raw/orders"]["materializations"][0]["path"]
        customers = refs["raw/customers"]["materializations"][0]["path"]
        node_task = flows.project.task("customer_metrics")
        out = Path(tempfile.mkdtemp()) / "customer_metrics.parquet"
        names = ("node", "python", "node_compute", "python_compute", "bare_step")
        timings: dict[str, list[float]] = {name: [] for name in names}
        project = flows.project
        environment = project.environment([])
        for i in range(n + 1):  # the first round warms both paths up and is dropped
            t0 = time.perf_counter()
            ref = node_task("customer_metrics")
            t1 = time.perf_counter()
            native = customer_metrics_polars(orders, customers, str(out))
            t2 = time.perf_counter()
            argv = project.manifest.step_command(
                "run", ["--asset", "customer_metrics", "--run-id", "bench"]
            )
            run_step(argv, environment.env, cwd=project.manifest.folder)
            t3 = time.perf_counter()
            if i == 0:
                assert native["row_count"] == ref["materializations"][0]["row_count"], (
                    "the two tasks disagree"
                )
                continue
            timings["node"].append((t1 - t0) * 1000)
            timings["python"].append((t2 - t1) * 1000)
            timings["python_compute"].append(native["compute_ms"])
            timings["node_compute"].append(ref["materializations"][0]["duration_ms"])
            timings["bare_step"].append((t3 - t2) * 1000)
        return timings

    with prefect_test_harness(server_startup_timeout=120):
        timings = bench(iterations)
    summary = {
        name: {
            "median_ms": statistics.median(v),
            "mean_ms": statistics.fmean(v),
            "min_ms": min(v),
            "max_ms": max(v),
        }
        for name, v in timings.items()
        if v
    }
    summary["iterations"] = iterations  # type: ignore[assignment]
    print("@@bench " + json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10)
