"""Per-task overhead of a Baton (Node) task versus a native Python+polars task, in one Prefect flow.

Both tasks compute customer_metrics (orders joined to customers, spend and order count per
customer) from the same stored inputs and write Parquet: cold (``BATON_WORKER=off``, a Node process
per task) and warm (the step worker, its first task apart). Run by bench/overhead.mjs.
"""

from __future__ import annotations

import cProfile
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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

    project = flows.project
    environment = project.environment([])
    node_task = project.task("customer_metrics")
    out = Path(tempfile.mkdtemp()) / "customer_metrics.parquet"
    argv = project.manifest.step_command(
        "run", ["--asset", "customer_metrics", "--run-id", "bench"]
    )

    # BATON_BENCH_PROFILE=<file>: cProfile the warm phase's Baton tasks into <file> (pstats);
    # their figures are then inflated by the profiler: read the profile, not the times.
    profile_path = os.environ.get("BATON_BENCH_PROFILE")
    profiler = cProfile.Profile() if profile_path else None

    def phase(
        n: int,
        orders: str,
        customers: str,
        settings: dict[str, str | None],
        profiled: cProfile.Profile | None = None,
    ) -> dict[str, Any]:
        """The Baton task's first run under `settings`, then `n` rounds of the three paths."""
        for name, value in settings.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        t0 = time.perf_counter()
        first = node_task("customer_metrics")
        first_ms = (time.perf_counter() - t0) * 1000
        names = ("node", "python", "node_compute", "python_compute", "bare_step")
        timings: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(n):
            t0 = time.perf_counter()
            if profiled is not None:
                profiled.enable()
            ref = node_task("customer_metrics")
            if profiled is not None:
                profiled.disable()
            t1 = time.perf_counter()
            native = customer_metrics_polars(orders, customers, str(out))
            t2 = time.perf_counter()
            run_step(argv, environment.env, cwd=project.manifest.folder)
            t3 = time.perf_counter()
            assert native["row_count"] == ref["materializations"][0]["row_count"], (
                "the two tasks disagree"
            )
            timings["node"].append((t1 - t0) * 1000)
            timings["python"].append((t2 - t1) * 1000)
            timings["python_compute"].append(native["compute_ms"])
            timings["node_compute"].append(ref["materializations"][0]["duration_ms"])
            timings["bare_step"].append((t3 - t2) * 1000)
        return {
            "first_ms": first_ms,
            "first_compute_ms": first["materializations"][0]["duration_ms"],
            **{name: summary(v) for name, v in timings.items()},
        }

    @flow(name="baton-overhead-bench")
    def bench(n: int) -> dict[str, Any]:
        refs = project.materialize(assets=["raw/orders", "raw/customers"])
        orders = refs["raw/orders"]["materializations"][0]["path"]
        customers = refs["raw/customers"]["materializations"][0]["path"]
        # Warm-up, not counted: each path's first run in this process (imports, polars).
        os.environ["BATON_WORKER"] = "off"
        node_task("customer_metrics")
        customer_metrics_polars(orders, customers, str(out))
        cold = phase(n, orders, customers, {"BATON_WORKER": "off"})
        # A fresh worker directory: the warm phase's first task starts the worker.
        workers = tempfile.mkdtemp(prefix="baton-workers-")
        warm = phase(
            n,
            orders,
            customers,
            {"BATON_WORKER": None, "BATON_WORKER_DIR": workers},
            profiler,
        )
        return {"cold": cold, "warm": warm}

    with prefect_test_harness(server_startup_timeout=120):
        result = bench(iterations)
    if profiler is not None and profile_path:
        profiler.dump_stats(profile_path)
    print("@@bench " + json.dumps({**result, "iterations": iterations}))


def summary(v: list[float]) -> dict[str, float]:
    return {
        "median_ms": statistics.median(v),
        "mean_ms": statistics.fmean(v),
        "min_ms": min(v),
        "max_ms": max(v),
    }


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10)
