"""A small Baton build written by hand: baton/manifest.json (v2) and baton/build.json, as core writes them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import baton_prefect.project as project_module
from baton_core import StepResult, testing
from baton_core.manifest_types import ManifestDep, ManifestResource
from baton_core.testing import asset, daily
from baton_prefect import BatonProject

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


class Recorded:
    """What a task told Prefect: log records and table artifacts."""

    def __init__(self) -> None:
        self.logs: list[tuple[int, str]] = []
        self.artifacts: list[dict[str, Any]] = []


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    seen = Recorded()

    class Logger(logging.Logger):
        def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
            seen.logs.append((level, str(msg) % args if args else str(msg)))

    monkeypatch.setattr(project_module, "get_run_logger", lambda: Logger("t"))
    monkeypatch.setattr(
        project_module,
        "create_table_artifact",
        lambda **kwargs: seen.artifacts.append(kwargs),
    )
    return seen


def fake_step(
    monkeypatch: pytest.MonkeyPatch,
    project: BatonProject,
    events: list[dict[str, Any]],
    exit_code: int = 0,
) -> list[list[str]]:
    """Make the task's step print ``events`` (step_start/step_end around them); returns the
    commands it was given."""
    calls: list[list[str]] = []
    ok = exit_code == 0 and not any(e["type"] == "asset_failure" for e in events)

    def run_step(command: str, args: list[str], *rest: Any) -> StepResult:
        calls.append([command, *args])
        on_event = rest[2]
        out = [
            {"type": "step_start", "assets": ["raw/orders"], "partitionKeys": []},
            *events,
            {"type": "step_end", "status": "success" if ok else "failure"},
        ]
        for e in out:
            on_event(e)
        return StepResult(exit_code=exit_code, events=out)

    monkeypatch.setattr(project, "_run_step", run_step)
    return calls
