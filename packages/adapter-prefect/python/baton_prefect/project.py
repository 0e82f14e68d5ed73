"""Prefect flows for Baton definitions: one task per asset, wired with `wait_for`.

`flows.py` (written by `baton prefect build`) creates a `BatonProject` from the manifest and
defines the flows and deployments with it. Nothing here starts Node until a task runs.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.assets import Asset, AssetProperties, add_asset_metadata, materialize
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import AssetContext
from prefect.deployments import run_deployment
from prefect.events import emit_event
from prefect.futures import PrefectFuture, wait
from prefect.runtime import flow_run, task_run
from prefect.tasks import Task
from prefect.variables import Variable

from baton_core import (
    PlanError,
    StepResult,
    Verdict,
    plan_run,
    run_step,
    schedule_tick_plan,
)
from baton_core.build import read_build
from baton_core.plan import RunPlan as CorePlan

from .errors import (
    BatonError,
    BatonManifestError,
    BatonPartitionError,
    BatonRunError,
    BatonStepError,
)
from .manifest import Manifest
from .resources import (
    ResourceMapping,
    StepEnvironment,
    step_environment,
    storage_credentials,
    with_storage_credentials,
)
from .sync import sync_result

URI_SCHEME = "baton://"
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def asset_uri(asset_id: str) -> str:
    """The stable Prefect asset key of a Baton asset."""
    return URI_SCHEME + asset_id


def slug(text: str) -> str:
    """Lowercase letters, digits and dashes: what artifact keys and variable names accept."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class RunPlan:
    """What one flow run materializes (baton_core's plan), checked before any task starts."""

    assets: list[str]
    # baton-step partition arguments per asset: one list per step, ``[[]]`` when unpartitioned.
    steps: dict[str, list[list[str]]] = field(default_factory=dict)
    # The partitions each partitioned asset runs, for its task run name.
    labels: dict[str, str] = field(default_factory=dict)
    skip_reason: str | None = None
    # Assets the run leaves out on purpose, with the reason (in the run's log and result).
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # The run's partition key: the one asked for, or the one a schedule's tick picked.
    partition_key: str | None = None


