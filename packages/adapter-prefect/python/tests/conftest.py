"""A small Baton build written by hand: baton/manifest.json (v2) and baton/build.json, as core writes them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from baton_core import testing
from baton_core.manifest_types import ManifestDep, ManifestResource
from baton_core.testing import asset, daily

Build = Callable[..., Path]


def dep(upstream: str) -> ManifestDep:
    """An ordering-only dependency, as Baton's `deps: [...]` writes it."""
    return testing.dep(upstream, input_name=None)


DAILY = daily()

ASSETS = [
    asset("raw/orders", owners=["team:data"], description="Orders"),
    asset("raw/customers"),
    asset(
        "customer_metrics",
        deps=[dep("raw/orders"), dep("raw/customers"), dep("raw/orders")],
        tags={"tier": "gold"},
        group="sales",
        retry={"maxRetries": 3, "delaySeconds": 2, "backoff": "exponential"},
    ),
    asset("events", partitions=DAILY, resources=["warehouse"]),
]

RESOURCES: list[ManifestResource] = [
    {
        "key": "warehouse",
        "description": None,
        "config": [
            {
                "field": "dsn",
                "env": "WAREHOUSE_DSN",
                "secret": False,
                "default": None,
                "description": None,
            },
            {
                "field": "password",
                "env": "WAREHOUSE_PASSWORD",
                "secret": True,
                "default": None,
                "description": None,
            },
        ],
    }
]


@pytest.fixture
def build(tmp_path: Path) -> Build:
    """Writes a build folder; returns the manifest's path (OUT/baton/manifest.json)."""

    def write(
        *,
        storage: str | None = None,
        options: dict[str, Any] | None = None,
        version: int = 2,
    ) -> Path:
        data = {
            **testing.manifest(*ASSETS, resources=RESOURCES),
            "manifestVersion": version,
        }
        return testing.write_build(
            tmp_path / "out",
            data,
            target="prefect",
            storage=storage,
            options=options
            or {"flowName": "baton", "resources": {}, "workPool": "baton"},
        )

    return write
