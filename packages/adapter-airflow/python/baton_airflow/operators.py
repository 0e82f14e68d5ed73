"""Airflow operators that run Baton steps: the run planner, one task per asset, and the sensor.

Each operator holds only small, deterministic values (ids, paths, dicts from the manifest), so
the serialized DAG is the same on every parse; the manifest is read (once per process) when
the task runs or the DAG file is parsed, never Node.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, NoReturn, cast

from airflow.sdk import (
    Asset,
    BaseOperator,
    BaseSensorOperator,
    Context,
    PokeReturnValue,
    SkipMixin,
    Variable,
)
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    AirflowTaskTimeout,
)
from airflow.sdk.log import mask_secret

from baton_core import (
    Manifest,
    ManifestSchedule,
    PartitionError,
    PlanError,
    StepResult,
    Verdict,
    redactor,
    run_step,
    secret_values,
)
from baton_core.worker import StepProcess, WorkerProcess

from .manifest import airflow_id, asset_uri, load_manifest
from .options import AirflowOptions
from .resources import ResourceConfigError, resource_environment
from .runplan import AirflowRunPlan, plan_dag_run
from .step import child_environment
from .storage import StorageConnectionError, storage_environment, storage_secrets
from .tables import event_table, table_extra, where_stored

PLAN_TASK_ID = "plan"
PLAN_XCOM = "baton_plan"

_LEVELS = {"debug": "debug", "info": "info", "warning": "warning", "error": "error"}
_MAX_XCOM_MATERIALIZATIONS = 100
# Airflow's execution_timeout is the backstop behind core's own timeoutSeconds (contract §1):
# core fails the attempt at the deadline, its watchdog kills a blocked Node 5 s later, and
# Airflow's timeout fires only after that, so core's clearer message normally wins.
TIMEOUT_GRACE_SECONDS = 10


@cache
def manifest_at(path: str) -> Manifest:
    return load_manifest(path)


class _BatonOperatorMixin(BaseOperator):
    """Shared plumbing: options, environment and the Node child's output in the task log."""

    manifest_path: str
    options: AirflowOptions
    _cancel: threading.Event | None = None

    @property
    def manifest(self) -> Manifest:
        return manifest_at(self.manifest_path)

    def _environment(self, resource_keys: Iterable[str]) -> dict[str, str]:
        extra: dict[str, str] = {}
        # A BATON_STORAGE set on the worker wins over the storage chosen at build time.
        storage = self.options.get("storage")
        if storage and "BATON_STORAGE" not in os.environ:
            extra["BATON_STORAGE"] = storage
        connection = self.options.get("storageConnection")
        try:
            if connection:
                # The build's connection is explicit: it wins over the worker's AWS variables.
                extra.update(storage_environment(connection))
            extra.update(
                resource_environment(
                    self.manifest, resource_keys, self.options.get("resources") or {}
                )
            )
        except (ResourceConfigError, StorageConnectionError) as e:
            raise AirflowFailException(str(e)) from e
        return child_environment(extra)

    def _run(
        self, argv: list[str], resource_keys: Iterable[str]
    ) -> tuple[StepResult, list[str]]:
        """Run one Node step with the resources' environment; every secret value is masked in
        Airflow's logs and redacted from what the step prints and reports. The environment
        (it may hold secrets) stays in this frame, out of the task's."""
        if self._cancel is None:
            self._cancel = threading.Event()
        keys = list(resource_keys)
        env = self._environment(keys)
        # The store's credentials are secrets too, wherever they came from.
        secrets = sorted(
            {*secret_values(self.manifest, keys, env), *storage_secrets(env)},
            key=lambda v: (-len(v), v),
        )
        for value in secrets:
            mask_secret(value)
        outcome = run_step(
            argv,
            env,
            self._log_event,
            self._output,
            cwd=self.manifest.folder,
            secrets=secrets,
            # SIGTERM or SIGINT to the task runner (Airflow's supervisor sends SIGINT, then
            # SIGTERM, to stop a task) while the step runs: Node gets SIGTERM, the step is
            # cancelled. on_kill (a timeout, another thread) sets ``cancel`` to the same end.
            forward_signals=True,
            cancel=self._cancel,
            on_start=self._step_started,
        )
        return outcome, secrets

    def _step_started(self, proc: StepProcess) -> None:
        """Which Node process runs the step, once per step: a warm worker's pid (reused, or started
        for this step) says what to look at, or kill, when a step misbehaves."""
        if isinstance(proc, WorkerProcess):
            how = "warm" if proc.warm else "started"
            self.log.info("baton worker pid %d (%s)", proc.pid, how)
        else:
            self.log.info("baton step pid %d (its own process)", proc.pid)

    def on_kill(self) -> None:
        """Airflow is stopping this task: stop its Node step (SIGTERM, then SIGKILL after a
        grace period) so that nothing commits after the cancellation."""
        cancel = self._cancel
        if cancel is not None:
            self.log.warning("stopping the Node step of task %s", self.task_id)
            cancel.set()

    def _output(self, stream: str, line: str) -> None:
        if stream == "stdout":
            self.log.info("%s", line)
        else:
            self.log.warning("%s", line)

    def _log_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "log":
            getattr(self.log, _LEVELS.get(str(event.get("level")), "info"))(
                "%s", event.get("message", "")
            )
        elif kind == "check":
            where = f" [{event['partitionKey']}]" if event.get("partitionKey") else ""
            verdict = (
                "passed"
                if event["passed"]
                else f"FAILED (severity {event['severity']})"
            )
            text = f"check {event['asset']}:{event['check']}{where} {verdict}"
            if event.get("description"):
                text += f" — {event['description']}"
            if event["passed"]:
                self.log.info("%s", text)
            elif event["severity"] == "warn":
                self.log.warning("%s", text)
            else:
                self.log.error("%s", text)
        elif kind == "materialization":
            meta = event["metadata"]
            where = f" [{event['partitionKey']}]" if event.get("partitionKey") else ""
            if _side_effect(self.manifest, event["asset"]):
                # output "none": the asset ran for its effect, and nothing is stored.
                self.log.info(
                    "ran %s%s (a side effect: no stored output)", event["asset"], where
                )
                return
            self.log.info(
                "materialized %s%s: %s rows, hash %s, %s",
                event["asset"],
                where,
                meta.get("rowCount"),
                meta.get("contentHash"),
                where_stored(meta),
            )
        elif kind == "asset_failure":
            error = event["error"]
            # A JavaScript stack starts with "Name: message"; without one, say it.
            details = error.get("stack") or f"{error['name']}: {error['message']}"
            self.log.error("%s failed: %s", event["asset"] or "the step", details)
        elif kind == "step_end" and event.get("error"):
            error = event["error"]
            details = error.get("stack") or f"{error['name']}: {error['message']}"
            self.log.error("the step failed: %s", details)
        elif kind == "asset_skipped":
            self.log.info("%s skipped: %s", event["asset"], event["reason"])


