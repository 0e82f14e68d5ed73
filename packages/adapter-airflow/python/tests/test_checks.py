"""Standalone checks on Airflow: a task each, where it sits in the DAG, and what a run plans for it."""

from __future__ import annotations

from typing import Any, cast

import pytest
from airflow.sdk import Asset, Context
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from conftest import DAILY, BuildFactory

from baton_airflow import build_dags
from baton_airflow.manifest import check_task_id
from baton_airflow.operators import (
    BatonCheckOperator,
    BatonRunOutcomeOperator,
    manifest_at,
)
from baton_airflow.runplan import plan_dag_run
from baton_core import Manifest, PlanError, StepResult
from baton_core.manifest_types import ManifestData
from baton_core.testing import asset, dep, manifest


def _check(
    name: str, severity: str = "error", deps: list[Any] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"{name} holds",
        "severity": severity,
        "standalone": True,
        "deps": deps or [],
    }


def checks_manifest() -> ManifestData:
    return manifest(
        asset("customers", group="sales"),
        asset(
            "orders",
            ["customers"],
            group="sales",
            checks=[
                {
                    "name": "has_rows",
                    "description": None,
                    "severity": "error",
                    "standalone": False,
                    "deps": [],
                },
                _check(
                    "orders_have_customers",
                    deps=[dep("customers", input_name="customers")],
                ),
                _check("few_refunds", "warn"),
            ],
        ),
        asset("audit", group="ops"),
        asset(
            "daily_orders",
            partitions=DAILY,
            checks=[
                _check(
                    "matches_audit",
                    deps=[dep("audit", input_name="audit")],
                )
            ],
        ),
    )


MANIFEST = Manifest("/out/baton/manifest.json", checks_manifest())
ALL = ["customers", "orders", "audit", "daily_orders"]


@pytest.fixture(autouse=True)
def fresh_manifest_cache() -> None:
    manifest_at.cache_clear()


def context(conf: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"params": conf or {}}


def test_a_standalone_check_is_a_task_after_its_asset_and_inputs(
    make_build: BuildFactory,
) -> None:
    dag = build_dags(make_build(data=checks_manifest()))["baton_assets"]
    check = dag.get_task("orders__orders_have_customers")
    assert isinstance(check, BatonCheckOperator)
    assert check.task_display_name == "check orders:orders_have_customers"
    assert check.upstream_task_ids == {"orders", "customers"}
    assert [i.uri for i in check.inlets if isinstance(i, Asset)] == [
        "x-baton://orders",
        "x-baton://customers",
    ]
    assert check.outlets == []
    # It blocks nothing: its only downstream is the run's outcome.
    assert check.downstream_task_ids == {"outcome"}
    assert (check.trigger_rule, check.retries) == ("none_failed", 0)
    assert check.task_group is not None and check.task_group.group_id == "sales"
    # An inline check has no task of its own; a check on a partitioned asset reads an
    # unpartitioned input that is in the DAG.
    assert "orders__has_rows" not in dag.task_ids
    inline = dag.get_task("inline_checks")
    assert isinstance(inline, BatonCheckOperator)
    assert inline.refs == ["orders:has_rows"]
    assert inline.upstream_task_ids == {"plan"}
    assert dag.get_task("daily_orders__matches_audit").upstream_task_ids == {
        "daily_orders",
        "audit",
    }
    outcome = dag.get_task("outcome")
    assert isinstance(outcome, BatonRunOutcomeOperator)
    assert set(outcome.check_tasks.values()) == {
        "orders:orders_have_customers",
        "orders:few_refunds",
        "daily_orders:matches_audit",
        "inline checks",
    }
    assert "checks" in dag.params
    assert "| Inputs | `customers` |" in (check.doc_md or "")


def test_check_task_ids_are_asset_and_check_sanitised() -> None:
    assert check_task_id("raw/orders", "no nulls") == "raw__orders__no_nulls"


