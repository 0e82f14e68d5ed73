"""What an Airflow user sees of a Baton build: docs, Asset extra, TaskGroups, params, retries,
timeouts, pools and the sensor DAG's failure handling, on the real Airflow SDK objects."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from airflow.sdk import Asset, Context, TaskGroup
from airflow.sdk.definitions.param import process_params
from conftest import DAILY, BuildFactory

from baton_airflow import build_dags
from baton_airflow.dags import SENSOR_MAX_CONSECUTIVE_FAILED_RUNS
from baton_airflow.operators import BatonAssetOperator, manifest_at
from baton_core.testing import asset, manifest


@pytest.fixture(autouse=True)
def fresh_manifest_cache() -> None:
    manifest_at.cache_clear()


def rich_manifest() -> Any:
    return {
        **manifest(
            asset(
                "raw/orders",
                group="raw",
                description="Orders as the shop exports them.",
                owners=["team:data", "ana@example.com"],
                tags={"layer": "bronze", "pii": "no"},
                metadata={"source_system": "shop", "sla_hours": 4},
                codeVersion="v2",
                source={"file": "src/assets/orders.ts", "line": 12},
                timeoutSeconds=30,
                pool="warehouse",
                retry={"maxRetries": 2, "delaySeconds": 60, "backoff": "exponential"},
            ),
            asset(
                "orders",
                ["raw/orders"],
                group="orders",
                partitions=DAILY,
                retry={"maxRetries": 1, "delaySeconds": 5, "backoff": "constant"},
            ),
            asset("notify", ["orders"], group="orders", output="none"),
        ),
        "pools": [{"name": "warehouse", "limit": 2, "description": "two sessions"}],
    }


def test_descriptions_owners_tags_and_code_reference_reach_the_docs_and_the_asset(
    make_build: BuildFactory,
) -> None:
    dag = build_dags(make_build(data=rich_manifest()))["baton_assets"]
    task = dag.get_task("raw__orders")
    assert task.doc_md is not None
    assert task.doc_md.startswith("Orders as the shop exports them.\n")
    for text in (
        "`team:data`, `ana@example.com`",
        "`layer=bronze`, `pii=no`",
        "| Defined in | `src/assets/orders.ts:12` |",
        "| Pool | `warehouse` |",
        "30 s per partition key",
    ):
        assert text in task.doc_md
    (outlet,) = task.outlets
    assert isinstance(outlet, Asset)
    assert (outlet.name, outlet.group) == ("raw/orders", "raw")
    assert outlet.extra == {
        "baton_id": "raw/orders",
        "description": "Orders as the shop exports them.",
        "owners": ["team:data", "ana@example.com"],
        "tags": {"layer": "bronze", "pii": "no"},
        "metadata": {"sla_hours": 4, "source_system": "shop"},
        "code_version": "v2",
        "source": "src/assets/orders.ts:12",
    }
    # The inlet downstream is the same Asset (one definition per asset, extra included).
    assert dag.get_task("orders").inlets == [outlet]
    # The DAG's docs are Baton's, not baton_airflow's module docstring.
    assert dag.doc_md is not None
    assert "Every Baton asset (3" in dag.doc_md
    assert "Build Airflow DAGs" not in dag.doc_md
    assert dag.get_task("plan").owner == "baton"


def test_each_baton_group_is_a_task_group_and_task_ids_stay_the_asset_ids(
    make_build: BuildFactory,
) -> None:
    dag = build_dags(make_build(data=rich_manifest()))["baton_assets"]
    groups = {
        t.task_id: t.task_group.group_id if t.task_group else None for t in dag.tasks
    }
    # "orders" is also an asset's task id, so its group gets a suffix.
    assert groups == {
        "plan": None,
        "raw__orders": "raw",
        "orders": "orders__group",
        "notify": "orders__group",
        "outcome": None,
        "committed": None,
    }
    raw = dag.task_group.children["raw"]
    assert isinstance(raw, TaskGroup) and raw.tooltip == "Baton group raw"


def test_params_are_the_dags_and_validated_by_airflow(make_build: BuildFactory) -> None:
    dag = build_dags(make_build(data=rich_manifest()))["baton_assets"]
    assert sorted(dag.params.keys()) == ["assets", "partition_key", "partition_range"]
    assert dag.params.validate() == {
        "assets": [],
        "partition_key": None,
        "partition_range": None,
    }
    # Every task reads them from context["params"], which Airflow's task runner builds with
    # process_params: the DAG's params, the task's, then the run's conf.
    orders = dag.get_task("orders")
    assert process_params(
        dag, orders, {"partition_key": "2024-01-03"}, suppress_exception=False
    ) == {
        "assets": [],
        "partition_key": "2024-01-03",
        "partition_range": None,
    }
    # Not copied into each task: Airflow would serialize every copy (dags.py).
    assert not orders.params


def test_retries_back_off_exponentially_with_airflows_multiplier(
    make_build: BuildFactory,
) -> None:
    dag = build_dags(make_build(data=rich_manifest()))["baton_assets"]
    raw, orders = dag.get_task("raw__orders"), dag.get_task("orders")
    # Airflow 3.3 reads a multiplier (True would be 1.0: a constant delay).
    assert (raw.retries, raw.retry_delay, raw.retry_exponential_backoff) == (
        2,
        timedelta(seconds=60),
        2.0,
    )
    assert (orders.retries, orders.retry_exponential_backoff) == (1, 0)


def test_timeouts_and_pools_are_airflows_own(make_build: BuildFactory) -> None:
    dag = build_dags(make_build(data=rich_manifest()))["baton_assets"]
    raw = dag.get_task("raw__orders")
    assert isinstance(raw, BatonAssetOperator)
    # One key's timeoutSeconds plus the grace that lets core's own limit speak first.
    assert raw.execution_timeout == timedelta(seconds=40)
    assert raw.pool == "warehouse"
    assert dag.get_task("orders").execution_timeout is None
    assert dag.get_task("orders").pool == "default_pool"


def test_a_range_widens_the_timeout_to_its_keys(make_build: BuildFactory) -> None:
    dag = build_dags(make_build(data=rich_manifest()))["baton_assets"]
    raw = dag.get_task("raw__orders")
    assert isinstance(raw, BatonAssetOperator)

    class TI:
        try_number = 1

        def xcom_pull(self, **_: Any) -> dict[str, Any]:
            keys = ["2024-01-01", "2024-01-02", "2024-01-03"]
            steps = [["--partition-range", "2024-01-01...2024-01-03"]]
            return {
                "assets": [{"id": "raw/orders", "partitionKeys": keys, "steps": steps}]
            }

    raw.pre_execute(cast(Context, {"ti": TI()}))
    assert raw.execution_timeout == timedelta(seconds=30 * 3 + 10)


def test_the_sensor_dag_retries_and_pauses_after_failed_runs(
    make_build: BuildFactory,
) -> None:
    dag = build_dags(make_build())["baton_sensor_new_files"]
    assert dag.max_consecutive_failed_dag_runs == SENSOR_MAX_CONSECUTIVE_FAILED_RUNS > 0
    evaluate = dag.get_task("evaluate")
    assert (evaluate.retries, evaluate.retry_delay) == (3, timedelta(seconds=30))
    assert evaluate.retry_exponential_backoff == 2.0
    assert dag.doc_md is not None and "baton_sensor_cursor__new_files" in dag.doc_md


def test_schedule_docs_name_the_timezone(make_build: BuildFactory) -> None:
    dag = build_dags(make_build())["baton_schedule_nightly"]
    assert dag.doc_md is not None and "`30 1 * * *` in **UTC**" in dag.doc_md


def test_airflow_computes_a_doubling_retry_delay(make_build: BuildFactory) -> None:
    """The scheduler's own formula (TaskInstance.next_retry_datetime, airflow/models/
    taskinstance.py): with the multiplier 2.0, retry n waits between 60 s * 2^(n-1) and twice that."""
    import uuid
    from datetime import UTC, datetime

    from airflow.models.taskinstance import TaskInstance
    from airflow.serialization.serialized_objects import DagSerialization

    dag = build_dags(make_build(data=rich_manifest()))["baton_assets"]
    scheduled = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    ended = datetime(2024, 1, 1, tzinfo=UTC)
    waits = []
    for try_number in (1, 2, 3):
        ti = TaskInstance(
            task=scheduled.get_task("raw__orders"),
            run_id="r",
            dag_version_id=uuid.uuid4(),
        )
        ti.try_number, ti.end_date = try_number, ended
        retry_at: datetime = ti.next_retry_datetime()  # type: ignore[no-untyped-call]
        waits.append((retry_at - ended).total_seconds())
    for n, wait in enumerate(waits):
        assert 60 * 2**n <= wait < 2 * 60 * 2**n, waits
