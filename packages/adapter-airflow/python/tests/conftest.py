"""A small Baton build on disk (baton/manifest.json + baton/build.json), written as core does."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from baton_core.manifest_types import ManifestData
from baton_core.testing import asset, daily, manifest, write_build

# No DB or examples: these tests only build DAG objects and plans in-process.
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")


DAILY = daily()


def manifest_data() -> ManifestData:
    return manifest(
        asset("raw/orders"),
        asset(
            "daily_orders",
            ["raw/orders"],
            partitions=DAILY,
            retry={"maxRetries": 2, "delaySeconds": 5, "backoff": "exponential"},
            owners=["team:data"],
        ),
        schedules=[
            {
                "name": "nightly",
                "cron": "30 1 * * *",
                "timezone": "UTC",
                "selection": "daily_orders",
                "assets": ["daily_orders"],
                "partition": {"type": "lastComplete"},
                "partitions": DAILY,
                "description": None,
            }
        ],
        sensors=[
            {
                "name": "new files",
                "selection": "raw/orders",
                "assets": ["raw/orders"],
                "minimumIntervalSeconds": 30,
                "resources": [],
                "description": "files landed",
            }
        ],
    )


BuildFactory = Callable[..., Path]


@pytest.fixture
def make_build(tmp_path: Path) -> BuildFactory:
    """Writes a build and returns its baton/manifest.json."""

    def make(
        target: str = "airflow",
        options: dict[str, Any] | None = None,
        storage: str | None = None,
        data: ManifestData | dict[str, Any] | None = None,
    ) -> Path:
        return write_build(
            tmp_path / "out",
            data or manifest_data(),
            target=target,
            storage=storage,
            options=options,
        )

    return make