class BatonProject:
    """A Baton manifest seen from Prefect: plans runs, runs assets as tasks, evaluates sensors."""

    def __init__(
        self,
        manifest: str | Path,
        *,
        flow_name: str,
        resources: ResourceMapping | None = None,
        storage: str | None = None,
        storage_secret: str | None = None,
    ) -> None:
        self.manifest = Manifest.load(manifest)
        self.flow_name = flow_name
        self.resources: ResourceMapping = resources or {}
        self.storage = storage
        # A Secret block with the S3 store's credentials, loaded when a step runs (never a value here).
        self.storage_secret = storage_secret
        self._assets = {a: self._prefect_asset(a) for a in self.manifest.assets}
        self._tasks: dict[str, Task[..., dict[str, Any]]] = {}
        # Set when this process is told to stop (a cancelled flow run): no step starts or retries.
        self._cancelled = threading.Event()

    @classmethod
    def from_build(cls, manifest: str | Path, *, flow_name: str) -> BatonProject:
        """The project of a build folder: its storage default, the resource mapping (the
        ``resources`` option) and the storage Secret's name (``storageSecret``) come from
        ``baton/build.json`` next to the manifest."""
        build = read_build(manifest)
        resources = build.options.get("resources")
        if resources is not None and not isinstance(resources, Mapping):
            raise BatonManifestError(
                f'{Path(manifest).parent / "build.json"}: option "resources" is not an'
                " object; rebuild with `baton prefect build --resources FILE.json`"
            )
        storage_secret = build.options.get("storageSecret")
        if storage_secret is not None and not isinstance(storage_secret, str):
            raise BatonManifestError(
                f'{Path(manifest).parent / "build.json"}: option "storageSecret" is not a'
                " name; rebuild with `baton prefect build --storage-secret NAME`"
            )
        return cls(
            manifest,
            flow_name=flow_name,
            resources=resources,
            storage=build.storage,
            storage_secret=storage_secret,
        )

    # -- planning --------------------------------------------------------------------------------

    def plan(
        self,
        assets: list[str] | None = None,
        partition_key: str | None = None,
        partition_range_start: str | None = None,
        partition_range_end: str | None = None,
        schedule: str | None = None,
        scheduled_start: datetime | None = None,
        now: datetime | None = None,
    ) -> RunPlan:
        """Select and order the assets and their partitions (baton_core.plan's rules); raises
        BatonPartitionError before anything runs.

        A run of every asset (``assets`` empty) without a partition leaves the partitioned ones
        out with a reason; naming a partitioned asset without a partition is an error. A schedule
        run takes the last window complete at its scheduled start, and skips after the end.
        """
        if (partition_range_start is None) != (partition_range_end is None):
            raise BatonPartitionError(
                "pass both partition_range_start and partition_range_end, or neither"
            )
        partition_range = (
            (partition_range_start, partition_range_end)
            if partition_range_start is not None and partition_range_end is not None
            else None
        )
        try:
            if (
                schedule is not None
                and partition_key is None
                and partition_range is None
            ):
                self.manifest.schedule(schedule)  # an unknown name fails as a selection
                tick = schedule_tick_plan(
                    self.manifest, schedule, scheduled_start or now or _utcnow()
                )
                if tick.plan is None:
                    return RunPlan([], skip_reason=tick.skip_reason)
                return self._run_plan(tick.plan, tick.partition_key)
            if schedule is not None and not assets:
                assets = list(self.manifest.schedule(schedule)["assets"])
            if assets:
                self.manifest.ordered(assets)  # unknown ids fail with the nearest name
            plan = plan_run(
                self.manifest, assets or None, partition_key, partition_range, now
            )
        except PlanError as e:
            raise BatonPartitionError(str(e)) from None
        return self._run_plan(plan, partition_key)

    def _run_plan(self, plan: CorePlan, partition_key: str | None) -> RunPlan:
        steps = {a.asset_id: a.step_args() for a in plan.assets}
        labels = {
            a.asset_id: _label(a.partition_keys)
            for a in plan.assets
            if a.partition_keys is not None
        }
        skipped = {s.asset_id: s.reason for s in plan.skipped}
        skip_reason = (
            "every selected asset is partitioned and the run names no partition"
            if skipped and not plan.assets
            else None
        )
        return RunPlan(
            plan.asset_ids,
            steps,
            labels,
            skip_reason,
            skipped,
            list(plan.warnings),
            partition_key,
        )

    # -- flows -----------------------------------------------------------------------------------

    def materialize(
        self,
        assets: list[str] | None = None,
        partition_key: str | None = None,
        partition_range_start: str | None = None,
        partition_range_end: str | None = None,
        schedule: str | None = None,
    ) -> dict[str, Any]:
        """The body of the materialize flow: submit one task per asset and wait for all of them."""
        logger = get_run_logger()
        self._cancelled.clear()  # a new flow run of this process
        plan = self.plan(
            assets,
            partition_key,
            partition_range_start,
            partition_range_end,
            schedule,
            scheduled_start=flow_run.get_scheduled_start_time() if schedule else None,
        )
        for asset_id, reason in plan.skipped.items():
            logger.info("Skipped %s: %s", asset_id, reason)
        for warning in plan.warnings:
            logger.warning("%s", warning)
        if plan.skip_reason:
            logger.info("Nothing to run: %s", plan.skip_reason)
            return {"skipped": plan.skip_reason, "skipped_assets": plan.skipped}
        futures: dict[str, PrefectFuture[dict[str, Any]]] = {}
        with self._stop_steps_when_interrupted():
            for asset_id in plan.assets:
                upstream = [
                    futures[u] for u in self.manifest.upstream(asset_id) if u in futures
                ]
                futures[asset_id] = self.task(asset_id, plan).submit(
                    asset_id, plan.steps[asset_id], wait_for=upstream
                )
            wait(list(futures.values()))
        # The first failure in run order (the plan's order) leads the message.
        problems = []
        for asset_id, future in futures.items():
            state = future.state
            if state.is_failed() or state.is_crashed():
                problems.append(f"{asset_id} failed: {state.message or state.name}")
            elif not state.is_completed():
                problems.append(f"{asset_id} did not run (an upstream asset failed)")
        if problems:
            raise BatonRunError(
                f"{len(problems)} of {len(futures)} assets did not succeed: "
                + "; ".join(problems)
            )
        results: dict[str, Any] = {a: f.result() for a, f in futures.items()}
        if plan.skipped:
            results["skipped_assets"] = plan.skipped
        return results

    def task(
        self, asset_id: str, plan: RunPlan | None = None
    ) -> Task[..., dict[str, Any]]:
        """The Prefect task that materializes one asset (named for it in the run graph)."""
        if asset_id not in self._tasks:
            spec = self.manifest.asset(asset_id)
            upstream: list[Asset | str] = [
                self._assets[u]
                for u in self.manifest.upstream(asset_id)
                if u in self._assets
            ]
            retry = spec["retry"] or {
                "maxRetries": 0,
                "delaySeconds": 0,
                "backoff": "constant",
            }
            delay = retry["delaySeconds"]
            delays: float | list[float] = (
                [delay * 2**i for i in range(retry["maxRetries"])]
                if retry["backoff"] == "exponential"
                else delay
            )
            project = self

            def run_asset(
                asset: str, steps: list[list[str]] | None = None
            ) -> dict[str, Any]:
                return project.run_asset(asset, steps or [[]])

            def retry_condition(
                task: Task[..., Any], run: TaskRun, state: State[Any]
            ) -> bool:
                return not project._cancelled.is_set() and _retryable(state)

            self._tasks[asset_id] = materialize(
                self._assets[asset_id],
                by="baton",
                name=asset_id,
                description=spec["description"],
                tags=[
                    f"group:{spec['group']}",
                    *(f"{k}:{v}" for k, v in spec["tags"].items()),
                ],
                asset_deps=upstream,
                retries=retry["maxRetries"],
                retry_delay_seconds=delays,
                retry_condition_fn=retry_condition,
                cache_policy=NO_CACHE,
                persist_result=False,
            )(run_asset)
        name = asset_id
        if plan and asset_id in plan.labels:
            name += f" [{plan.labels[asset_id]}]"
        return self._tasks[asset_id].with_options(task_run_name=name)

    def run_asset(self, asset: str, steps: list[list[str]]) -> dict[str, Any]:
        """One task attempt: run the asset in Node (one step per run of consecutive partitions)
        and report what it printed to Prefect.

        The task completes only when every step's verdict is a success; anything else fails it,
        retryable or not. Outputs a failing step did commit (before an error-severity check or a
        resource teardown failed) still get their materialization event.
        """
        if self._cancelled.is_set():
            raise BatonStepError(asset, "the flow run was cancelled", retryable=False)
        logger = get_run_logger()
        spec = self.manifest.asset(asset)
        environment = self.environment(spec["resources"])
        base = ["--asset", asset, "--run-id", str(flow_run.get_id() or "adhoc")]
        base += ["--retry", str(max(task_run.get_run_count() - 1, 0))]

        def on_event(event: dict[str, Any]) -> None:
            if event["type"] == "log":
                logger.log(
                    _LEVELS.get(event["level"], logging.INFO),
                    environment.redact(event["message"]),
                )
            elif event["type"] == "check":
                passed = (
                    "passed"
                    if event["passed"]
                    else f"FAILED (severity {event['severity']})"
                )
                severity = "error" if event["severity"] == "error" else "warning"
                level = logging.INFO if event["passed"] else _LEVELS[severity]
                where = f" [{event['partitionKey']}]" if event["partitionKey"] else ""
                logger.log(
                    level, "check %s on %s%s %s", event["check"], asset, where, passed
                )

        materializations: list[dict[str, Any]] = []
        checks: list[dict[str, Any]] = []
        failure: BatonStepError | None = None
        for partition_args in steps:
            result = self._run_step(
                "run", base + partition_args, environment, logger, on_event
            )
            materializations += [
                m for m in result.of_type("materialization") if m["asset"] == asset
            ]
            checks += result.of_type("check")
            judged = _verdict(result, [asset])
            if self._cancelled.is_set():
                failure = BatonStepError(
                    asset, "the flow run was cancelled", retryable=False
                )
                break
            if not judged.ok:
                stack = _stack(result)
                failure = BatonStepError(
                    asset,
                    environment.redact(judged.message),
                    environment.redact(stack) if stack else None,
                    retryable=judged.retryable,
                )
                break
        if checks:
            create_table_artifact(
                key=f"{slug(asset)}-checks",
                table=environment.redact_all([_check_row(c) for c in checks]),
                description=f"Baton asset checks of `{asset}`",
            )
        metadata = (
            environment.redact_all(_asset_metadata(materializations))
            if materializations
            else None
        )
        if failure is not None:
            if metadata is not None and not self._cancelled.is_set():
                _emit_materialized(self._assets[asset], metadata)
            raise failure
        if metadata is not None:
            add_asset_metadata(asset_uri(asset), metadata)
        reported: dict[str, Any] = environment.redact_all(
            {
                "asset": asset,
                "uri": asset_uri(asset),
                "materializations": [_reference(m) for m in materializations],
                "checks": [_check_row(c) for c in checks],
            }
        )
        return reported

    def _run_step(
        self,
        command: str,
        args: list[str],
        environment: StepEnvironment,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
        on_event: Any = None,
    ) -> StepResult:
        """Run `baton-step COMMAND` with the resources' environment; its own output lines go to
        the run logger (stderr as warnings), secrets redacted."""

        def on_line(stream: str, line: str) -> None:
            logger.log(
                logging.WARNING if stream == "stderr" else logging.INFO,
                environment.redact(line),
            )

        return run_step(
            self.manifest.step_command(command, args),
            environment.env,
            on_event,
            on_line,
            cwd=self.manifest.folder,
            secrets=environment.secrets,
            cancel=self._cancelled,
        )

    @contextmanager
    def _stop_steps_when_interrupted(self) -> Iterator[None]:
        """While the flow body waits for its tasks: if the wait is interrupted (Prefect raises
        TerminationSignal when the runner or worker SIGTERMs a cancelled run; KeyboardInterrupt),
        stop every Node step of the run (SIGTERM), start and retry nothing more, and let Prefect
        finish the cancellation. Prefect's own SIGTERM handler stays installed: it is how the
        runner's cancel intent is acknowledged."""
        try:
            yield
        except BaseException:
            self._cancelled.set()
            raise

    def evaluate_sensor(self, sensor: str, target: str) -> dict[str, Any]:
        """The body of the sensor flow: one tick of the TypeScript sensor, then one run per request."""
        logger = get_run_logger()
        spec = self.manifest.sensor(sensor)
        variable = self.cursor_variable(sensor)
        cursor = Variable.get(variable, default=None)
        environment = self.environment(spec["resources"])
        args = ["--name", sensor] + (
            [] if cursor is None else ["--cursor", str(cursor)]
        )

        result = self._run_step("sensor", args, environment, logger)
        if result.exit_code != 0:
            judged = _verdict(result, [])
            stack = _stack(result)
            raise BatonStepError(
                sensor,
                environment.redact(judged.message),
                environment.redact(stack) if stack else None,
                retryable=judged.retryable,
            )
        if result.tick is None:
            raise BatonError(f'the sensor step for "{sensor}" reported no tick')
        # Skip reasons, cursors and run keys are the user's text: mask secrets before storing any.
        tick = environment.redact_all(result.tick)
        requested = []
        for request in tick["runRequests"]:
            run_key = request["runKey"]
            run = sync_result(
                run_deployment(
                    target,
                    parameters={
                        "assets": request["assets"],
                        "partition_key": request["partitionKey"],
                    },
                    idempotency_key=f"{sensor}:{run_key}"
                    if run_key is not None
                    else None,
                    tags=[
                        f"baton-sensor:{sensor}",
                        *(f"{k}:{v}" for k, v in request["tags"].items()),
                    ],
                    timeout=0,
                )
            )
            logger.info("Run request %s -> flow run %s (%s)", run_key, run.name, run.id)
            requested.append({**request, "flowRunId": str(run.id)})
        if tick["skipReason"]:
            logger.info("Skipped: %s", tick["skipReason"])
        if tick["cursor"] is not None and tick["cursor"] != cursor:
            Variable.set(variable, tick["cursor"], overwrite=True)
        return {
            "runRequests": requested,
            "cursor": tick["cursor"],
            "skipReason": tick["skipReason"],
        }

    # -- helpers ---------------------------------------------------------------------------------

    def cursor_variable(self, sensor: str) -> str:
        """The Prefect Variable that keeps a sensor's cursor."""
        return f"{slug(self.flow_name)}-{slug(sensor)}-cursor".replace("-", "_")

    def environment(self, resource_keys: list[str]) -> StepEnvironment:
        environment = step_environment(self.manifest, resource_keys, self.resources)
        # The build's storage (an absolute path or a URL) is a default: a worker's own
        # BATON_STORAGE (already in the step's environment) wins.
        if self.storage and "BATON_STORAGE" not in environment.env:
            environment.env["BATON_STORAGE"] = self.storage
        credentials = (
            storage_credentials(self.storage_secret)
            if self.storage_secret is not None
            else StepEnvironment(env={})
        )
        return with_storage_credentials(environment, credentials)

    def _prefect_asset(self, asset_id: str) -> Asset:
        spec = self.manifest.asset(asset_id)
        description = (spec["description"] or "")[:2500] or None
        return Asset(
            key=asset_uri(asset_id),
            properties=AssetProperties(
                name=asset_id,
                description=description,
                owners=list(spec["owners"]) or None,
            ),
        )


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _verdict(result: StepResult, selected: list[str]) -> Verdict:
    """baton_core's verdict; a TypeScript error keeps its own name and message (the task is
    named after the asset already)."""
    judged = result.verdict(selected)
    failures = result.of_type("asset_failure")
    if judged.ok or judged.cancelled or not failures:
        return judged
    error = failures[0]["error"]
    message = f"{error.get('name', 'Error')}: {error.get('message', '')}"
    return Verdict(False, judged.retryable, message, judged.missing)


