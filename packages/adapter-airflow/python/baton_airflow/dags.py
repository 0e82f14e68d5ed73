"""Build Airflow DAGs from a Baton manifest.

Default grouping (``build_dags``):
  * ``<prefix>_assets``: every asset, unscheduled, for manual runs, partition ranges and sensor runs;
  * ``<prefix>_schedule_<name>``: one DAG per Baton schedule over its selection, on a cron
    data-interval timetable in the schedule's timezone (described with it, see timetables.py);
  * ``<prefix>_sensor_<name>``: one DAG per Baton sensor that triggers ``<prefix>_assets``.
Call ``asset_dag`` / ``sensor_dag`` yourself to group differently.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import (
    DAG,
    Asset,
    AssetAlias,
    Param,
    PartitionedAtRuntime,
    TaskGroup,
    get_parsing_context,
)
from airflow.sdk.definitions.param import ParamsDict
from pendulum import DateTime

from baton_core import ManifestAsset, ManifestSchedule, ManifestSensor

from .docs import (
    asset_doc,
    asset_extra,
    assets_dag_doc,
    check_doc,
    schedule_dag_doc,
    sensor_dag_doc,
)
from .manifest import Manifest, airflow_id, asset_checks, asset_uri, standalone_checks
from .operators import (
    PLAN_TASK_ID,
    TIMEOUT_GRACE_SECONDS,
    BatonAssetOperator,
    BatonCheckOperator,
    BatonCommittedOperator,
    BatonPlanOperator,
    BatonRunOutcomeOperator,
    BatonSensorOperator,
    cursor_variable,
    manifest_at,
)
from .options import AirflowOptions, build_options, default_options
from .timetables import BatonCronTimetable

OUTCOME_TASK_ID = "outcome"
COMMITTED_TASK_ID = "committed"
INLINE_CHECKS_TASK_ID = "inline_checks"
_PICK_LIST_LIMIT = 50
# The sensor DAG: a failing evaluation is retried (doubling from minimumIntervalSeconds, at most
# this long apart), and after this many failed runs in a row the scheduler pauses the DAG.
SENSOR_RETRIES = 3
SENSOR_MAX_RETRY_DELAY = timedelta(minutes=10)
SENSOR_MAX_CONSECUTIVE_FAILED_RUNS = 3


def _asset(manifest: Manifest, asset_id: str) -> Asset:
    """One Asset object per Baton asset, shared by every task and DAG that names it."""
    cache: dict[str, Asset] = manifest.__dict__.setdefault("_airflow_assets", {})
    if asset_id not in cache:
        a = manifest.asset(asset_id)
        cache[asset_id] = Asset(
            name=asset_id,
            uri=asset_uri(asset_id),
            group=a["group"],
            extra=asset_extra(a),
        )
    return cache[asset_id]


def _params(
    asset_ids: list[str], partitioned: bool, checks: list[str]
) -> dict[str, Param]:
    # A pick list in the trigger form only for small DAGs: it is stored with the serialized DAG.
    pick: dict[str, Any] = (
        {"examples": asset_ids} if len(asset_ids) <= _PICK_LIST_LIMIT else {}
    )
    params = {
        "assets": Param(
            [],
            type="array",
            items={"type": "string"},
            description="Asset ids to materialize; empty runs every asset of this DAG.",
            **pick,
        )
    }
    if checks:
        check_pick: dict[str, Any] = (
            {"examples": checks} if len(checks) <= _PICK_LIST_LIMIT else {}
        )
        params["checks"] = Param(
            [],
            type="array",
            items={"type": "string"},
            description='Standalone checks to run alone ("asset:check"), against the stored outputs; nothing is materialized. Leave assets empty.',
            **check_pick,
        )
    if partitioned:
        params["partition_key"] = Param(
            None,
            type=["null", "string"],
            description="Partition to materialize; scheduled runs take it from their data interval.",
        )
        params["partition_range"] = Param(
            None,
            type=["null", "string"],
            description='Range of partitions, "FIRST...LAST", instead of one key (a backfill in one run).',
        )
    return params


class _LargeDAG(DAG):
    """A DAG whose hash is its id's.

    Airflow 3.3's ``DAG.__hash__`` hashes every task id (``_DAG_HASH_ATTRS`` includes
    ``task_ids``, airflow/sdk/definitions/dag.py), and every ``set_upstream`` hashes the DAG of
    each task it links (``_set_relatives``, airflow/sdk/definitions/_internal/node.py): wiring N
    tasks costs O(N²), past the 30 s import timeout at 20,000 assets. Equal DAGs (``__eq__``)
    have the same id, so this hash stays consistent with it.
    """

    def __hash__(self) -> int:
        return hash((DAG, self.dag_id))


def _check_ids(manifest: Manifest, asset_ids: list[str]) -> None:
    seen: dict[str, str] = {}
    names = [(airflow_id(a), f"asset {a!r}") for a in asset_ids] + [
        (c.task_id, f"check {c.ref!r}") for c in standalone_checks(manifest, asset_ids)
    ]
    for task_id, name in names:
        other = seen.setdefault(task_id, name)
        if other != name:
            raise ValueError(
                f"{other} and {name} both become Airflow task id {task_id!r}; rename one"
            )


def _start_date(schedule: ManifestSchedule | None) -> DateTime | None:
    """The first partition's start for time-partitioned schedules (so backfills can reach it)."""
    parts = schedule["partitions"] if schedule else None
    if parts and parts["type"] == "time":
        start = pendulum.parse(parts["start"], tz=parts["timezone"])
        assert isinstance(start, DateTime), f"partitions start {parts['start']!r}"
        return start
    return None


