"""Native Airflow tasks downstream of a Baton asset: read the rows Baton committed.

    from pathlib import Path
    from airflow.sdk import DAG, Asset, task
    from baton_airflow import read_output

    BUILD = Path(__file__).parent / "baton" / "manifest.json"

    with DAG("metrics_report", schedule=[Asset(name="customer_metrics", uri="x-baton://customer_metrics")]):
        @task
        def report() -> int:
            return read_output("customer_metrics", manifest_path=BUILD).height

The store is the one the build's steps use: with ``--storage-connection``, that Airflow
connection's values (its ``extra.baton_storage``, S3 credentials, endpoint, region) resolved
here at run time as for the Node steps, over the worker's environment (BATON_STORAGE), else the
build's ``--storage``. Nothing is stored by Airflow.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from baton_core import storage as baton_storage

from .options import build_options
from .storage import storage_environment

if TYPE_CHECKING:
    import polars


def read_output(
    key: str | Sequence[str],
    partition: str | None = None,
    *,
    manifest_path: str | Path,
) -> polars.DataFrame:
    """The rows of one committed Baton output (``baton_core.read_output``) in the store of the
    build whose baton/manifest.json is ``manifest_path``."""
    options = build_options(manifest_path)
    connection = options["storageConnection"]
    # What a Node step of this build gets: the worker's environment, the connection's values over it.
    from_connection = storage_environment(connection) if connection else {}
    env = {**os.environ, **from_connection}
    store = env.get("BATON_STORAGE") or options["storage"]
    if store and "://" not in store and not Path(store).is_absolute():
        # The steps run in the manifest's folder, so a relative store is relative to it.
        store = str(Path(manifest_path).resolve().parent / store)
    return baton_storage.read_output(key, partition, store, env=env)