def test_a_check_runs_with_its_asset_on_the_same_keys() -> None:
    plan = plan_dag_run(MANIFEST, ALL, None, context({"assets": ["orders"]}))
    assert list(plan.checks) == ["orders:orders_have_customers", "orders:few_refunds"]
    assert plan.skipped_checks["daily_orders:matches_audit"].startswith(
        "its asset daily_orders does not run"
    )
    ranged = plan_dag_run(
        MANIFEST,
        ALL,
        None,
        context(
            {"assets": ["daily_orders"], "partition_range": "2024-01-02...2024-01-03"}
        ),
    )
    entry = ranged.to_xcom()["checks"][0]
    assert entry["check"] == "daily_orders:matches_audit"
    assert entry["steps"] == [["--partition-range", "2024-01-02...2024-01-03"]]
    assert entry["partitionKeys"] == ["2024-01-02", "2024-01-03"]


def test_the_checks_param_runs_checks_alone_and_materializes_nothing() -> None:
    plan = plan_dag_run(
        MANIFEST,
        ALL,
        None,
        context(
            {"checks": ["daily_orders:matches_audit"], "partition_key": "2024-01-02"}
        ),
    )
    assert plan.checks_only and plan.run == []
    xcom = plan.to_xcom()
    assert xcom["assets"] == [] and xcom["checksOnly"] is True
    assert xcom["checks"] == [
        {
            "check": "daily_orders:matches_audit",
            "partitionKeys": ["2024-01-02"],
            "steps": [["--partition", "2024-01-02"]],
        }
    ]
    assert set(plan.skipped) == set(ALL)
    assert plan.skipped_checks == {
        "orders:orders_have_customers": "not selected by this run",
        "orders:few_refunds": "not selected by this run",
    }


def test_an_inline_check_alone_runs_in_the_inline_checks_task() -> None:
    plan = plan_dag_run(MANIFEST, ALL, None, context({"checks": ["orders:has_rows"]}))
    assert plan.checks_only and plan.run == []
    assert list(plan.checks) == ["orders:has_rows"]
    assert plan.to_xcom()["checks"][0]["steps"] == [[]]


def test_the_checks_param_refuses_what_it_cannot_run() -> None:
    with pytest.raises(PlanError, match="pick from: orders:has_rows"):
        plan_dag_run(MANIFEST, ALL, None, context({"checks": ["orders:nope"]}))
    with pytest.raises(PlanError, match="assets or checks, not both"):
        plan_dag_run(
            MANIFEST,
            ALL,
            None,
            context({"assets": ["orders"], "checks": ["orders:few_refunds"]}),
        )
    # A partitioned asset's check alone needs a key, as materializing it would.
    with pytest.raises(PlanError):
        plan_dag_run(
            MANIFEST, ALL, None, context({"checks": ["daily_orders:matches_audit"]})
        )


def test_a_dag_without_the_target_has_no_task_for_its_check(
    make_build: BuildFactory,
) -> None:
    from baton_airflow import asset_dag

    path = make_build(data=checks_manifest())
    dag = asset_dag(manifest_at(str(path)), "only_customers", ["customers"])
    assert not any(isinstance(t, BatonCheckOperator) for t in dag.tasks)
    assert "checks" not in dag.params


class _TI:
    """What a check task uses of its task instance: the plan's XCom in, its summary out."""

    def __init__(
        self, plan: dict[str, Any], states: dict[str, str] | None = None
    ) -> None:
        self.plan = plan
        self.pushed: dict[str, Any] = {}
        self.states = states or {}
        self.dag_id, self.run_id = "baton_assets", "r1"

    def xcom_pull(self, task_ids: str, key: str) -> Any:
        return (
            self.plan if key == "baton_plan" else self.pushed.get(f"{task_ids}:{key}")
        )

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def get_task_states(self, dag_id: str, run_ids: list[str]) -> dict[str, Any]:
        return {self.run_id: self.states}