def _task_group(group: str, task_ids: set[str]) -> TaskGroup:
    """The TaskGroup of a Baton group. prefix_group_id=False keeps the task ids the asset ids
    whatever the grouping; a group id must differ from every task id in the DAG, so a group
    named like one of its assets gets a suffix."""
    group_id = airflow_id(group)
    if group_id in task_ids:
        group_id += "__group"
    return TaskGroup(
        group_id=group_id, prefix_group_id=False, tooltip=f"Baton group {group}"
    )


def execution_timeout(asset: ManifestAsset) -> timedelta | None:
    """Airflow's limit for one partition key of the asset (the task widens it to the keys it
    runs, see BatonAssetOperator.pre_execute); None without timeoutSeconds."""
    seconds = asset.get("timeoutSeconds")
    return timedelta(seconds=seconds + TIMEOUT_GRACE_SECONDS) if seconds else None


def asset_dag(
    manifest: Manifest,
    dag_id: str,
    asset_ids: list[str],
    *,
    schedule: ManifestSchedule | None = None,
    options: AirflowOptions | None = None,
    description: str | None = None,
    tags: list[str] | None = None,
    doc_md: str | None = None,
) -> DAG:
    """One DAG over ``asset_ids``: a planning task (``plan``), one task per asset wired like the
    asset graph, and two leaves: ``outcome``, whose state is the run's (it fails when any task
    failed), and ``committed``, which emits the asset events of outputs that failed tasks had
    committed. Each Baton group is a TaskGroup (task ids stay the asset ids)."""
    options = options or default_options()
    _check_ids(manifest, asset_ids)
    every_check = asset_checks(manifest, asset_ids)
    checks = [c for c in every_check if c.standalone]
    inline = [c for c in every_check if not c.standalone]
    in_dag = set(asset_ids)
    partitioned = any(manifest.asset(a)["partitions"] is not None for a in asset_ids)
    # An unscheduled DAG of partitioned assets is partitioned at run time: Airflow then accepts
    # the run-level partition_key of a trigger (UI, REST), which the planner takes (runplan.py).
    # Scheduled DAGs keep data intervals: CronPartitionTimetable keys a run by its previous cron
    # tick in the schedule's timezone, not Baton's "last complete window" in general (README).
    timetable: BatonCronTimetable | PartitionedAtRuntime | None = None
    if schedule:
        timetable = BatonCronTimetable(schedule["cron"], schedule["timezone"])
    elif partitioned:
        timetable = PartitionedAtRuntime()
    with _LargeDAG(
        dag_id=dag_id,
        schedule=timetable,
        start_date=_start_date(schedule),
        catchup=False,
        description=description,
        doc_md=doc_md or description,
        tags=tags or ["baton"],
        default_args={"owner": "baton"},
    ) as dag:
        path = str(manifest.path)
        plan = BatonPlanOperator(
            task_id=PLAN_TASK_ID,
            manifest_path=path,
            dag_assets=asset_ids,
            schedule=schedule,
            options=options,
        )
        groups: dict[str, TaskGroup] = {}
        task_ids = (
            {PLAN_TASK_ID, OUTCOME_TASK_ID, COMMITTED_TASK_ID, INLINE_CHECKS_TASK_ID}
            | {airflow_id(a) for a in asset_ids}
            | {c.task_id for c in checks}
        )
        tasks = {}
        for asset_id in asset_ids:
            a = manifest.asset(asset_id)
            if a["group"] not in groups:
                groups[a["group"]] = _task_group(a["group"], task_ids)
            retry = a["retry"] or {
                "maxRetries": 0,
                "delaySeconds": 0,
                "backoff": "constant",
            }
            tasks[asset_id] = BatonAssetOperator(
                task_id=airflow_id(asset_id),
                task_display_name=asset_id,
                manifest_path=path,
                asset_id=asset_id,
                dag_assets=asset_ids,
                schedule=schedule,
                options=options,
                outlets=[_asset(manifest, asset_id)],
                inlets=[_asset(manifest, d["id"]) for d in a["deps"]],
                retries=retry["maxRetries"],
                retry_delay=timedelta(seconds=retry["delaySeconds"]),
                # A multiplier in Airflow 3.3 (True would be 1.0: no backoff); 2.0 doubles.
                retry_exponential_backoff=2.0
                if retry["backoff"] == "exponential"
                else 0,
                # Assets the run does not select are skipped by the planner; their downstreams
                # still run (reading the stored output), but never after a failure.
                trigger_rule="none_failed",
                doc_md=asset_doc(a),
                owner=",".join(a["owners"]) or "baton",
                task_group=groups[a["group"]],
                execution_timeout=execution_timeout(a),
                # Airflow's pool of the same name (the build's airflow-pools.json creates it).
                pool=a.get("pool"),
            )
        roots = []
        for asset_id, task in tasks.items():
            upstream = [
                tasks[d["id"]]
                for d in manifest.asset(asset_id)["deps"]
                if d["id"] in in_dag
            ]
            if upstream:
                task.set_upstream(upstream)
            else:
                roots.append(task)
        # Every asset task is downstream of the planner through the roots; the planner may skip
        # any of them, and none starts before it has checked the run.
        plan >> roots
        # A standalone check: its own task after its asset's and its inputs' tasks in this DAG,
        # reading them (inlets), materializing nothing (no outlets). Upstream of no asset.
        check_tasks: dict[str, BatonCheckOperator] = {}
        for c in checks:
            a = manifest.asset(c.asset_id)
            check_tasks[c.ref] = check = BatonCheckOperator(
                task_id=c.task_id,
                task_display_name=f"check {c.ref}",
                manifest_path=path,
                checks=[(c.asset_id, c.name)],
                dag_assets=asset_ids,
                schedule=schedule,
                options=options,
                inlets=[
                    _asset(manifest, x) for x in dict.fromkeys((c.asset_id, *c.deps))
                ],
                # A failed check is deterministic; a missing input is fixed by materializing
                # it, not by waiting.
                retries=0,
                # Runs after skipped (unselected) inputs, which it reads from the store; never
                # after a failed one (upstream_failed: not run).
                trigger_rule="none_failed",
                doc_md=check_doc(c, a),
                owner=",".join(a["owners"]) or "baton",
                task_group=groups[a["group"]],
                # timeoutSeconds bounds each key's read and checks too (EXECUTION-CONTRACT §5).
                execution_timeout=execution_timeout(a),
                pool=a.get("pool"),
            )
            check.set_upstream(
                [tasks[x] for x in dict.fromkeys((c.asset_id, *c.deps)) if x in in_dag]
            )
        check_labels = {t.task_id: ref for ref, t in check_tasks.items()}
        if inline:
            # Inline checks run inside their asset's task; a run of chosen checks alone (the
            # ``checks`` param) runs them here instead, materializing nothing (an asset task
            # that succeeds emits its asset event). Skipped in every other run.
            inline_task = BatonCheckOperator(
                task_id=INLINE_CHECKS_TASK_ID,
                task_display_name="inline checks, run alone",
                manifest_path=path,
                checks=[(c.asset_id, c.name) for c in inline],
                dag_assets=asset_ids,
                schedule=schedule,
                options=options,
                inlets=[
                    _asset(manifest, a)
                    for a in dict.fromkeys(c.asset_id for c in inline)
                ],
                retries=0,
                doc_md=(
                    "Runs the inline checks a run names in its `checks` param"
                    ' (`["asset:check", ...]`) against the stored outputs, nothing'
                    " materialized; skipped in every other run (inline checks run inside"
                    " their asset's task).\n"
                ),
            )
            plan >> inline_task
            check_tasks[INLINE_CHECKS_TASK_ID] = inline_task
            check_labels[INLINE_CHECKS_TASK_ID] = "inline checks"
        # The leaves decide a DAG run's state, so the skipped, unselected assets must not be
        # among them: ``outcome`` fails the run when any task of the run failed, ``committed``
        # (which succeeds) records what failed tasks had committed.
        outcome = BatonRunOutcomeOperator(
            task_id=OUTCOME_TASK_ID,
            plan_task_id=PLAN_TASK_ID,
            asset_tasks={t.task_id: a for a, t in tasks.items()},
            check_tasks=check_labels,
            trigger_rule="all_done",
            retries=0,
        )
        [plan, *tasks.values(), *check_tasks.values()] >> outcome
        # Outputs that failed tasks committed still get their asset events (Airflow emits
        # those for successful tasks only).
        committed = BatonCommittedOperator(
            task_id=COMMITTED_TASK_ID,
            asset_tasks={t.task_id: a for a, t in tasks.items()},
            assets={a: _asset(manifest, a) for a in asset_ids},
            outlets=[AssetAlias(f"{dag_id}__committed")],
            trigger_rule="all_done",
            retries=0,
        )
        list(tasks.values()) >> committed
    # The trigger form's fields; every task reads the run's values from context["params"], which
    # Airflow builds from the DAG's params, the task's and the run's conf (process_params,
    # airflow/sdk/definitions/param.py). Given after the tasks: an operator created inside a DAG
    # copies the DAG's params into its own, and Airflow serializes (and schema-checks) each
    # task's copy, about 10 ms a task: 200 s for 20,000 assets, over the DAG processor's 50 s.
    dag.params = ParamsDict(
        _params(asset_ids, partitioned, [c.ref for c in every_check])
    )
    return dag


