"""A small Baton build written by hand: baton/manifest.json (v2) and baton/build.json, as core writes them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Build = Callable[..., Path]


def asset(asset_id: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": asset_id,
        "key": asset_id.split("/"),
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
    return {**base, **fields}


def dep(upstream: str) -> dict[str, Any]:
    return {
        "id": upstream,
        "key": upstream.split("/"),
        "input": None,
        "partitionMapping": None,
    }


DAILY = {
    "type": "time",
    "grain": "daily",
    "start": "2024-01-01",
    "timezone": "UTC",
    "format": "%Y-%m-%d",
}

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

RESOURCES = [
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
        folder = tmp_path / "out" / "baton"
        folder.mkdir(parents=True, exist_ok=True)
        manifest = {
            "manifestVersion": version,
            "generator": {"name": "@baton/core", "version": "0.1.0"},
            "runtime": {
                "module": "runtime/definitions-0123456789abcdef.mjs",
                "moduleHash": "sha256:" + "0" * 64,
                "export": "default",
                "stepEntry": "runtime/node_modules/@baton/core/dist/step/bin.js",
                "node": ">=20.19",
            },
            "assets": ASSETS,
            "resources": RESOURCES,
            "schedules": [],
            "sensors": [],
        }
        (folder / "manifest.json").write_text(json.dumps(manifest))
        build_info = {
            "target": "prefect",
            "storage": storage,
            "options": options
            or {"flowName": None, "resources": {}, "workPool": "baton"},
        }
        (folder / "build.json").write_text(json.dumps(build_info))
        return folder / "manifest.json"

    return write