def _step(*events: dict[str, Any], exit_code: int = 0) -> StepResult:
    end = {"type": "step_end", "status": "success" if exit_code == 0 else "failure"}
    return StepResult(
        exit_code, [{"type": "step_start", "assets": ["orders"]}, *events, end]
    )


def _verdict(check: str, passed: bool, severity: str) -> dict[str, Any]:
    return {
        "type": "check",
        "asset": "orders",
        "check": check,
        "partitionKey": None,
        "passed": passed,
        "severity": severity,
        "description": None,
        "metadata": {},
    }


def _run_check_task(
    make_build: BuildFactory, monkeypatch: pytest.MonkeyPatch, outcome: StepResult
) -> tuple[_TI, list[list[str]], BaseException | None]:
    dag = build_dags(make_build(data=checks_manifest()))["baton_assets"]
    task = dag.get_task("orders__orders_have_customers")
    assert isinstance(task, BatonCheckOperator)
    argv: list[list[str]] = []

    def run(self: Any, args: list[str], keys: Any) -> tuple[StepResult, list[str]]:
        argv.append(args)
        return outcome, []

    monkeypatch.setattr(BatonCheckOperator, "_run", run)
    plan = plan_dag_run(MANIFEST, ALL, None, context({"assets": ["orders"]})).to_xcom()
    ti = _TI(plan)
    try:
        task.execute(cast("Context", {"ti": ti, "run_id": "r1"}))
    except BaseException as e:  # noqa: BLE001
        return ti, argv, e
    return ti, argv, None


def test_a_failed_error_check_fails_its_task_without_a_retry(
    make_build: BuildFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    failure = {
        "type": "asset_failure",
        "asset": "orders",
        "partitionKey": None,
        "error": {
            "name": "BatonError",
            "code": "CHECK_FAILED",
            "message": 'asset check "orders_have_customers" failed',
        },
    }
    ti, argv, raised = _run_check_task(
        make_build,
        monkeypatch,
        _step(_verdict("orders_have_customers", False, "error"), failure, exit_code=3),
    )
    assert isinstance(raised, AirflowFailException)
    # baton-step check for the asset and just this check.
    assert "check" in argv[0]
    assert argv[0][-6:] == [
        "--asset",
        "orders",
        "--check",
        "orders_have_customers",
        "--run-id",
        "r1",
    ]
    summary = ti.pushed["baton"]
    assert summary["status"] == "failure"
    assert [(c["asset"], c["check"], c["passed"]) for c in summary["checks"]] == [
        ("orders", "orders_have_customers", False)
    ]


def test_a_failed_warn_check_passes_its_task_and_a_missing_input_is_retryable(
    make_build: BuildFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    ti, _, raised = _run_check_task(
        make_build, monkeypatch, _step(_verdict("orders_have_customers", False, "warn"))
    )
    assert raised is None and ti.pushed["baton"]["status"] == "success"
    missing = {
        "type": "asset_failure",
        "asset": "orders",
        "partitionKey": None,
        "error": {
            "name": "BatonError",
            "code": "MISSING_OUTPUT",
            "message": "no stored customers",
        },
    }
    _, _, raised = _run_check_task(make_build, monkeypatch, _step(missing, exit_code=1))
    assert type(raised) is AirflowException


def test_the_run_fails_when_only_a_check_task_failed(make_build: BuildFactory) -> None:
    dag = build_dags(make_build(data=checks_manifest()))["baton_assets"]
    outcome = dag.get_task("outcome")
    assert isinstance(outcome, BatonRunOutcomeOperator)
    ti = _TI(
        {},
        states={
            "plan": "success",
            "orders": "success",
            "customers": "success",
            "orders__orders_have_customers": "failed",
        },
    )
    with pytest.raises(AirflowFailException, match="1 check task"):
        outcome.execute(cast("Context", {"ti": ti}))
    ti.states["orders__orders_have_customers"] = "success"
    result = outcome.execute(cast("Context", {"ti": ti}))
    assert result["checksSucceeded"] == ["orders:orders_have_customers"]
