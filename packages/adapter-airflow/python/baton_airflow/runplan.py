"""What one DAG run materializes: Airflow's inputs to baton_core's planner.

The rules are baton_core.plan's (core's README, "What a run means"); this module only says where
a run's selection and partition come from in Airflow. Precedence: the run's params (the trigger
form or conf: ``assets``, ``partition_key``, ``partition_range`` "FIRST...LAST") > the run's own
Airflow ``partition_key`` > a schedule
DAG's tick (its data interval's end: the last complete window, or nothing after the partitions'
end) > nothing (unpartitioned assets run; partitioned ones are skipped with a reason).

Standalone checks (CHECKS-CONTRACT.md §3) run in a run that materializes their asset, for the
same partition keys. A run whose ``checks`` param names some (``"asset:check"``) runs only
those, against the stored outputs: every asset task is skipped, nothing is materialized;
chosen inline checks run in the DAG's ``inline_checks`` task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from baton_core import (
    Manifest,
    ManifestSchedule,
    PlanError,
    PlannedAsset,
    RunPlan,
    plan_run,
    schedule_tick_plan,
)

from .manifest import StandaloneCheck, asset_checks


@dataclass(frozen=True)
class AirflowRunPlan:
    """The run's plan (None when a schedule tick has nothing to run: ``skip_reason`` says why)."""

    plan: RunPlan | None
    partition_key: str | None = None
    partition_range: str | None = None
    # Where the key came from, for the log: "conf" or "data interval".
    source: str | None = None
    skip_reason: str | None = None
    # asset id -> why it does not run, for every asset of the DAG outside the plan
    skipped: dict[str, str] = field(default_factory=dict)
    # A run of chosen checks alone (the ``checks`` param): the plan holds their assets, for
    # the keys, and no asset runs.
    checks_only: bool = False
    # "asset:check" -> its asset's planned keys (the check step's), for the checks that run;
    # and why each other standalone check of the DAG does not.
    checks: dict[str, PlannedAsset] = field(default_factory=dict)
    skipped_checks: dict[str, str] = field(default_factory=dict)

    @property
    def run(self) -> list[str]:
        return self.plan.asset_ids if self.plan and not self.checks_only else []

    def to_xcom(self) -> dict[str, Any]:
        return {
            "assets": [
                {
                    "id": a.asset_id,
                    "partitionKeys": a.partition_keys,
                    "steps": a.step_args(),
                }
                for a in (self.plan.assets if self.plan else [])
                if not self.checks_only
            ],
            "checks": [
                {
                    "check": ref,
                    "partitionKeys": a.partition_keys,
                    "steps": a.step_args(),
                }
                for ref, a in self.checks.items()
            ],
            "checksOnly": self.checks_only,
            "skippedChecks": self.skipped_checks,
            "partitionKey": self.partition_key,
            "partitionRange": self.partition_range,
            "source": self.source,
            "skipReason": self.skip_reason,
            "skipped": self.skipped,
            "warnings": list(self.plan.warnings) if self.plan else [],
        }


def _setting(context: Mapping[str, Any], name: str) -> Any:
    # The DAG's params, with the run's conf over them (Airflow merges the two, and validates
    # them against the params' schema, before the task starts); scheduled runs get the
    # defaults, which mean "not set".
    value = (context.get("params") or {}).get(name)
    return value if value not in (None, "", []) else None


def _run_partition_key(context: Mapping[str, Any]) -> str | None:
    """Airflow's own partition key of the run (3.2+ ``DagRun.partition_key``): set when a
    partitioned DAG (``baton_assets`` is ``PartitionedAtRuntime``) is triggered with one from the
    UI or the REST API's ``partition_key``."""
    key = getattr(context.get("dag_run"), "partition_key", None)
    return key if isinstance(key, str) and key else None


def plan_dag_run(
    manifest: Manifest,
    dag_assets: list[str],
    schedule: ManifestSchedule | None,
    context: Mapping[str, Any],
    now: datetime | None = None,
) -> AirflowRunPlan:
    """Plan the run of a DAG over ``dag_assets``, its standalone checks included; raises
    PlanError (deterministic) when invalid."""
    every_check = asset_checks(manifest, dag_assets)
    dag_checks = [c for c in every_check if c.standalone]
    chosen = _chosen_checks(every_check, context)
    if chosen is None:
        planned = _plan_assets(manifest, dag_assets, schedule, context, now)
        return _with_checks(planned, dag_checks)
    # The checks' assets, planned for the run's keys as a materialization of them would be.
    targets = list(dict.fromkeys(c.asset_id for c in chosen))
    params = {**(context.get("params") or {}), "assets": targets, "checks": []}
    planned = _with_checks(
        _plan_assets(
            manifest, dag_assets, schedule, {**context, "params": params}, now
        ),
        chosen,
    )
    return replace(
        planned,
        checks_only=True,
        skipped={a: "checks only: this run materializes nothing" for a in dag_assets},
        skipped_checks={
            **planned.skipped_checks,
            **{
                c.ref: "not selected by this run" for c in dag_checks if c not in chosen
            },
        },
    )


