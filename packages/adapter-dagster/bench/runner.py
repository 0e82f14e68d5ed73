"""Times the native polars asset and the Baton asset (Node via Pipes) in one Dagster, one process:
cold (``BATON_WORKER=off``: a Node process per step) and warm (the step worker, the default), with the
worker's first step (which starts it) apart from the steady state. Prints one ``@@bench {json}`` line."""

import cProfile
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from baton_dagster import build_definitions

project, rounds = Path(sys.argv[1]), int(sys.argv[2])
ROWS = 200_000
out_dir = Path(tempfile.mkdtemp(prefix="native-"))


@dg.asset(group_name="bench", kinds={"python", "polars"})
def native_summary() -> dg.MaterializeResult:
    started = time.perf_counter()
    frame = pl.DataFrame({"id": range(ROWS)}).with_columns(
        k=pl.col("id") % 100, v=pl.col("id") * 0.5
    )
    result = (
        frame.group_by("k")
        .agg(pl.col("v").sum().alias("total"), pl.col("id").count().alias("n"))
        .sort("k")
    )
    # The Baton asset writes its output too.
    result.write_parquet(out_dir / "native_summary.parquet")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.height,
            "bench/compute_ms": (time.perf_counter() - started) * 1000,
        }
    )


defs = dg.Definitions.merge(
    build_definitions(project / "baton" / "manifest.json"),
    dg.Definitions(assets=[native_summary]),
)
job = defs.resolve_implicit_global_asset_job_def()
instance = dg.DagsterInstance.ephemeral()


def step_ms(result: dg.ExecuteInProcessResult) -> float:
    """Step time as Dagster records it: STEP_START to STEP_SUCCESS in the event log."""
    times = {
        e.dagster_event_type: e.timestamp
        for e in instance.all_logs(result.run_id)
        if e.is_dagster_event
    }
    return (
        times[dg.DagsterEventType.STEP_SUCCESS] - times[dg.DagsterEventType.STEP_START]
    ) * 1000


def compute_ms(result: dg.ExecuteInProcessResult) -> float:
    """The transform's own time, as each asset reports it (Baton: its step's baton/duration_ms)."""
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        for key in ("baton/duration_ms", "bench/compute_ms"):
            if key in metadata:
                return float(metadata[key].value)  # type: ignore[arg-type]
    raise AssertionError("no compute time in the materialization")


# BATON_BENCH_PROFILE=<file>: cProfile the warm phase's Baton runs (its first included) into <file>; their
# figures are then inflated by the profiler: read the profile, not the times.
profile_path = os.environ.get("BATON_BENCH_PROFILE")
profiler = cProfile.Profile() if profile_path else None
profiling = False


def once(key: str) -> dict[str, float]:
    profiled = profiler if profiling and key == "baton_summary" else None
    started = time.perf_counter()
    if profiled is not None:
        profiled.enable()
    result = job.execute_in_process(
        asset_selection=[dg.AssetKey(key)], instance=instance
    )
    if profiled is not None:
        profiled.disable()
    wall = (time.perf_counter() - started) * 1000
    assert result.success, key
    return {"wall": wall, "step": step_ms(result), "compute": compute_ms(result)}


def median(samples: list[dict[str, float]]) -> dict[str, float]:
    return {m: statistics.median(s[m] for s in samples) for m in samples[0]}


def phase(rounds: int) -> dict[str, Any]:
    """`rounds` alternating runs of both assets, after the Baton asset's first step of the phase."""
    first = once("baton_summary")
    samples: dict[str, list[dict[str, float]]] = {
        "native_summary": [],
        "baton_summary": [],
    }
    for _ in range(rounds):
        for key, series in samples.items():
            series.append(once(key))
    return {"first": first, **{k: median(v) for k, v in samples.items()}}


# Warm-up, not counted: Dagster's first run and polars' first use in this process, both assets.
os.environ["BATON_WORKER"] = "off"
once("native_summary")
once("baton_summary")
cold = phase(rounds)
# A fresh worker directory: the warm phase's first step starts the worker, as a run's first step would.
os.environ.pop("BATON_WORKER")
os.environ["BATON_WORKER_DIR"] = tempfile.mkdtemp(prefix="baton-workers-")
profiling = True
warm = phase(rounds)
if profiler is not None and profile_path:
    profiler.dump_stats(profile_path)
print("@@bench " + json.dumps({"cold": cold, "warm": warm}))
