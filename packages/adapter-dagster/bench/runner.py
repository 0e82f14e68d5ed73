"""Times the native polars asset and the Baton asset (Node via Pipes) in one Dagster, one process."""

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import polars as pl

from baton_dagster import build_definitions

project, rounds = Path(sys.argv[1]), int(sys.argv[2])
ROWS = 200_000
out_dir = Path(tempfile.mkdtemp(prefix="native-"))


@dg.asset(group_name="bench", kinds={"python", "polars"})
def native_summary() -> dg.MaterializeResult:
    frame = pl.DataFrame({"id": range(ROWS)}).with_columns(
        k=pl.col("id") % 100, v=pl.col("id") * 0.5
    )
    result = (
        frame.group_by("k")
        .agg(pl.col("v").sum().alias("total"), pl.col("id").count().alias("n"))
        .sort("k")
    )
    result.write_parquet(
        out_dir / "native_summary.parquet"
    )  # the Baton asset writes its output too
    return dg.MaterializeResult(metadata={"dagster/row_count": result.height})


defs = dg.Definitions.merge(
    build_definitions(project / "baton" / "manifest.json"),
    dg.Definitions(assets=[native_summary]),
)
job = defs.resolve_implicit_global_asset_job_def()
instance = dg.DagsterInstance.ephemeral()


def step_ms(result) -> float:
    """Step time as Dagster records it: STEP_START to STEP_SUCCESS in the event log."""
    times = {
        e.dagster_event_type: e.timestamp
        for e in instance.all_logs(result.run_id)
        if e.is_dagster_event
    }
    return (
        times[dg.DagsterEventType.STEP_SUCCESS] - times[dg.DagsterEventType.STEP_START]
    ) * 1000


def compute_ms(result, key: str) -> float:
    """The transform's own time: the Baton step reports it; the native asset is timed by its step."""
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        if "baton/duration_ms" in metadata:
            return metadata["baton/duration_ms"].value
    return step_ms(result)


timings: dict[str, dict[str, list[float]]] = {"native_summary": {}, "baton_summary": {}}
for i in range(rounds + 1):  # the first round warms both up and is not counted
    for key, series in timings.items():
        started = time.perf_counter()
        result = job.execute_in_process(
            asset_selection=[dg.AssetKey(key)], instance=instance
        )
        wall = (time.perf_counter() - started) * 1000
        assert result.success, key
        if i > 0:
            series.setdefault("wall", []).append(wall)
            series.setdefault("step", []).append(step_ms(result))
            series.setdefault("compute", []).append(compute_ms(result, key))

print(
    "@@bench "
    + json.dumps(
        {k: {m: statistics.median(v) for m, v in t.items()} for k, t in timings.items()}
    )
)
