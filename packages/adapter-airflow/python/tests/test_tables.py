"""Iceberg table outputs in Airflow's records (TABLE-OUTPUT-CONTRACT.md §6): the asset event's
``extra``, the XCom summary, the task log line, the Asset's ``extra`` and the task's docs; parquet
outputs keep what they had. The asset task runs its real ``execute`` with the Node step replaced
by the events a step prints, and Airflow's own outlet event accessors."""

from __future__ import annotations

from typing import Any, cast

import pytest
from airflow.sdk import Context
from airflow.sdk.execution_time.context import OutletEventAccessors
from conftest import DAILY, BuildFactory

from baton_airflow import build_dags
from baton_airflow.docs import asset_doc, asset_extra
from baton_airflow.operators import (
    BatonAssetOperator,
    BatonCommittedOperator,
    manifest_at,
)
from baton_airflow.tables import event_table, table_extra, where_stored
from baton_core import StepResult
from baton_core.manifest_types import ManifestAsset
from baton_core.testing import asset, manifest

# Above 2**53: a JSON number in a JavaScript reader would round it.
SNAPSHOT_1 = "4817311548932601471"
SNAPSHOT_2 = "7402645535182401471"
LOCATION = "s3://lake/analytics/daily_events"


@pytest.fixture(autouse=True)
def fresh_manifest_cache() -> None:
    manifest_at.cache_clear()


def iceberg_asset(asset_id: str = "daily_events", **fields: Any) -> ManifestAsset:
    return asset(
        asset_id,
        partitions=DAILY,
        resources=["lake"],
        format="iceberg",
        table={
            "format": "iceberg",
            "catalog": "lake",
            "name": "analytics.daily_events",
            "partitionColumn": "day",
            "mode": "replace",
        },
        **fields,
    )


def iceberg_metadata(snapshot: str, location: str | None = LOCATION) -> dict[str, Any]:
    return {
        "rowCount": 2,
        "schema": [{"name": "day", "type": "Utf8"}],
        "contentHash": f"hash-{snapshot[-4:]}",
        "durationMs": 5,
        "path": None,
        "format": "iceberg",
        "codeVersion": None,
        "user": {},
        "table": {
            "format": "iceberg",
            "catalog": "lake",
            "name": "analytics.daily_events",
            "snapshotId": snapshot,
            "location": location,
        },
    }


def parquet_metadata() -> dict[str, Any]:
    return {
        "rowCount": 3,
        "schema": [],
        "contentHash": "abc",
        "durationMs": 5,
        "path": "/store/raw/orders/__unpartitioned__/data-abc.parquet",
        "format": "parquet",
        "codeVersion": None,
        "user": {"source": "shop"},
    }


def test_a_table_materialization_names_its_table_and_snapshot() -> None:
    meta = iceberg_metadata(SNAPSHOT_1)
    assert event_table(meta) == {
        "format": "iceberg",
        "catalog": "lake",
        "name": "analytics.daily_events",
        "snapshotId": SNAPSHOT_1,
        "location": LOCATION,
    }
    assert where_stored(meta) == (
        f"Iceberg table analytics.daily_events snapshot {SNAPSHOT_1} (catalog lake)"
    )
    # A parquet output keeps its file in the log line, and has no table.
    assert event_table(parquet_metadata()) is None
    assert where_stored(parquet_metadata()).endswith("data-abc.parquet")


def test_the_event_extra_keeps_the_snapshot_id_a_string_and_maps_several_partitions() -> (
    None
):
    one = table_extra([("2024-01-02", event_table(iceberg_metadata(SNAPSHOT_1)))])
    assert one == {
        "table": "analytics.daily_events",
        "table_format": "iceberg",
        "catalog": "lake",
        "snapshot_id": SNAPSHOT_1,
        "table_location": LOCATION,
    }
    two = table_extra(
        [
            ("2024-01-01", event_table(iceberg_metadata(SNAPSHOT_1, None))),
            ("2024-01-02", event_table(iceberg_metadata(SNAPSHOT_2, None))),
        ]
    )
    # Every partition event of one task shares the extra: the last commit, and each key's own.
    assert two["snapshot_id"] == SNAPSHOT_2
    assert two["snapshot_ids"] == {"2024-01-01": SNAPSHOT_1, "2024-01-02": SNAPSHOT_2}
    assert "table_location" not in two
    assert table_extra([(None, event_table(parquet_metadata()))]) == {}