def sensor_dag(
    manifest: Manifest,
    dag_id: str,
    sensor: ManifestSensor,
    *,
    target_dag_id: str,
    options: AirflowOptions | None = None,
) -> DAG:
    """A continuous DAG whose sensor task (reschedule mode) pokes the Baton sensor every
    minimumIntervalSeconds and, once it asks for runs, triggers one target DAG run per request.

    A failing evaluation is retried with backoff, and the scheduler pauses the DAG after
    SENSOR_MAX_CONSECUTIVE_FAILED_RUNS failed runs in a row (without both, a continuous DAG
    starts a new run the moment the last one failed, forever)."""
    interval = timedelta(seconds=sensor["minimumIntervalSeconds"])
    with DAG(
        dag_id=dag_id,
        schedule="@continuous",
        max_active_runs=1,
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        description=sensor["description"],
        doc_md=sensor_dag_doc(sensor, target_dag_id, cursor_variable(sensor["name"])),
        tags=["baton", "sensor"],
        max_consecutive_failed_dag_runs=SENSOR_MAX_CONSECUTIVE_FAILED_RUNS,
        default_args={"owner": "baton"},
    ) as dag:
        evaluate = BatonSensorOperator(
            task_id="evaluate",
            manifest_path=str(manifest.path),
            sensor_name=sensor["name"],
            options=options or default_options(),
            mode="reschedule",
            poke_interval=interval,
            retries=SENSOR_RETRIES,
            retry_delay=interval,
            retry_exponential_backoff=2.0,
            max_retry_delay=max(interval, SENSOR_MAX_RETRY_DELAY),
            # A run that found nothing for a day ends quietly; the next one starts at once.
            timeout=timedelta(days=1),
            soft_fail=True,
        )
        TriggerDagRunOperator.partial(
            task_id="trigger",
            trigger_dag_id=target_dag_id,
            skip_when_already_exists=True,
            wait_for_completion=False,
        ).expand_kwargs(evaluate.output)
    return dag