def _stack(result: StepResult) -> str | None:
    failures = result.of_type("asset_failure")
    return failures[0]["error"].get("stack") if failures else None


def _emit_materialized(asset: Asset, metadata: dict[str, Any]) -> None:
    """The materialization event of an output a failing task did commit: Prefect emits only
    `materialization.failed` for a failed task, which would hide that the data was written."""
    context = AssetContext.get()
    related = (
        [
            AssetContext.asset_as_related(a)
            for a in (context.upstream_assets | context.direct_asset_dependencies)
        ]
        if context
        else []
    )
    related.append(AssetContext.related_materialized_by("baton"))
    emit_event(
        event="prefect.asset.materialization.succeeded",
        resource=AssetContext.asset_as_resource(asset),
        related=related,
        payload=metadata,
    )


def _label(keys: list[str]) -> str:
    """How a task run name shows the partitions it runs."""
    if len(keys) == 1:
        return keys[0]
    return f"{keys[0]}...{keys[-1]}" if keys else "no partitions"


def _retryable(state: State[Any]) -> bool:
    """Prefect's retry condition: a deterministic Baton failure is never retried."""
    error = state.result(raise_on_failure=False)
    return getattr(error, "retryable", True) is not False


def _reference(event: Mapping[str, Any]) -> dict[str, Any]:
    meta = event["metadata"]
    return {
        "partition_key": event["partitionKey"],
        "path": meta["path"],
        "format": meta["format"],
        "row_count": meta["rowCount"],
        "content_hash": meta["contentHash"],
        "duration_ms": meta["durationMs"],
    }


def _asset_metadata(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Materialization metadata for the Prefect asset event (one entry per partition)."""
    entries = [
        {
            **_reference(e),
            "data_version": e["dataVersion"],
            "schema": [f"{c['name']}: {c['type']}" for c in e["metadata"]["schema"]],
            "code_version": e["metadata"]["codeVersion"],
            "user": e["metadata"]["user"],
        }
        for e in events
    ]
    if len(entries) == 1:
        return entries[0]
    rows = [e["row_count"] for e in entries if e["row_count"] is not None]
    return {
        "partition_keys": [e["partition_key"] for e in entries],
        "row_count": sum(rows) if rows else None,
        "partitions": entries,
    }


def _check_row(event: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "check": event["check"],
        "passed": event["passed"],
        "severity": event["severity"],
        "partition_key": event["partitionKey"],
        "description": event["description"],
        "metadata": event.get("metadata") or {},
    }