def test_the_airflow_asset_and_the_task_docs_name_the_table() -> None:
    extra = asset_extra(iceberg_asset())
    assert (extra["table"], extra["table_format"], extra["catalog"]) == (
        "analytics.daily_events",
        "iceberg",
        "lake",
    )
    doc = asset_doc(iceberg_asset())
    assert (
        "| Stored in | Iceberg table `analytics.daily_events` (catalog resource `lake`"
        in doc
    )
    assert "partition column `day`" in doc
    parquet = asset("raw/orders")
    assert not {"table", "table_format", "catalog"} & set(asset_extra(parquet))
    assert "Stored in" not in asset_doc(parquet)


class _TaskInstance:
    """The task instance calls ``execute`` makes: the plan's XCom in, the summary out."""

    dag_id = "baton_assets"
    run_id = "r"
    try_number = 1

    def __init__(
        self, plan: dict[str, Any], states: dict[str, str] | None = None
    ) -> None:
        self.plan = plan
        self.states = states or {}
        self.pushed: dict[str, Any] = {}

    def get_task_states(self, **_: Any) -> dict[str, dict[str, str]]:
        return {self.run_id: self.states}

    def xcom_pull(self, *, task_ids: str, key: str) -> Any:
        return self.plan

    def xcom_push(self, *, key: str, value: Any) -> None:
        self.pushed[key] = value


def _step(asset_id: str, key: str | None, metadata: dict[str, Any]) -> StepResult:
    return StepResult(
        exit_code=0,
        events=[
            {
                "type": "step_start",
                "runId": "r",
                "assets": [asset_id],
                "partitionKeys": [key] if key else [],
                "retryNumber": 0,
            },
            {
                "type": "materialization",
                "asset": asset_id,
                "partitionKey": key,
                "dataVersion": metadata["contentHash"],
                "metadata": metadata,
            },
            {"type": "step_end", "status": "success"},
        ],
    )


def _execute(
    monkeypatch: pytest.MonkeyPatch,
    task: BatonAssetOperator,
    steps: list[tuple[str | None, dict[str, Any]]],
) -> tuple[_TaskInstance, OutletEventAccessors]:
    """Run the task's execute over one step per (key, metadata), as a range run does."""
    ti = _TaskInstance(
        {
            "assets": [
                {
                    "id": task.asset_id,
                    "steps": [["--partition", k] if k else [] for k, _ in steps],
                    "partitionKeys": [k for k, _ in steps if k],
                }
            ]
        }
    )
    results = iter([_step(task.asset_id, k, m) for k, m in steps])
    monkeypatch.setattr(task, "_run_partition", lambda _c, _a: (next(results), []))
    events = OutletEventAccessors()
    task.execute(cast(Context, {"ti": ti, "run_id": "r", "outlet_events": events}))
    return ti, events


