"""A small Baton build written by hand: the manifest (v2) and build.json core writes."""

import json
from pathlib import Path
from typing import Any, cast

import pytest

from baton_core.manifest_types import ManifestAsset, ManifestData


def asset(id: str, **fields: Any) -> ManifestAsset:
    base: dict[str, Any] = {
        "id": id,
        "key": id.split("/"),
        "deps": [],
        "partitions": None,
        "group": "default",
        "description": None,
        "owners": [],
        "tags": {},
        "codeVersion": None,
        "metadata": {},
        "checks": [],
        "retry": None,
        "resources": [],
        "format": "parquet",
        "output": "table",
    }
    base.update(fields)
    return cast(ManifestAsset, base)


def dep(upstream: str, mapping: str | None = None) -> dict[str, Any]:
    return {
        "id": upstream,
        "key": upstream.split("/"),
        "input": None,
        "partitionMapping": None if mapping is None else {"type": mapping},
    }


DAILY = {
    "type": "time",
    "grain": "daily",
    "start": "2024-01-01T00:00:00",
    "timezone": "UTC",
    "format": "%Y-%m-%d",
}


def manifest(assets: list[ManifestAsset], **rest: Any) -> ManifestData:
    data: dict[str, Any] = {
        "manifestVersion": 2,
        "generator": {"name": "@baton/core", "version": "0.1.0"},
        "runtime": {
            "module": "runtime/definitions-0123456789abcdef.mjs",
            "moduleHash": "sha256:" + "0" * 64,
            "export": "default",
            "stepEntry": "runtime/node_modules/@baton/adapter-dagster/dist/step-bin.js",
            "node": ">=20.19",
        },
        "assets": assets,
        "resources": [],
        "schedules": [],
        "sensors": [],
    }
    data.update(rest)
    return cast(ManifestData, data)


def write_build(folder: Path, data: ManifestData, storage: str | None = None) -> Path:
    """OUT/baton as core writes it; returns the manifest's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    build: dict[str, Any] = {"options": {}, "storage": storage, "target": "dagster"}
    (folder / "build.json").write_text(json.dumps(build), encoding="utf-8")
    return folder / "manifest.json"


@pytest.fixture
def sales() -> ManifestData:
    return manifest(
        [
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
        ],
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
