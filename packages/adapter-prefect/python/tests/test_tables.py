"""Iceberg table outputs on Prefect (TABLE-OUTPUT-CONTRACT.md §6): what an asset's task tells
Prefect about the table and snapshot its step committed (no server: the step's events are
given, Prefect's logger, artifact and asset-metadata calls are recorded)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import baton_prefect.project as project_module
from baton_prefect import BatonProject

from .conftest import Build, Recorded, fake_step

# Larger than 2**53: a JSON reader's double would change its last digits.
SNAPSHOT = "4817311548932601471"
LOCATION = "s3://warehouse/analytics/daily_events"


def _materialization(
    partition_key: str | None,
    *,
    table: dict[str, Any] | None,
    snapshot: str = SNAPSHOT,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "rowCount": 2,
        "schema": [{"name": "day", "type": "Utf8"}, {"name": "n", "type": "Int64"}],
        "contentHash": "sha256:abc",
        "durationMs": 12,
        "path": None if table else "events/2024-01-02/data.parquet",
        "format": "iceberg" if table else "parquet",
        "codeVersion": None,
        "user": {},
    }
    if table:
        metadata["table"] = {**table, "snapshotId": snapshot}
    return {
        "type": "materialization",
        "asset": "events",
        "partitionKey": partition_key,
        "dataVersion": "sha256:abc",
        "metadata": metadata,
    }


TABLE = {
    "format": "iceberg",
    "catalog": "lake",
    "name": "analytics.daily_events",
    "location": LOCATION,
}


@pytest.fixture
def project(build: Build) -> BatonProject:
    return BatonProject.from_build(build(), flow_name="shop")


@pytest.fixture
def asset_metadata(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the task added to its Prefect asset's materialization (the event's payload)."""
    added: list[dict[str, Any]] = []
    monkeypatch.setattr(
        project_module, "add_asset_metadata", lambda _key, meta: added.append(meta)
    )
    return added


def test_a_table_output_names_its_table_and_snapshot_in_the_asset_event(
    project: BatonProject,
    recorded: Recorded,
    asset_metadata: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_step(monkeypatch, project, [_materialization("2024-01-02", table=TABLE)])
    result = project.run_asset("events", "2024-01-02")
    (payload,) = asset_metadata
    assert payload["format"] == "iceberg"
    assert payload["path"] is None
    assert payload["table"] == "analytics.daily_events"
    assert payload["snapshot_id"] == SNAPSHOT  # text, every digit kept
    assert payload["catalog"] == "lake"
    assert payload["table_location"] == LOCATION
    assert payload["row_count"] == 2
    # The task's result (the output's references) names the snapshot too.
    assert result["materializations"][0]["snapshot_id"] == SNAPSHOT
    line = (
        "events [2024-01-02]: Iceberg table analytics.daily_events (catalog lake)"
        f" at snapshot {SNAPSHOT}, 2 rows"
    )
    assert (logging.INFO, line) in recorded.logs
    (artifact,) = recorded.artifacts
    assert artifact["key"] == "events-table"
    assert artifact["table"] == [
        {
            "table": "analytics.daily_events",
            "snapshot_id": SNAPSHOT,
            "partition_key": "2024-01-02",
            "row_count": 2,
            "catalog": "lake",
            "format": "iceberg",
            "location": LOCATION,
        }
    ]


def test_a_table_without_a_location_has_no_location_key(
    project: BatonProject,
    recorded: Recorded,
    asset_metadata: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = {**TABLE, "location": None}
    fake_step(monkeypatch, project, [_materialization("2024-01-02", table=table)])
    project.run_asset("events", "2024-01-02")
    assert "table_location" not in asset_metadata[0]
    assert recorded.artifacts[0]["table"][0]["location"] is None


def test_a_file_output_has_no_table_keys_log_or_artifact(
    project: BatonProject,
    recorded: Recorded,
    asset_metadata: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_step(monkeypatch, project, [_materialization("2024-01-02", table=None)])
    project.run_asset("events", "2024-01-02")
    (payload,) = asset_metadata
    assert payload["path"] == "events/2024-01-02/data.parquet"
    assert payload["format"] == "parquet"
    assert not {"table", "snapshot_id", "catalog", "table_location"} & payload.keys()
    assert recorded.artifacts == []
    assert not any("table" in line for _, line in recorded.logs)


def test_several_partitions_name_the_table_once_and_each_snapshot() -> None:
    spec: dict[str, Any] = {"group": "default", "tags": {}, "source": None}
    events = [
        _materialization("2024-01-02", table=TABLE, snapshot="1"),
        _materialization("2024-01-03", table=TABLE, snapshot="2"),
    ]
    metadata = project_module._asset_metadata(events, spec)  # type: ignore[arg-type]
    assert metadata["table"] == "analytics.daily_events"
    assert [p["snapshot_id"] for p in metadata["partitions"]] == ["1", "2"]
