"""Dagster's in-process ``materialize()`` of the graph bench/executor-scale.ts runs on Baton's
embedded executor: ``n`` trivial assets in layers of 10, each depending on the asset 10 before it.

    python dagster_inprocess.py N none|io

``none``: assets that return nothing (return type ``None``: no IO manager, as Dagster documents in
``UPathIOManager.handle_output``), ordered by ``deps``. ``io``: each reads the asset 10 before it as
an input and returns it (a one-row polars frame), stored by ``materialize()``'s default
``fs_io_manager`` (pickle files in the ephemeral instance's folder). Prints one ``@@bench`` JSON line.
"""

import json
import sys
import time

import polars as pl
from dagster import AssetIn, AssetsDefinition, asset, materialize


def side_effect_asset(i: int) -> AssetsDefinition:
    @asset(name=f"s{i}", deps=[f"s{i - 10}"] if i >= 10 else [])
    def _side_effect() -> None:
        return None

    return _side_effect


def frame_asset(i: int) -> AssetsDefinition:
    if i < 10:

        @asset(name=f"a{i}")
        def _root() -> pl.DataFrame:
            return pl.DataFrame({"x": pl.Series("x", [1], pl.Int64)})

        return _root

    @asset(name=f"a{i}", ins={"up": AssetIn(f"a{i - 10}")})
    def _reader(up: pl.DataFrame) -> pl.DataFrame:
        return up

    return _reader


def main() -> None:
    n, mode = int(sys.argv[1]), sys.argv[2]
    make = side_effect_asset if mode == "none" else frame_asset
    wall, cpu = time.perf_counter(), time.process_time()
    assets = [make(i) for i in range(n)]
    define_ms = (time.perf_counter() - wall) * 1000
    wall, cpu = time.perf_counter(), time.process_time()
    result = materialize(assets)
    run_ms = (time.perf_counter() - wall) * 1000
    run_cpu_ms = (time.process_time() - cpu) * 1000
    if not result.success:
        raise SystemExit("the Dagster run failed")
    materialized = len(result.get_asset_materialization_events())
    print(
        "@@bench "
        + json.dumps(
            {
                "assets": n,
                "mode": mode,
                "defineMs": define_ms,
                "runMs": run_ms,
                "runCpuMs": run_cpu_ms,
                "materializations": materialized,
            }
        )
    )


if __name__ == "__main__":
    main()