class _BatonRunOperator(_BatonOperatorMixin, BaseOperator):
    """A task of an asset DAG: it knows the DAG's assets and schedule, and plans the run."""

    def __init__(
        self,
        *,
        manifest_path: str,
        dag_assets: list[str],
        schedule: ManifestSchedule | None,
        options: AirflowOptions,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.manifest_path = manifest_path
        self.dag_assets = dag_assets
        self.schedule = schedule
        self.options = options

    def _plan(self, context: Context) -> AirflowRunPlan:
        """The run's selection and partitions, checked (baton_core's planner)."""
        try:
            return plan_dag_run(self.manifest, self.dag_assets, self.schedule, context)
        except (PlanError, PartitionError, ValueError) as e:
            # A plan that cannot be made is deterministic: no retry helps.
            raise AirflowFailException(str(e)) from e


class _BatonStepOperator(_BatonRunOperator):
    """A task that runs Node steps for one asset's keys (an asset's task, a check's task)."""

    def pre_execute(self, context: Context) -> None:
        """Widen Airflow's execution_timeout to the keys this attempt runs: timeoutSeconds bounds
        one partition key (contract §1), and a range runs many in one task. Airflow applies the
        limit after this hook (airflow/sdk/execution_time/task_runner.py, _execute_task and
        _run_execute_callable)."""
        self._reset_steps()
        if not self.asset_id:
            return  # the inline checks' task: several assets, no one limit
        seconds = self.manifest.asset(self.asset_id).get("timeoutSeconds")
        if seconds:
            _, keys = self._steps(context)
            self.execution_timeout = timedelta(
                seconds=seconds * keys + TIMEOUT_GRACE_SECONDS
            )

    asset_id: str

    def _steps(self, context: Context) -> tuple[list[list[str]], int]:
        """The step's partition arguments and how many keys they run (see the subclasses)."""
        raise NotImplementedError

    def _reset_steps(self) -> None:
        """Forget the steps read for the last attempt."""


class BatonPlanOperator(_BatonRunOperator, SkipMixin):
    """First task of every asset DAG: plans the run once (baton_core's planner) before any
    Node step starts, pushes the plan to XCom for the asset tasks, and marks the assets the run
    does not materialize as skipped (exactly those: a branch operator would also follow the
    selection's downstream tasks)."""

    ui_color = "#e8f0fe"

    def execute(self, context: Context) -> None:
        try:
            plan = self._plan(context)
        except AirflowFailException as e:
            # Nothing has started: the run fails here, before any Node step (no retry helps).
            context["ti"].xcom_push(key=PLAN_XCOM, value={"error": str(e)})
            raise
        if plan.skip_reason:
            self.log.info("nothing to run: %s", plan.skip_reason)
        elif plan.partition_range:
            self.log.info(
                "partition range %s (from %s)", plan.partition_range, plan.source
            )
        elif plan.partition_key is not None:
            self.log.info("partition key %s (from %s)", plan.partition_key, plan.source)
        for warning in plan.plan.warnings if plan.plan else []:
            self.log.warning("%s", warning)
        for asset_id, reason in plan.skipped.items():
            self.log.info("skipping %s: %s", asset_id, reason)
        for ref, reason in plan.skipped_checks.items():
            self.log.info("skipping check %s: %s", ref, reason)
        if plan.checks_only:
            self.log.info("checks only: %s", ", ".join(plan.checks) or "none")
        context["ti"].xcom_push(key=PLAN_XCOM, value=plan.to_xcom())
        chosen = {airflow_id(a) for a in plan.run}
        checks = set(plan.checks)
        # Raises Airflow's "skip downstream" signal, so it comes last. Only asset and check
        # tasks: the run's outcome task always runs.
        self.skip(
            context["ti"],
            [
                t
                for t in self.dag.tasks
                if (isinstance(t, BatonAssetOperator) and t.task_id not in chosen)
                or (
                    isinstance(t, BatonCheckOperator)
                    and not any(r in checks for r in t.refs)
                )
            ],
        )


class BatonAssetOperator(_BatonStepOperator):
    """Materializes one Baton asset by running core's step runtime in a Node child process.

    The task succeeds only on the step's verdict (``step_end`` and a result for the asset and
    every partition key); its outlet then gets one asset event per materialized partition. A
    step that skipped the asset on purpose skips the task (no asset event). Deterministic
    failures (exit 3, no Node) raise AirflowFailException, transient ones AirflowException (the
    retries apply). When the task is stopped while a step runs (SIGTERM or SIGINT to the task
    runner, or Airflow's ``on_kill``), the Node step gets SIGTERM, commits nothing after that,
    and the task fails without a retry.
    """

    ui_color = "#fff4e0"
    _planned: tuple[list[list[str]], int] | None = None

    def __init__(self, *, asset_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.asset_id = asset_id

    def _steps(self, context: Context) -> tuple[list[list[str]], int]:
        """This asset's baton-step partition arguments and how many partition keys they run,
        from the plan task's XCom (planned once per run); planned here when there is none (a
        task run on its own). Read once per task attempt."""
        if self._planned is not None:
            return self._planned
        pushed = context["ti"].xcom_pull(task_ids=PLAN_TASK_ID, key=PLAN_XCOM)
        assets = (pushed or {}).get("assets")
        steps: list[list[str]] | None
        if assets is None:
            plan = self._plan(context).plan
            planned = plan.get(self.asset_id) if plan else None
            steps = planned.step_args() if planned else None
            keys = len(planned.partition_keys or []) if planned else 0
        else:
            entry = next((a for a in assets if a["id"] == self.asset_id), None)
            steps = cast("list[list[str]]", entry["steps"]) if entry else None
            keys = len(entry.get("partitionKeys") or []) if entry else 0
        if steps is None:
            raise AirflowSkipException(f"{self.asset_id} is not part of this run")
        self._planned = (steps, max(keys, 1))
        return self._planned

    def _reset_steps(self) -> None:
        self._planned = None

    def _run_partition(
        self, context: Context, partition_args: list[str]
    ) -> tuple[StepResult, list[str]]:
        args = [
            "--asset",
            self.asset_id,
            *partition_args,
            "--run-id",
            context["run_id"],
            "--retry",
            str(max(context["ti"].try_number - 1, 0)),
        ]
        return self._run(
            self.manifest.step_command("run", args),
            self.manifest.asset(self.asset_id)["resources"],
        )

    def execute(self, context: Context) -> None:
        ti = context["ti"]
        self._cancel = threading.Event()
        outcomes: list[StepResult] = []
        judged = Verdict(ok=True, retryable=False, message="", missing=[])
        secrets: list[str] = []
        steps, _ = self._steps(context)
        self._planned = None
        try:
            for partition_args in steps:
                outcome, secrets = self._run_partition(context, partition_args)
                outcomes.append(outcome)
                judged = outcome.verdict([self.asset_id])
                if not judged.ok:
                    break
        except AirflowTaskTimeout:
            # The summary says so, as the task log does.
            judged = _timed_out(self.execution_timeout, self.asset_id)
            ti.xcom_push(key="baton", value=self._summary(outcomes, judged, secrets))
            raise
        summary = self._summary(outcomes, judged, secrets)
        ti.xcom_push(key="baton", value=summary)
        if not judged.ok:
            _fail_task(judged, secrets)
        keys = [m["partitionKey"] for m in _events(outcomes, "materialization")]
        if not keys:
            reasons = [e["reason"] for e in _events(outcomes, "asset_skipped")]
            # No materialization: no asset event (a succeeded task would emit one).
            raise AirflowSkipException(
                f"{self.asset_id}: skipped: {'; '.join(reasons) or 'nothing materialized'}"
            )
        self._annotate_outlets(
            context, summary, keys, _events(outcomes, "materialization"), secrets
        )

    def _summary(
        self, outcomes: list[StepResult], judged: Verdict, secrets: list[str]
    ) -> dict[str, Any]:
        """Small metadata for XCom: never data; every known secret redacted."""
        mats = _events(outcomes, "materialization")
        failures = _events(outcomes, "asset_failure")
        ends = [o.step_end for o in outcomes if o.step_end]
        step_error = next((e["error"] for e in ends if e.get("error")), None)
        error = failures[0]["error"] if failures else step_error
        last_schema = mats[-1]["metadata"].get("schema") if mats else None
        summary = {
            "asset": self.asset_id,
            "status": "success" if judged.ok else "failure",
            "retryable": None if judged.ok else judged.retryable,
            "cancelled": bool(getattr(judged, "cancelled", False)),
            "missing": list(judged.missing),
            "materializations": [
                {
                    "partitionKey": m["partitionKey"],
                    "dataVersion": m["dataVersion"],
                    "rowCount": m["metadata"].get("rowCount"),
                    "contentHash": m["metadata"].get("contentHash"),
                    "path": m["metadata"].get("path"),
                    "format": m["metadata"].get("format"),
                    # An Iceberg output: the table and the snapshot its record pins (else absent).
                    **(
                        {"table": table}
                        if (table := event_table(m["metadata"]))
                        else {}
                    ),
                    # The asset's own metadata and what compute returned with withMetadata (redacted by core).
                    "metadata": m["metadata"].get("user"),
                }
                for m in mats[:_MAX_XCOM_MATERIALIZATIONS]
            ],
            "materializationCount": len(mats),
            "schema": last_schema,
            "checks": [_check_record(c) for c in _events(outcomes, "check")],
            "skipped": [e["reason"] for e in _events(outcomes, "asset_skipped")],
            # The task's failure as the verdict reports it (the first, in the order the step
            # ran); ``name`` is the JavaScript error's when there is one.
            "error": None
            if judged.ok
            else {
                "name": (error or {}).get("name") or "BatonStepError",
                "message": judged.message,
            },
        }
        return cast("dict[str, Any]", _redact_json(summary, redactor(secrets)))

    def _annotate_outlets(
        self,
        context: Context,
        summary: dict[str, Any],
        keys: list[str | None],
        mats: list[dict[str, Any]],
        secrets: list[str],
    ) -> None:
        outlet_events = context.get("outlet_events")
        if outlet_events is None or not self.outlets:
            return
        last = summary["materializations"][-1] if summary["materializations"] else {}
        event = outlet_events[self.outlets[0]]
        extra: dict[str, Any] = {"baton_asset": self.asset_id}
        if not _side_effect(self.manifest, self.asset_id):
            extra["row_count"] = last.get("rowCount")
            extra["content_hash"] = last.get("contentHash")
        if last.get("metadata"):
            extra["metadata"] = last["metadata"]
        # From the events, not the summary: it keeps at most 100 materializations. Redacted
        # like the summary, since Airflow stores the extra in its asset event record.
        extra.update(
            _redact_json(
                table_extra(
                    (m["partitionKey"], event_table(m["metadata"])) for m in mats
                ),
                redactor(secrets),
            )
        )
        event.extra = extra
        partitions = sorted({k for k in keys if k is not None})
        if partitions:
            # One asset event per materialized partition (Airflow 3.2+ partitioned events).
            event.add_partitions(partitions)


class BatonCheckOperator(_BatonStepOperator):
    """Runs checks with ``baton-step check`` against stored outputs (CHECKS-CONTRACT.md §3), for
    the keys their asset runs in this DAG run (from the plan's XCom; planned here when there is
    none, a task run on its own).

    Two kinds of task: one per standalone check (its asset's and inputs' tasks upstream), which
    runs whenever its asset is materialized, and one ``inline_checks`` task per DAG holding inline
    checks, which runs only in a run of chosen checks alone (the ``checks`` param). Both have
    inlets and no outlets: they materialize nothing, so Airflow records no asset event for them.
    Each verdict is in the task log and the XCom summary ``baton`` (as for an asset task's checks);
    a failed error-severity check fails the task without a retry (core's ``CHECK_FAILED``), a failed
    warn-severity one is a warning; a missing stored output fails it too (``MISSING_OUTPUT``).
    Clearing a check task instance (the UI's Clear, or ``POST /api/v2/dags/{dag_id}/clearTaskInstances``
    without downstream) runs its checks again on what is stored now.
    """

    ui_color = "#e8f5e9"
    _planned_checks: list[tuple[str, str, list[list[str]], int]] | None = None

    def __init__(self, *, checks: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # (asset id, check name) pairs this task can run; one for a standalone check's task.
        self.checks = [list(c) for c in checks]
        self.asset_id = checks[0][0] if len(checks) == 1 else ""

    @property
    def refs(self) -> list[str]:
        """How the run's plan (and ``checks`` param) names them: ``asset:check``."""
        return [f"{a}:{c}" for a, c in self.checks]

    def _reset_steps(self) -> None:
        self._planned_checks = None

    def _chosen(self, context: Context) -> list[tuple[str, str, list[list[str]], int]]:
        """(asset, check, step partition arguments, key count) of this task's checks in the run."""
        if self._planned_checks is not None:
            return self._planned_checks
        pushed = context["ti"].xcom_pull(task_ids=PLAN_TASK_ID, key=PLAN_XCOM)
        if pushed is None or "checks" not in pushed:
            plan = self._plan(context)
            planned = {
                ref: (a.step_args(), len(a.partition_keys or []))
                for ref, a in plan.checks.items()
            }
        else:
            planned = {
                c["check"]: (
                    cast("list[list[str]]", c["steps"]),
                    len(c.get("partitionKeys") or []),
                )
                for c in pushed["checks"]
            }
        chosen = [
            (a, c, *planned[f"{a}:{c}"])
            for a, c in self.checks
            if f"{a}:{c}" in planned
        ]
        if not chosen:
            raise AirflowSkipException(
                f"check {', '.join(self.refs)} is not part of this run"
            )
        self._planned_checks = chosen
        return chosen

    def _steps(self, context: Context) -> tuple[list[list[str]], int]:
        chosen = self._chosen(context)
        return chosen[0][2], max(max(c[3] for c in chosen), 1)

    def execute(self, context: Context) -> None:
        ti = context["ti"]
        self._cancel = threading.Event()
        outcomes: list[StepResult] = []
        judged = Verdict(ok=True, retryable=False, message="", missing=[])
        secrets: list[str] = []
        chosen = self._chosen(context)
        self._reset_steps()
        # One step per asset and partition argument set, with every chosen check of that asset.
        by_asset: dict[str, tuple[list[list[str]], list[str]]] = {}
        for asset_id, name, steps, _ in chosen:
            by_asset.setdefault(asset_id, (steps, []))[1].append(name)
        try:
            for asset_id, (steps, names) in by_asset.items():
                for partition_args in steps:
                    args = ["--asset", asset_id]
                    for name in names:
                        args += ["--check", name]
                    args += [*partition_args, "--run-id", context["run_id"]]
                    outcome, secrets = self._run(
                        self.manifest.step_command("check", args),
                        self.manifest.asset(asset_id)["resources"],
                    )
                    outcomes.append(outcome)
                    # Nothing is materialized: success is exit 0 and step_end success.
                    step = outcome.verdict([])
                    if not step.ok and judged.ok:
                        judged = step
                    # After a failed check the other keys and assets are still checked (all
                    # verdicts are reported); any other failure ends the task.
                    if not step.ok and not _check_failed(outcome):
                        raise _StopChecks
        except _StopChecks:
            pass
        except AirflowTaskTimeout:
            judged = _timed_out(self.execution_timeout, f"check {', '.join(self.refs)}")
            ti.xcom_push(key="baton", value=self._summary(outcomes, judged, secrets))
            raise
        summary = self._summary(outcomes, judged, secrets)
        ti.xcom_push(key="baton", value=summary)
        if not judged.ok:
            _fail_task(judged, secrets)

    def _summary(
        self, outcomes: list[StepResult], judged: Verdict, secrets: list[str]
    ) -> dict[str, Any]:
        """The check task's XCom: its verdicts (one per check and key), never data; secrets redacted."""
        failures = _events(outcomes, "asset_failure")
        summary = {
            "status": "success" if judged.ok else "failure",
            "retryable": None if judged.ok else judged.retryable,
            "cancelled": bool(getattr(judged, "cancelled", False)),
            "checks": [
                {"asset": c.get("asset"), **_check_record(c)}
                for c in _events(outcomes, "check")
            ],
            "error": None
            if judged.ok
            else {
                "name": (failures[0]["error"] if failures else {}).get("name")
                or "BatonStepError",
                "message": judged.message,
            },
        }
        return cast("dict[str, Any]", _redact_json(summary, redactor(secrets)))


class _StopChecks(Exception):
    """A check step failed for another reason than a failed check: no further steps."""


def _check_failed(outcome: StepResult) -> bool:
    """The step failed because a check of error severity failed (core's CHECK_FAILED)."""
    return any(
        (e.get("error") or {}).get("code") == "CHECK_FAILED"
        for e in outcome.of_type("asset_failure")
    )


def _check_record(event: dict[str, Any]) -> dict[str, Any]:
    return {
        k: event.get(k)
        for k in (
            "check",
            "partitionKey",
            "passed",
            "severity",
            "description",
            "metadata",
        )
    }


def _side_effect(manifest: Manifest, asset_id: Any) -> bool:
    return asset_id in manifest.assets and manifest.asset(asset_id)["output"] == "none"


def _events(outcomes: list[StepResult], kind: str) -> list[dict[str, Any]]:
    return [e for o in outcomes for e in o.of_type(kind)]


def _run_states(ti: Any) -> dict[str, str]:
    """The state of every task of this task instance's DAG run, by task id."""
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id])
    return cast("dict[str, str]", states.get(ti.run_id, {}))


def _redact_json(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_json(v, redact) for v in value]
    if isinstance(value, dict):
        return {k: _redact_json(v, redact) for k, v in value.items()}
    return value


class BatonRunOutcomeOperator(BaseOperator):
    """Last task of every asset DAG, and its only leaf, so the DAG run's state is this task's.

    It runs once every other task is done (trigger rule ``all_done``) and fails when any task of
    the run failed: the assets the planner skipped must not make a run with a failed asset look
    successful. Its message names the first failure in the DAG's order.
    """

    ui_color = "#f3e8fd"

    def __init__(
        self,
        *,
        plan_task_id: str,
        asset_tasks: dict[str, str],
        check_tasks: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.plan_task_id = plan_task_id
        # task id -> asset id, in the DAG's (topological) order
        self.asset_tasks = asset_tasks
        # task id -> "asset:check" of each standalone check's task
        self.check_tasks = check_tasks or {}

    def execute(self, context: Context) -> dict[str, list[str]]:
        ti = context["ti"]
        states = _run_states(ti)
        if states.get(self.plan_task_id) in _FAILED:
            plan = ti.xcom_pull(task_ids=self.plan_task_id, key=PLAN_XCOM) or {}
            raise AirflowFailException(
                f"the run failed before any asset ran: {plan.get('error') or 'the plan task failed'}"
            )
        failed: list[tuple[str, str]] = []
        not_run: list[str] = []
        done: list[str] = []
        for task_id, asset_id in self.asset_tasks.items():
            state = states.get(task_id)
            if state == "failed":
                failed.append((task_id, asset_id))
            elif state == "upstream_failed":
                not_run.append(asset_id)
            elif state == "success":
                done.append(asset_id)
        checked = [c for t, c in self.check_tasks.items() if states.get(t) == "success"]
        failed_checks = [
            (t, c) for t, c in self.check_tasks.items() if states.get(t) == "failed"
        ]
        outcome = {
            "succeeded": done,
            "failed": [a for _, a in failed],
            "upstreamFailed": not_run,
            "checksSucceeded": checked,
            "checksFailed": [c for _, c in failed_checks],
        }
        if not failed and not not_run and not failed_checks:
            self.log.info(
                "%d asset(s) materialized: %s", len(done), ", ".join(done) or "none"
            )
            if checked:
                self.log.info(
                    "%d check task(s) passed: %s", len(checked), ", ".join(checked)
                )
            return outcome
        if not failed and not not_run:
            # Only standalone checks failed: the assets are materialized, the run still fails
            # (as a failed error check inside an asset's task fails it).
            task_id, ref = failed_checks[0]
            summary = ti.xcom_pull(task_ids=task_id, key="baton") or {}
            error = summary.get("error") or {}
            raise AirflowFailException(
                f"{len(failed_checks)} check task(s) failed "
                f"({', '.join(c for _, c in failed_checks)}); first failure: "
                f"{error.get('message') or f'{ref}: the task failed'}"
            )
        first = failed[0] if failed else None
        detail = ""
        if first is not None:
            summary = ti.xcom_pull(task_ids=first[0], key="baton") or {}
            error = summary.get("error") or {}
            detail = f"; first failure: {error.get('message') or f'{first[1]}: the task failed'}"
        raise AirflowFailException(
            f"{len(failed)} asset(s) failed ({', '.join(a for _, a in failed) or 'none'})"
            + (
                f", {len(not_run)} did not run ({', '.join(not_run)})"
                if not_run
                else ""
            )
            + detail
        )


class BatonCommittedOperator(BaseOperator):
    """Records, as asset events, the outputs that failed asset tasks committed before failing.

    Airflow records asset events only for successful tasks, but a step can commit an output and
    still fail (an error-severity check, a resource teardown after the write): the data is there,
    so Airflow's asset history says so. This task runs when the others are done (trigger rule
    ``all_done``) and emits, through its asset alias, one event per committed partition of each
    failed asset task (from its XCom summary), with ``extra.partition_key`` and
    ``extra.failed_task``. The run still fails (its outcome task says so).
    """

    ui_color = "#fdf3e8"

    def __init__(
        self, *, asset_tasks: dict[str, str], assets: dict[str, Asset], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        # task id -> asset id, in the DAG's order; asset id -> its Airflow Asset (as the
        # asset's own task declares it, extra included)
        self.asset_tasks = asset_tasks
        self.assets = assets

    def execute(self, context: Context) -> None:
        ti = context["ti"]
        states = _run_states(ti)
        alias = context["outlet_events"][self.outlets[0]]
        for task_id, asset_id in self.asset_tasks.items():
            if states.get(task_id) != "failed":
                continue
            summary = ti.xcom_pull(task_ids=task_id, key="baton") or {}
            for m in summary.get("materializations") or []:
                self.log.info(
                    "%s failed after committing its output%s: recording it",
                    asset_id,
                    f" [{m['partitionKey']}]" if m["partitionKey"] is not None else "",
                )
                alias.add(
                    self.assets.get(asset_id)
                    or Asset(name=asset_id, uri=asset_uri(asset_id)),
                    extra={
                        "baton_asset": asset_id,
                        "partition_key": m["partitionKey"],
                        "failed_task": task_id,
                        "row_count": m.get("rowCount"),
                        "content_hash": m.get("contentHash"),
                        # As the asset's own event would have it (absent without metadata).
                        **({"metadata": m["metadata"]} if m.get("metadata") else {}),
                        # One event per partition here: its own table commit.
                        **table_extra([(m["partitionKey"], m.get("table"))]),
                    },
                )


_FAILED = ("failed", "upstream_failed")


_RUN_ID_OK = re.compile(r"^[A-Za-z0-9_.~:+-]+$")


def run_id_for(sensor: str, run_key: str) -> str:
    """A deterministic DAG run id per (sensor, run key): Airflow refuses a second run with it."""
    candidate = f"baton_sensor__{airflow_id(sensor)}__{run_key}"
    if _RUN_ID_OK.match(candidate) and len(candidate) <= 250:
        return candidate
    digest = hashlib.sha256(run_key.encode()).hexdigest()[:20]
    return f"baton_sensor__{airflow_id(sensor)}__{digest}"


def cursor_variable(sensor: str) -> str:
    return f"baton_sensor_cursor__{airflow_id(sensor)}"


class BatonSensorOperator(_BatonOperatorMixin, BaseSensorOperator):
    """Evaluates a Baton sensor once per poke through Node. The cursor lives in an Airflow
    Variable; when the sensor asks for runs, the poke is done and returns one trigger request
    per run (a DAG run id derived from the run key, so a run key never runs twice)."""

    ui_color = "#e6f4ea"

    def __init__(
        self,
        *,
        manifest_path: str,
        sensor_name: str,
        options: AirflowOptions,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.manifest_path = manifest_path
        self.sensor_name = sensor_name
        self.options = options

    def poke(self, context: Context) -> bool | PokeReturnValue:
        sensor = self.manifest.sensor(self.sensor_name)
        variable = cursor_variable(self.sensor_name)
        cursor = Variable.get(variable, default=None)
        args = ["--name", self.sensor_name]
        if cursor is not None:
            args += ["--cursor", cursor]
        args += ["--now", datetime.now(UTC).isoformat()]
        outcome, _secrets = self._run(
            self.manifest.step_command("sensor", args), sensor["resources"]
        )
        ticks = outcome.of_type("tick")
        if outcome.exit_code != 0 or not ticks:
            failures = outcome.of_type("asset_failure")
            message = (
                failures[0]["error"]["message"]
                if failures
                else f"exit code {outcome.exit_code}"
            )
            raise AirflowException(f"sensor {self.sensor_name} failed: {message}")
        tick = ticks[-1]["result"]
        if tick.get("cursor") != cursor:
            if tick.get("cursor") is None:
                Variable.delete(variable)
            else:
                Variable.set(variable, tick["cursor"])
        requests = tick.get("runRequests") or []
        context["ti"].xcom_push(
            key="baton_tick",
            value={
                "runRequests": requests,
                "cursor": tick.get("cursor"),
                "skipReason": tick.get("skipReason"),
            },
        )
        if not requests:
            self.log.info(
                "no runs requested: %s (cursor %s)",
                tick.get("skipReason"),
                tick.get("cursor"),
            )
            return False
        triggers = []
        for r in requests:
            conf: dict[str, Any] = {"assets": list(r["assets"])}
            if r.get("partitionKey") is not None:
                conf["partition_key"] = r["partitionKey"]
            if r.get("runKey") is not None:
                conf["baton_run_key"] = r["runKey"]
            if r.get("tags"):
                conf["baton_tags"] = r["tags"]
            trigger: dict[str, Any] = {"conf": conf}
            if r.get("runKey") is not None:
                trigger["trigger_run_id"] = run_id_for(self.sensor_name, r["runKey"])
            triggers.append(trigger)
            self.log.info("run requested: %s", conf)
        return PokeReturnValue(is_done=True, xcom_value=triggers)


__all__ = [
    "BatonAssetOperator",
    "BatonCheckOperator",
    "BatonCommittedOperator",
    "BatonPlanOperator",
    "BatonRunOutcomeOperator",
    "BatonSensorOperator",
    "asset_uri",
    "cursor_variable",
    "run_id_for",
]


def _timed_out(execution_timeout: timedelta | None, subject: str) -> Verdict:
    """Airflow's execution_timeout (the backstop) fired before core's own limit; run_step has
    killed Node on the way out."""
    limit = execution_timeout.total_seconds() if execution_timeout else 0
    return Verdict(
        ok=False,
        retryable=True,
        message=f"{subject}: timed out after {limit:g} s (Airflow's execution_timeout)",
    )


def _fail_task(judged: Verdict, secrets: list[str]) -> NoReturn:
    """Fail the task with the step's message; cancelled or deterministic (exit 3, no Node):
    a retry cannot help, so no retry."""
    message = redactor(secrets)(judged.message)
    if judged.retryable:
        raise AirflowException(message)
    raise AirflowFailException(message)
