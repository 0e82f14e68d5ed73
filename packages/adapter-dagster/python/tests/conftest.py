"""The builds these tests load: baton_core.testing's manifests, with Dagster's step entry."""

from pathlib import Path
from typing import Any

import pytest

from baton_core import testing
from baton_core.manifest_types import ManifestAsset, ManifestData, ManifestDep
from baton_core.testing import asset, daily

__all__ = ["DAILY", "asset", "dep", "manifest", "write_build"]

DAILY = daily("2024-01-01T00:00:00")
STEP_ENTRY = "runtime/node_modules/@baton/adapter-dagster/dist/step-bin.js"


def dep(upstream: str, mapping: str | None = None) -> ManifestDep:
    """An ordering-only dependency, as Baton's `deps: [...]` writes it."""
    return testing.dep(upstream, mapping, input_name=None)


def manifest(*assets: ManifestAsset, **rest: Any) -> ManifestData:
    return testing.manifest(*assets, step_entry=STEP_ENTRY, **rest)


def write_build(out: Path, data: ManifestData, storage: str | None = None) -> Path:
    return testing.write_build(out, data, target="dagster", storage=storage)


@pytest.fixture
def sales() -> ManifestData:
    return manifest(
        asset("raw/orders", group="sales", owners=["team:sales"]),
        asset(
            "orders_daily",
            group="sales",
            partitions=DAILY,
            deps=[dep("raw/orders")],
            checks=[{"name": "positive", "description": None, "severity": "error"}],
        ),
        asset(
            "report",
            group="sales",
            deps=[dep("orders_daily", "allPartitions")],
            retry={"maxRetries": 2, "delaySeconds": 5, "backoff": "exponential"},
            resources=["warehouse"],
        ),
        resources=[
            {
                "key": "warehouse",
                "description": None,
                "config": [
                    {
                        "field": "url",
                        "env": "WAREHOUSE_URL",
                        "secret": False,
                        "default": None,
                        "description": None,
                    }
                ],
            }
        ],
        schedules=[
            {
                "name": "nightly",
                "cron": "0 3 * * *",
                "timezone": "UTC",
                "selection": "report",
                "assets": ["report"],
                "partition": None,
                "partitions": None,
                "description": None,
            }
        ],
        sensors=[
            {
                "name": "new_orders",
                "selection": "raw/orders",
                "assets": ["raw/orders"],
                "minimumIntervalSeconds": 30,
                "resources": [],
                "description": None,
            }
        ],
    )
