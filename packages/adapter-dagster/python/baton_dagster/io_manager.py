"""Native Dagster assets downstream of Baton assets: an input manager that loads a Baton output.

    @dg.asset(
        ins={"metrics": dg.AssetIn(key="customer_metrics", input_manager_key="baton_input")}
    )
    def top_customers(metrics: pl.DataFrame) -> pl.DataFrame: ...

    defs = dg.Definitions(assets=[top_customers], resources={"baton_input": BatonInputManager()})

The Node step stores its outputs itself (Dagster receives no data), so Dagster's own IO manager has
nothing to load: this one reads what the step committed with `baton_core.read_output` (the record,
then the one data file it names), from a folder or S3, as a polars DataFrame. A partitioned
upstream loads the downstream's partition, or every partition of its range concatenated in key
order. It needs polars, and s3fs for S3: `pip install 'baton-core[s3]'`.
"""

from typing import Any

import dagster as dg
from pydantic import Field

import baton_core


class BatonInputManager(dg.ConfigurableIOManager):
    """Loads a Baton asset's stored output (a polars DataFrame) as a native asset's input."""

    storage: str | None = Field(
        default=None,
        description=(
            "The Baton IO store (a folder or s3://bucket/prefix). Unset: BATON_STORAGE of the "
            "process that loads the input. S3 settings come from its AWS_* variables."
        ),
    )

    def load_input(self, context: dg.InputContext) -> Any:
        key = list(context.asset_key.path)
        if not context.has_asset_partitions:
            return baton_core.read_output(key, storage=self.storage)
        frames = [
            baton_core.read_output(key, partition, storage=self.storage)
            for partition in sorted(context.asset_partition_keys)
        ]
        if len(frames) == 1:
            return frames[0]
        import polars  # baton_core.read_output already imported it

        return polars.concat(frames, how="vertical")

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        raise dg.Failure(
            description=(
                f"BatonInputManager only loads Baton outputs; {context.asset_key.to_user_string()} "
                "returned a value for it to store: give that output another io_manager_key"
            ),
            allow_retries=False,
        )