def _chosen_checks(
    dag_checks: list[StandaloneCheck],
    context: Mapping[str, Any],
) -> list[StandaloneCheck] | None:
    """The checks the run's ``checks`` param names ("asset:check"), None when it names none."""
    requested = _setting(context, "checks")
    if requested is None:
        return None
    if isinstance(requested, str):
        requested = [requested]
    if _setting(context, "assets"):
        raise PlanError(
            "a run takes assets or checks, not both",
            "leave assets empty to run the checks alone, against the stored outputs",
            code="UNKNOWN_SELECTION",
        )
    by_ref = {c.ref: c for c in dag_checks}
    chosen: list[StandaloneCheck] = []
    for ref in requested:
        ref = str(ref)
        if ref in by_ref:
            chosen.append(by_ref[ref])
        else:
            raise PlanError(
                f"check {ref!r} is not a check of this DAG's assets",
                "pick from: "
                + (", ".join(by_ref) or "none (this DAG's assets have no checks)"),
                code="UNKNOWN_SELECTION",
            )
    return [c for c in dag_checks if c in chosen]


def _with_checks(
    planned: AirflowRunPlan, checks: list[StandaloneCheck]
) -> AirflowRunPlan:
    """Each standalone check runs with its asset, on the same partition keys; the others say why not."""
    run: dict[str, PlannedAsset] = {}
    skipped: dict[str, str] = {}
    for c in checks:
        target = planned.plan.get(c.asset_id) if planned.plan else None
        if target is not None:
            run[c.ref] = target
        elif planned.skip_reason is not None:
            skipped[c.ref] = planned.skip_reason
        else:
            reason = planned.skipped.get(c.asset_id)
            skipped[c.ref] = f"its asset {c.asset_id} does not run" + (
                f" ({reason})" if reason else ""
            )
    return replace(planned, checks=run, skipped_checks=skipped)


def _plan_assets(
    manifest: Manifest,
    dag_assets: list[str],
    schedule: ManifestSchedule | None,
    context: Mapping[str, Any],
    now: datetime | None = None,
) -> AirflowRunPlan:
    now = now or datetime.now(UTC)
    requested = _setting(context, "assets")
    if isinstance(requested, str):
        requested = [requested]
    if requested:
        unknown = sorted(set(requested) - set(dag_assets))
        if unknown:
            raise PlanError(
                f"assets {unknown} are not in this DAG",
                f"pick from: {', '.join(dag_assets)}",
                code="UNKNOWN_SELECTION",
            )
    key = _setting(context, "partition_key")
    text_range = _setting(context, "partition_range")
    key = str(key) if key is not None else None
    text_range = str(text_range) if text_range is not None else None
    source = "conf" if key is not None or text_range is not None else None
    if source is None and (run_key := _run_partition_key(context)) is not None:
        key, source = run_key, "the run's partition_key"
    whole = set(dag_assets) == set(manifest.assets)

    if schedule is not None and key is None and text_range is None:
        end = context.get("data_interval_end")
        if end is None:
            raise PlanError(
                "the run has no data interval, so the schedule's partition is unknown",
                "trigger it with partition_key (or partition_range FIRST...LAST)",
            )
        tick = schedule_tick_plan(manifest, schedule["name"], end)
        if tick.plan is None:
            return _done(dag_assets, None, skip_reason=tick.skip_reason)
        source = "data interval" if tick.partition_key is not None else None
        if not requested:
            return _done(
                dag_assets, tick.plan, partition_key=tick.partition_key, source=source
            )
        # Some of the schedule's assets, for the tick's partition.
        key = tick.partition_key
        plan = plan_run(
            manifest.data,
            [a for a in dag_assets if a in set(requested)],
            key,
            None,
            now,
        )
        return _done(
            dag_assets,
            plan,
            partition_key=key,
            source=source,
            requested=requested,
        )

    if requested:
        selection: list[str] | None = [a for a in dag_assets if a in set(requested)]
    elif key is None and text_range is None:
        # No selection and no key: "everything" (partitioned assets skip with a reason).
        selection = None
    else:
        selection = None if whole else list(dag_assets)
    plan = plan_run(manifest.data, selection, key, text_range, now)
    if selection is None and not whole:
        inside = set(dag_assets)
        plan = RunPlan(
            [a for a in plan.assets if a.asset_id in inside],
            [s for s in plan.skipped if s.asset_id in inside],
            list(plan.warnings),
        )
    return _done(
        dag_assets,
        plan,
        partition_key=key,
        partition_range=text_range,
        source=source,
        requested=requested,
    )


def _done(
    dag_assets: list[str],
    plan: RunPlan | None,
    *,
    skip_reason: str | None = None,
    requested: list[str] | None = None,
    **kwargs: Any,
) -> AirflowRunPlan:
    skipped: dict[str, str] = {}
    reasons = {s.asset_id: s.reason for s in plan.skipped} if plan else {}
    running = set(plan.asset_ids) if plan else set()
    for a in dag_assets:
        if a in running:
            continue
        if skip_reason is not None:
            skipped[a] = skip_reason
        elif a in reasons:
            skipped[a] = reasons[a]
        elif requested:
            skipped[a] = "not selected by this run"
    return AirflowRunPlan(plan, skip_reason=skip_reason, skipped=skipped, **kwargs)