def test_an_iceberg_task_records_the_table_in_its_asset_event_xcom_and_log(
    make_build: BuildFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dag = build_dags(make_build(data=manifest(iceberg_asset())))["baton_assets"]
    task = cast(BatonAssetOperator, dag.get_task("daily_events"))
    # What the step prints reaches the task log (Airflow's structlog, on stdout here).
    task._log_event(
        {
            "type": "materialization",
            "asset": "daily_events",
            "partitionKey": "2024-01-02",
            "metadata": iceberg_metadata(SNAPSHOT_1),
        }
    )
    assert (
        f"materialized daily_events [2024-01-02]: 2 rows, hash hash-1471, Iceberg table"
        f" analytics.daily_events snapshot {SNAPSHOT_1} (catalog lake)"
        in capsys.readouterr().out
    )

    ti, events = _execute(
        monkeypatch,
        task,
        [
            ("2024-01-01", iceberg_metadata(SNAPSHOT_1)),
            ("2024-01-02", iceberg_metadata(SNAPSHOT_2)),
        ],
    )
    event = events[task.outlets[0]]
    assert event.partition_keys == {"2024-01-01", "2024-01-02"}
    assert event.extra["table"] == "analytics.daily_events"
    assert event.extra["snapshot_id"] == SNAPSHOT_2
    assert event.extra["snapshot_ids"] == {
        "2024-01-01": SNAPSHOT_1,
        "2024-01-02": SNAPSHOT_2,
    }
    assert event.extra["table_location"] == LOCATION
    summary = ti.pushed["baton"]
    assert [m["table"]["snapshotId"] for m in summary["materializations"]] == [
        SNAPSHOT_1,
        SNAPSHOT_2,
    ]
    assert [m["path"] for m in summary["materializations"]] == [None, None]


def test_a_parquet_task_keeps_its_event_extra(
    make_build: BuildFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    dag = build_dags(make_build(data=manifest(asset("raw/orders"))))["baton_assets"]
    task = cast(BatonAssetOperator, dag.get_task("raw__orders"))
    ti, events = _execute(monkeypatch, task, [(None, parquet_metadata())])
    assert events[task.outlets[0]].extra == {
        "baton_asset": "raw/orders",
        "row_count": 3,
        "content_hash": "abc",
        "metadata": {"source": "shop"},
    }
    assert "table" not in ti.pushed["baton"]["materializations"][0]


def test_the_committed_task_names_each_partitions_own_snapshot(
    make_build: BuildFactory,
) -> None:
    dag = build_dags(make_build(data=manifest(iceberg_asset())))["baton_assets"]
    committed = cast(BatonCommittedOperator, dag.get_task("committed"))
    ti = _TaskInstance(
        {
            "materializations": [
                {
                    "partitionKey": key,
                    "rowCount": 2,
                    "contentHash": "h",
                    "table": event_table(iceberg_metadata(snapshot)),
                }
                for key, snapshot in (
                    ("2024-01-01", SNAPSHOT_1),
                    ("2024-01-02", SNAPSHOT_2),
                )
            ]
        },
        # The asset's task failed after committing both partitions (a failed error check).
        states={"daily_events": "failed"},
    )
    events = OutletEventAccessors()
    committed.execute(cast(Context, {"ti": ti, "outlet_events": events}))
    alias = events[committed.outlets[0]]
    assert [
        (e.extra["partition_key"], e.extra["snapshot_id"])
        for e in alias.asset_alias_events
    ] == [
        ("2024-01-01", SNAPSHOT_1),
        ("2024-01-02", SNAPSHOT_2),
    ]
    assert all("snapshot_ids" not in e.extra for e in alias.asset_alias_events)


def test_the_event_extra_of_a_table_is_redacted_like_the_summary(
    make_build: BuildFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Airflow stores the extra in its asset event record: a secret value in a table location
    (a catalog that puts a token in it) is masked there as in the XCom summary."""
    dag = build_dags(make_build(data=manifest(iceberg_asset())))["baton_assets"]
    task = cast(BatonAssetOperator, dag.get_task("daily_events"))
    secret = "tok-canary-9d1f"
    leaky = iceberg_metadata(
        SNAPSHOT_1, location=f"s3://lake/daily_events?token={secret}"
    )
    ti = _TaskInstance(
        {
            "assets": [
                {
                    "id": task.asset_id,
                    "steps": [["--partition", "2024-01-01"]],
                    "partitionKeys": ["2024-01-01"],
                }
            ]
        }
    )
    step = _step(task.asset_id, "2024-01-01", leaky)
    monkeypatch.setattr(task, "_run_partition", lambda _c, _a: (step, [secret]))
    events = OutletEventAccessors()
    task.execute(cast(Context, {"ti": ti, "run_id": "r", "outlet_events": events}))
    extra = events[task.outlets[0]].extra
    assert extra["table_location"] == "s3://lake/daily_events?token=***"
    assert secret not in repr(extra)
    assert secret not in repr(ti.pushed["baton"])