def build_dags(manifest_path: str | Path) -> dict[str, DAG]:
    """Every DAG for a Baton build (its baton/manifest.json and baton/build.json), by DAG id."""
    manifest = manifest_at(str(Path(manifest_path).resolve()))
    options = build_options(manifest.path)
    prefix = options["dagIdPrefix"]
    # A worker running one task needs only that task's DAG (Airflow's parsing context says which).
    wanted = get_parsing_context().dag_id
    all_id = f"{prefix}_assets"
    dags: dict[str, DAG] = {}
    if wanted in (None, all_id):
        dags[all_id] = asset_dag(
            manifest,
            all_id,
            list(manifest.assets),
            options=options,
            description="Every Baton asset: trigger with params assets, partition_key, partition_range",
            doc_md=assets_dag_doc(
                len(manifest.assets),
                sorted({a["group"] for a in manifest.assets.values()}),
                any(a["partitions"] for a in manifest.assets.values()),
                len(standalone_checks(manifest, list(manifest.assets))),
                bool(asset_checks(manifest, list(manifest.assets))),
            ),
        )
    for s in manifest.schedules:
        dag_id = f"{prefix}_schedule_{airflow_id(s['name'])}"
        if wanted not in (None, dag_id):
            continue
        dags[dag_id] = asset_dag(
            manifest,
            dag_id,
            list(s["assets"]),
            schedule=s,
            options=options,
            description=s["description"] or f"Baton schedule {s['name']}",
            doc_md=schedule_dag_doc(s),
            tags=["baton", "schedule"],
        )
    for sensor in manifest.sensors:
        dag_id = f"{prefix}_sensor_{airflow_id(sensor['name'])}"
        if wanted not in (None, dag_id):
            continue
        dags[dag_id] = sensor_dag(
            manifest, dag_id, sensor, target_dag_id=all_id, options=options
        )
    return dags
