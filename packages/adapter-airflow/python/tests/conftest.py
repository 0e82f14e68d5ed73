"""A small Baton build on disk (baton/manifest.json + baton/build.json), written as core does."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# No DB or examples: these tests only build DAG objects and plans in-process.
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")


def asset(asset_id: str, *deps: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": asset_id,
        "key": asset_id.split("/"),
        "deps": [
            {"id": d, "key": d.split("/"), "input": d, "partitionMapping": None}
            for d in deps
        ],
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
        **fields,
    }


DAILY = {
    "type": "time",
    "grain": "daily",
    "start": "2024-01-01",
    "timezone": "UTC",
    "format": "%Y-%m-%d",
}


def manifest_data() -> dict[str, Any]:
    return {
        "manifestVersion": 2,
        "generator": {"name": "@baton/core", "version": "0.1.0"},
        "runtime": {
            "module": "runtime/definitions-0000000000000000.mjs",
            "moduleHash": "sha256:" + "0" * 64,
            "export": "default",
            "stepEntry": "runtime/node_modules/@baton/core/dist/step/bin.js",
            "node": ">=20.19",
        },
        "assets": [
            asset("raw/orders"),
            asset(
                "daily_orders",
                "raw/orders",
                partitions=DAILY,
                retry={"maxRetries": 2, "delaySeconds": 5, "backoff": "exponential"},
                owners=["team:data"],
            ),
        ],
        "resources": [],
        "schedules": [
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
        "sensors": [
            {
                "name": "new files",
                "selection": "raw/orders",
                "assets": ["raw/orders"],
                "minimumIntervalSeconds": 30,
                "resources": [],
                "description": "files landed",
            }
        ],
    }


BuildFactory = Callable[..., Path]


@pytest.fixture
def make_build(tmp_path: Path) -> BuildFactory:
    """Writes a build and returns its baton/manifest.json."""

    def make(
        target: str = "airflow",
        options: dict[str, Any] | None = None,
        storage: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Path:
        baton = tmp_path / "out" / "baton"
        baton.mkdir(parents=True, exist_ok=True)
        (baton / "manifest.json").write_text(json.dumps(data or manifest_data()))
        build = {"target": target, "storage": storage, "options": options or {}}
        (baton / "build.json").write_text(json.dumps(build, sort_keys=True))
        return baton / "manifest.json"

    return make
