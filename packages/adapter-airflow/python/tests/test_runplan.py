"""Where a DAG run's selection and partition come from: conf, then a schedule's data interval."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import manifest_data

from baton_airflow.runplan import plan_dag_run
from baton_core import Manifest, PlanError

MANIFEST = Manifest("/out/baton/manifest.json", manifest_data())
ALL = ["raw/orders", "daily_orders"]


def context(conf: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    # What Airflow gives a task: context["params"], the DAG's params with the run's conf over them.
    return {"params": conf or {}, **extra}


def test_conf_selects_assets_and_a_partition() -> None:
    plan = plan_dag_run(
        MANIFEST,
        ALL,
        None,
        context({"assets": ["daily_orders"], "partition_key": "2024-01-03"}),
    )
    assert plan.run == ["daily_orders"]
    assert (plan.partition_key, plan.source) == ("2024-01-03", "conf")
    assert plan.skipped == {"raw/orders": "not selected by this run"}
    assert plan.to_xcom()["assets"][0]["steps"] == [["--partition", "2024-01-03"]]


def test_without_a_key_partitioned_assets_are_skipped_with_a_reason() -> None:
    plan = plan_dag_run(MANIFEST, ALL, None, context())
    assert plan.run == ["raw/orders"]
    assert "daily_orders" in plan.skipped


def test_a_schedule_takes_the_last_complete_window_at_the_data_interval_end() -> None:
    schedule = MANIFEST.schedule("nightly")
    end = datetime(2024, 1, 5, 1, 30, tzinfo=UTC)
    plan = plan_dag_run(
        MANIFEST, ["daily_orders"], schedule, context(data_interval_end=end)
    )
    assert (plan.run, plan.partition_key, plan.source) == (
        ["daily_orders"],
        "2024-01-04",
        "data interval",
    )


def test_unknown_assets_and_bad_keys_fail_the_plan() -> None:
    with pytest.raises(PlanError, match="not in this DAG"):
        plan_dag_run(MANIFEST, ["raw/orders"], None, context({"assets": ["nope"]}))
    with pytest.raises(PlanError):
        plan_dag_run(
            MANIFEST,
            ALL,
            None,
            context({"assets": ["daily_orders"], "partition_key": "yesterday"}),
        )
