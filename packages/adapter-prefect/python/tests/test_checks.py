"""Checks on Prefect: which checks a checks flow runs, their tasks, and what a check step's
verdict does to its task (no server: the step's result is given, Prefect's logger and artifact
calls are recorded)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from prefect.cache_policies import NO_CACHE
from prefect.tasks import MaterializingTask

from baton_prefect import (
    BatonCheckFailed,
    BatonPartitionError,
    BatonProject,
    BatonSelectionError,
    BatonStepError,
)
from baton_prefect.checks import artifact_key, select_checks

from .conftest import Build, Recorded, fake_step

CHECKS = {
    "raw/orders": [
        {"name": "not_empty", "description": None, "severity": "error"},
        {
            "name": "orders_have_customers",
            "description": "every order's customer exists",
            "severity": "error",
            "standalone": True,
            "deps": [
                {
                    "id": "raw/customers",
                    "key": ["raw", "customers"],
                    "input": "customers",
                    "partitionMapping": None,
                }
            ],
        },
    ],
    "events": [
        {
            "name": "no_gaps",
            "description": None,
            "severity": "warn",
            "standalone": True,
            "deps": [],
        }
    ],
}


@pytest.fixture
def project(build: Build) -> BatonProject:
    manifest = build()
    data = json.loads(manifest.read_text())
    for spec in data["assets"]:
        spec["checks"] = CHECKS.get(spec["id"], [])
        if spec["id"] == "raw/orders":
            spec["timeoutSeconds"] = 5
    manifest.write_text(json.dumps(data))
    return BatonProject.from_build(manifest, flow_name="shop")


def test_a_checks_run_selects_checks_by_asset_and_name(project: BatonProject) -> None:
    every = {
        "raw/orders": ["not_empty", "orders_have_customers"],
        "events": ["no_gaps"],
    }
    assert select_checks(project.manifest, None) == every
    assert select_checks(project.manifest, []) == every
    assert select_checks(project.manifest, ["raw/orders:orders_have_customers"]) == {
        "raw/orders": ["orders_have_customers"]
    }
    # An asset alone means all of its checks.
    assert select_checks(project.manifest, ["events", "raw/orders:not_empty"]) == {
        "raw/orders": ["not_empty"],
        "events": ["no_gaps"],
    }


def test_unknown_checks_fail_naming_what_exists(project: BatonProject) -> None:
    with pytest.raises(
        BatonSelectionError, match=r'no check "nope"; its checks: not_empty'
    ):
        select_checks(project.manifest, ["raw/orders:nope"])
    with pytest.raises(BatonSelectionError, match='"raw/customers" has no checks'):
        select_checks(project.manifest, ["raw/customers"])
    with pytest.raises(BatonSelectionError, match='there is no asset "nope"'):
        select_checks(project.manifest, ["nope:x"])


def test_a_checks_run_plans_its_targets_partitions_as_a_materialize_run(
    project: BatonProject,
) -> None:
    plan, selected = project.plan_checks()
    assert list(selected) == ["raw/orders", "events"]
    assert plan.assets == ["raw/orders"]
    assert list(plan.skipped) == ["events"]  # partitioned, and no partition given
    plan, _ = project.plan_checks(["events"], None, "2024-01-02", "2024-01-03")
    assert plan.keys == {"events": ["2024-01-02", "2024-01-03"]}
    plan, _ = project.plan_checks(["events"], "2024-01-02")
    assert plan.assets == ["events"]
    assert plan.keys == {"events": ["2024-01-02"]}
    with pytest.raises(BatonPartitionError):
        project.plan_checks(["events"])  # naming a partitioned asset needs a partition
    plan, _ = project.plan_checks(["events:no_gaps", "raw/orders"], "2024-01-02")
    assert plan.assets == ["raw/orders", "events"]


def test_a_check_is_a_plain_task_named_for_its_asset_and_check(
    project: BatonProject,
) -> None:
    task = project.check_task("raw/orders", "orders_have_customers")
    assert not isinstance(task, MaterializingTask)  # it writes nothing: no asset event
    assert task.name == task.task_run_name == "check raw/orders:orders_have_customers"
    assert task.description == "every order's customer exists"
    assert task.retries == 0
    assert task.cache_policy is NO_CACHE
    assert task.timeout_seconds == 15  # the target's timeoutSeconds plus the grace
    assert "baton-check" in task.tags
    assert project.check_task("raw/orders", "orders_have_customers") is task
    assert artifact_key("raw/orders", "orders_have_customers") == (
        "raw-orders-orders-have-customers-check"
    )


def _check(name: str, passed: bool, severity: str = "error") -> dict[str, Any]:
    return {
        "type": "check",
        "asset": "raw/orders",
        "check": name,
        "passed": passed,
        "severity": severity,
        "partitionKey": None,
        "description": None,
        "metadata": {"unmatched": 0 if passed else 3},
    }


def test_a_passing_check_completes_its_task_and_keeps_its_verdict(
    project: BatonProject, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_step(monkeypatch, project, [_check("orders_have_customers", True)])
    result = project.run_check("raw/orders", "orders_have_customers")
    assert calls[0][:5] == [
        "check",
        "--asset",
        "raw/orders",
        "--check",
        "orders_have_customers",
    ]
    assert result["checks"][0]["passed"] is True
    (artifact,) = recorded.artifacts
    assert artifact["key"] == "raw-orders-orders-have-customers-check"
    assert artifact["table"][0] == {
        "asset": "raw/orders",
        "check": "orders_have_customers",
        "passed": True,
        "severity": "error",
        "partition_key": None,
        "description": None,
        "metadata": {"unmatched": 0},
    }
    assert (
        logging.INFO,
        "check orders_have_customers on raw/orders passed",
    ) in recorded.logs


def test_a_failed_error_check_fails_its_task_after_it_is_reported(
    project: BatonProject, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Core's check step also fails (CHECK_FAILED, exit 1): the verdict is the check's, not a retry.
    failure = {
        "type": "asset_failure",
        "asset": "raw/orders",
        "error": {"code": "CHECK_FAILED", "message": "check failed"},
    }
    fake_step(
        monkeypatch,
        project,
        [_check("orders_have_customers", False), failure],
        exit_code=1,
    )
    with pytest.raises(BatonCheckFailed, match="FAILED \\(severity error\\)") as e:
        project.run_check("raw/orders", "orders_have_customers")
    assert e.value.retryable is False
    assert recorded.artifacts[0]["table"][0]["passed"] is False
    assert (
        logging.ERROR,
        "check orders_have_customers on raw/orders FAILED (severity error)",
    ) in recorded.logs


def test_a_failed_warn_check_is_reported_and_its_task_completes(
    project: BatonProject, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_step(monkeypatch, project, [_check("no_gaps", False, "warn")])
    result = project.run_check("raw/orders", "no_gaps")
    assert result["checks"][0]["passed"] is False
    assert recorded.logs[-1][0] == logging.WARNING


def test_a_missing_output_fails_the_task_with_the_steps_message(
    project: BatonProject, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    failure = {
        "type": "asset_failure",
        "asset": "raw/orders",
        "error": {
            "name": "BatonError",
            "code": "MISSING_OUTPUT",
            "message": "no stored output to run its checks against",
        },
    }
    fake_step(monkeypatch, project, [failure], exit_code=1)
    with pytest.raises(BatonStepError, match="no stored output") as e:
        project.run_check("raw/orders", "orders_have_customers")
    assert not isinstance(e.value, BatonCheckFailed)
    assert recorded.artifacts == []


def test_a_check_step_passes_the_partition(
    project: BatonProject, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fake_step(monkeypatch, project, [_check("no_gaps", True, "warn")])
    project.run_check("events", "no_gaps", "2024-01-02")
    assert calls[0][-2:] == ["--partition", "2024-01-02"]


def test_definitions_without_checks_have_nothing_to_check(build: Build) -> None:
    manifest: Path = (
        build()
    )  # checks as a manifest before issue 14 has them: no new fields
    project = BatonProject.from_build(manifest, flow_name="shop")
    with pytest.raises(BatonSelectionError, match="no checks to run"):
        project.plan_checks()
