"""Airflow operators that run Baton steps: the run planner, one task per asset, and the sensor.

Each operator holds only small, deterministic values (ids, paths, dicts from the manifest), so
the serialized DAG is the same on every parse; the manifest is read (once per process) when
the task runs or the DAG file is parsed, never Node.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import UTC, datetime
from functools import cache

from airflow.sdk import (
    BaseOperator,
    BaseSensorOperator,
    PokeReturnValue,
    SkipMixin,
    Variable,
)
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from baton_core import Manifest, PartitionError, StepResult, run_step

from .manifest import airflow_id, asset_uri, load_manifest
from .resources import ResourceConfigError, resource_environment
from .runplan import RunPlan, plan_run
from .step import child_environment

_LEVELS = {"debug": "debug", "info": "info", "warning": "warning", "error": "error"}
_MAX_XCOM_MATERIALIZATIONS = 100


@cache
def manifest_at(path: str) -> Manifest:
    return load_manifest(path)


class _BatonOperatorMixin:
    """Shared plumbing: options, environment and the Node child's output in the task log."""

    manifest_path: str
    options: dict

    @property
    def manifest(self) -> Manifest:
        return manifest_at(self.manifest_path)

    def _environment(self, resource_keys) -> dict[str, str]:
        extra: dict[str, str] = {}
        # A BATON_STORAGE set on the worker wins over the storage chosen at build time.
        if self.options.get("storage") and "BATON_STORAGE" not in os.environ:
            extra["BATON_STORAGE"] = self.options["storage"]
        try:
            extra.update(
                resource_environment(
                    self.manifest, resource_keys, self.options.get("resources") or {}
                )
            )
        except ResourceConfigError as e:
            raise AirflowFailException(str(e)) from e
        return child_environment(extra)

    def _output(self, stream: str, line: str) -> None:
        if stream == "stdout":
            self.log.info("%s", line)
        else:
            self.log.warning("%s", line)

    def _log_event(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "log":
            getattr(self.log, _LEVELS.get(event.get("level"), "info"))(
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
            self.log.info(
                "materialized %s%s: %s rows, hash %s, %s",
                event["asset"],
                where,
                meta.get("rowCount"),
                meta.get("contentHash"),
                meta.get("path") or "no stored output",
            )
        elif kind == "asset_failure":
            error = event["error"]
            # A JavaScript stack starts with "Name: message"; without one, say it.
            details = error.get("stack") or f"{error['name']}: {error['message']}"
            self.log.error("%s failed: %s", event["asset"] or "the step", details)
        elif kind == "asset_skipped":
            self.log.info("%s skipped: %s", event["asset"], event["reason"])


class _BatonRunOperator(_BatonOperatorMixin, BaseOperator):
    """A task of an asset DAG: it knows the DAG's assets and schedule, and plans the run."""

    def __init__(
        self,
        *,
        manifest_path: str,
        dag_assets: list[str],
        schedule: dict | None,
        options: dict,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.manifest_path = manifest_path
        self.dag_assets = dag_assets
        self.schedule = schedule
        self.options = options

    def _plan(self, context) -> RunPlan:
        """The run's selection and partition, checked; every task derives the same plan."""
        try:
            return plan_run(self.manifest, self.dag_assets, self.schedule, context)
        except (PartitionError, ValueError) as e:
            raise AirflowFailException(str(e)) from e


class BatonPlanOperator(_BatonRunOperator, SkipMixin):
    """First task of every asset DAG: resolves the run's partition and selection, checks them
    before any Node step starts, and marks the assets the run does not materialize as skipped
    (exactly those: a branch operator would also follow the selection's downstream tasks)."""

    ui_color = "#e8f0fe"

    def execute(self, context) -> None:
        try:
            plan = self._plan(context)
        except AirflowFailException as e:
            # Nothing has started: the run fails here, before any Node step (no retry helps).
            context["ti"].xcom_push(key="baton_plan", value={"error": str(e)})
            raise
        if plan.partition_range:
            self.log.info(
                "partition range %s...%s (from %s)", *plan.partition_range, plan.source
            )
        elif plan.partition_key is not None:
            self.log.info("partition key %s (from %s)", plan.partition_key, plan.source)
        for asset_id, reason in plan.skipped.items():
            self.log.info("skipping %s: %s", asset_id, reason)
        context["ti"].xcom_push(
            key="baton_plan",
            value={
                "assets": plan.run,
                "partitionKey": plan.partition_key,
                "partitionRange": list(plan.partition_range)
                if plan.partition_range
                else None,
                "skipped": plan.skipped,
            },
        )
        chosen = {airflow_id(a) for a in plan.run}
        # Raises Airflow's "skip downstream" signal, so it comes last.
        self.skip(
            context["ti"],
            [
                t
                for t in self.dag.tasks
                if t.task_id != self.task_id and t.task_id not in chosen
            ],
        )


class BatonAssetOperator(_BatonRunOperator):
    """Materializes one Baton asset by running core's step runtime in a Node child process."""

    ui_color = "#fff4e0"

    def __init__(self, *, asset_id: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.asset_id = asset_id

    def execute(self, context):
        asset = self.manifest.asset(self.asset_id)
        plan = self._plan(context)
        ti = context["ti"]
        args = [
            "--asset",
            self.asset_id,
            *plan.step_args(asset),
            "--run-id",
            context["run_id"],
            "--retry",
            str(max(ti.try_number - 1, 0)),
        ]
        # The environment (it may hold secrets) stays out of this frame's locals, which a
        # traceback renderer could print.
        outcome = run_step(
            self.manifest.step_command("run", args),
            self._environment(asset["resources"]),
            self._log_event,
            self._output,
            cwd=self.manifest.folder,
        )
        summary = self._summary(outcome)
        ti.xcom_push(key="baton", value=summary)
        if outcome.exit_code == 0:
            self._annotate_outlets(context, summary)
            return
        failures = outcome.of_type("asset_failure")
        if failures:
            error = failures[-1]["error"]
            message = f"{error['name']}: {error['message']}"
        else:
            message = f"the Baton step exited with code {outcome.exit_code} (see the log above)"
        if outcome.exit_code in (
            2,
            127,
        ):  # bad invocation or no Node: retrying will not help
            raise AirflowFailException(f"{self.asset_id}: {message}")
        raise AirflowException(f"{self.asset_id}: {message}")

    def _summary(self, outcome: StepResult) -> dict:
        """Small metadata for XCom: never data."""
        mats = outcome.of_type("materialization")
        failures = outcome.of_type("asset_failure")
        last_schema = mats[-1]["metadata"].get("schema") if mats else None
        return {
            "asset": self.asset_id,
            "status": "success" if outcome.exit_code == 0 else "failure",
            "materializations": [
                {
                    "partitionKey": m["partitionKey"],
                    "dataVersion": m["dataVersion"],
                    "rowCount": m["metadata"].get("rowCount"),
                    "contentHash": m["metadata"].get("contentHash"),
                    "path": m["metadata"].get("path"),
                    "format": m["metadata"].get("format"),
                }
                for m in mats[:_MAX_XCOM_MATERIALIZATIONS]
            ],
            "materializationCount": len(mats),
            "schema": last_schema,
            "checks": [
                {
                    k: c.get(k)
                    for k in (
                        "check",
                        "partitionKey",
                        "passed",
                        "severity",
                        "description",
                    )
                }
                for c in outcome.of_type("check")
            ],
            "error": {
                "name": failures[-1]["error"]["name"],
                "message": failures[-1]["error"]["message"],
            }
            if failures
            else None,
        }

    def _annotate_outlets(self, context, summary: dict) -> None:
        outlet_events = context.get("outlet_events")
        if outlet_events is None or not self.outlets:
            return
        last = summary["materializations"][-1] if summary["materializations"] else {}
        outlet_events[self.outlets[0]].extra = {
            "baton_asset": self.asset_id,
            "partition_keys": [
                m["partitionKey"]
                for m in summary["materializations"]
                if m["partitionKey"] is not None
            ],
            "row_count": last.get("rowCount"),
            "content_hash": last.get("contentHash"),
        }


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
        self, *, manifest_path: str, sensor_name: str, options: dict, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.manifest_path = manifest_path
        self.sensor_name = sensor_name
        self.options = options

    def poke(self, context):
        sensor = self.manifest.sensor(self.sensor_name)
        variable = cursor_variable(self.sensor_name)
        cursor = Variable.get(variable, default=None)
        args = ["--name", self.sensor_name]
        if cursor is not None:
            args += ["--cursor", cursor]
        args += ["--now", datetime.now(UTC).isoformat()]
        outcome = run_step(
            self.manifest.step_command("sensor", args),
            self._environment(sensor["resources"]),
            self._log_event,
            self._output,
            cwd=self.manifest.folder,
        )
        ticks = outcome.of_type("tick")
        if outcome.exit_code != 0 or not ticks:
            failures = outcome.of_type("asset_failure")
            message = (
                failures[-1]["error"]["message"]
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
            conf = {"assets": list(r["assets"])}
            if r.get("partitionKey") is not None:
                conf["partition_key"] = r["partitionKey"]
            if r.get("runKey") is not None:
                conf["baton_run_key"] = r["runKey"]
            if r.get("tags"):
                conf["baton_tags"] = r["tags"]
            trigger = {"conf": conf}
            if r.get("runKey") is not None:
                trigger["trigger_run_id"] = run_id_for(self.sensor_name, r["runKey"])
            triggers.append(trigger)
            self.log.info("run requested: %s", conf)
        return PokeReturnValue(is_done=True, xcom_value=triggers)


__all__ = [
    "BatonAssetOperator",
    "BatonPlanOperator",
    "BatonSensorOperator",
    "asset_uri",
    "cursor_variable",
    "run_id_for",
]
