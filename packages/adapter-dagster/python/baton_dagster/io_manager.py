"""Native Dagster assets downstream of Baton assets: an input manager that loads a Baton output.

    @dg.asset(
        ins={"metrics": dg.AssetIn(key="customer_metrics", input_manager_key="baton_input")}
    )
    def top_customers(metrics: pl.DataFrame) -> pl.DataFrame: ...

The generated project declares `baton_input` beside `baton_storage` (defs/resources.py), so a native
asset reads from the same store with the same credentials as the Baton steps:

    BatonInputManager(baton_storage=storage, storage="s3://bucket/prefix")

The Node step stores its outputs itself (Dagster receives no data), so Dagster's own IO manager has
nothing to load: this one reads what the step committed with `baton_core.read_output` (the record,
then the one data file it names), from a folder or S3, as a polars DataFrame. A partitioned
upstream loads the downstream's partition, or every partition of its range concatenated in the
partitions definition's order (`baton_core.read_outputs`). It needs polars, and s3fs for S3:
`pip install 'baton-core[s3]'`.
"""

import os
from typing import Any

import dagster as dg
from pydantic import Field

import baton_core

from .storage import BatonStorage


class BatonInputManager(dg.ConfigurableIOManager):
    """Loads a Baton asset's stored output (a polars DataFrame) as a native asset's input."""

    baton_storage: BatonStorage = Field(
        description=(
            "Where the Baton steps store outputs and the credentials they use (the project's "
            "baton_storage resource): read the same way, when the input is loaded."
        )
    )
    storage: str | None = Field(
        default=None,
        description=(
            "The store when neither baton_storage.url nor the process's BATON_STORAGE is set "
            "(the build's --storage, as for the steps)."
        ),
    )

    def load_input(self, context: dg.InputContext) -> Any:
        key = list(context.asset_key.path)
        # The steps' precedence: baton_storage's fields, else this process's variables.
        env = {**os.environ, **self.baton_storage.step_environment(self.storage)}
        if not context.has_asset_partitions:
            return baton_core.read_output(key, env=env)
        # Dagster lists a range's keys in the partitions definition's order.
        partitions = list(context.asset_partition_keys)
        if len(partitions) == 1:
            return baton_core.read_output(key, partitions[0], env=env)
        return baton_core.read_outputs(key, partitions, env=env)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        raise dg.Failure(
            description=(
                f"BatonInputManager only loads Baton outputs; {context.asset_key.to_user_string()} "
                "returned a value for it to store: give that output another io_manager_key"
            ),
            allow_retries=False,
        )
