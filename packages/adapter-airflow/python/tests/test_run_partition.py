"""Airflow's own run-level partition key (3.2+ ``DagRun.partition_key``) in the run plan, and the
unscheduled DAG that accepts it (``PartitionedAtRuntime``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from airflow.sdk import PartitionedAtRuntime
from conftest import manifest_data

from baton_airflow.dags import asset_dag
from baton_airflow.runplan import plan_dag_run
from baton_core import Manifest

MANIFEST = Manifest("/out/baton/manifest.json", manifest_data())
ALL = ["raw/orders", "daily_orders"]


def context(
    conf: dict[str, Any] | None = None, key: str | None = None
) -> dict[str, Any]:
    # What Airflow gives a task: the merged params, and the run with its own partition key.
    return {"params": conf or {}, "dag_run": SimpleNamespace(partition_key=key)}


def test_the_runs_partition_key_selects_the_partition() -> None:
    plan = plan_dag_run(MANIFEST, ALL, None, context(key="2024-01-03"))
    assert (plan.partition_key, plan.source) == (
        "2024-01-03",
        "the run's partition_key",
    )
    assert plan.to_xcom()["assets"][-1] == {
        "id": "daily_orders",
        "partitionKeys": ["2024-01-03"],
        "steps": [["--partition", "2024-01-03"]],
    }


def test_conf_wins_over_the_runs_partition_key() -> None:
    plan = plan_dag_run(
        MANIFEST, ALL, None, context({"partition_key": "2024-01-04"}, key="2024-01-03")
    )
    assert (plan.partition_key, plan.source) == ("2024-01-04", "conf")


def test_an_unscheduled_dag_of_partitioned_assets_is_partitioned_at_run_time() -> None:
    dag = asset_dag(MANIFEST, "all", ALL)
    assert isinstance(dag.timetable, PartitionedAtRuntime)
    unpartitioned = asset_dag(MANIFEST, "orders", ["raw/orders"])
    assert not getattr(unpartitioned.timetable, "partitioned_at_runtime", False)
