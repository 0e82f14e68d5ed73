"""Prefect flows for Baton definitions: one task per asset, wired with `wait_for`.

`flows.py` (written by `baton prefect build`) creates a `BatonProject` from the manifest and
defines the flows and deployments with it. Nothing here starts Node until a task runs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.assets import Asset, AssetProperties, add_asset_metadata, materialize
from prefect.cache_policies import NO_CACHE
from prefect.deployments import run_deployment
from prefect.futures import PrefectFuture, wait
from prefect.runtime import flow_run, task_run
from prefect.tasks import Task
from prefect.variables import Variable

from baton_core import PartitionError, StepResult, check_key, check_range, run_step
from baton_core.partitions import TimePartitions

from .errors import BatonError, BatonPartitionError, BatonRunError, BatonStepError
from .manifest import Manifest
from .resources import ResourceMapping, StepEnvironment, step_environment

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
    """What one flow run materializes, checked before any task starts."""

    assets: list[str]
    partition_key: str | None = None
    partition_range: str | None = None  # "FIRST...LAST", as baton-step takes it
    skip_reason: str | None = None


class BatonProject:
    """A Baton manifest seen from Prefect: plans runs, runs assets as tasks, evaluates sensors."""

    def __init__(
        self,
        manifest: str | Path,
        *,
        flow_name: str,
        resources: ResourceMapping | None = None,
        storage: str | None = None,
    ) -> None:
        self.manifest = Manifest.load(manifest)
        self.flow_name = flow_name
        self.resources: ResourceMapping = resources or {}
        self.storage = storage
        self._assets = {a: self._prefect_asset(a) for a in self.manifest.assets}
        self._tasks: dict[str, Task[..., dict[str, Any]]] = {}

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
        """Select and order the assets and check the partition; raises before anything runs."""
        if (partition_range_start is None) != (partition_range_end is None):
            raise BatonPartitionError(
                "pass both partition_range_start and partition_range_end, or neither"
            )
        if partition_key is not None and partition_range_start is not None:
            raise BatonPartitionError(
                "pass either partition_key or a partition range, not both"
            )
        if schedule is not None:
            spec = self.manifest.schedule(schedule)
            assets = assets if assets is not None else list(spec["assets"])
            if partition_key is None and partition_range_start is None:
                partition_key, skip = self.schedule_partition(
                    schedule, scheduled_start or _utcnow()
                )
                if skip:
                    return RunPlan(self.manifest.ordered(assets), skip_reason=skip)
        ordered = self.manifest.ordered(assets)
        now = now or _utcnow()
        for asset_id in ordered:
            definition = self.manifest.asset(asset_id)["partitions"]
            if definition is None:
                continue
            if partition_key is None and partition_range_start is None:
                raise BatonPartitionError(
                    f'asset "{asset_id}" is partitioned: pass partition_key '
                    f"(or partition_range_start and partition_range_end for a backfill)"
                )
            try:
                if (
                    partition_range_start is not None
                    and partition_range_end is not None
                ):
                    check_range(
                        definition,
                        partition_range_start,
                        partition_range_end,
                        asset_id,
                        now,
                    )
                elif partition_key is not None:
                    check_key(definition, partition_key, asset_id, now)
            except PartitionError as e:
                raise BatonPartitionError(str(e)) from None
        partition_range = (
            f"{partition_range_start}...{partition_range_end}"
            if partition_range_start is not None
            else None
        )
        return RunPlan(ordered, partition_key, partition_range)

    def schedule_partition(
        self, name: str, scheduled_start: datetime
    ) -> tuple[str | None, str | None]:
        """(partition key, skip reason) of a scheduled run: the last window complete at its start."""
        spec = self.manifest.schedule(name)
        partition, definition = spec["partition"], spec["partitions"]
        if partition is None or definition is None:
            return None, None
        if partition["type"] == "static":
            return partition["key"], None
        if definition["type"] != "time":
            return None, None
        key = TimePartitions(definition).last_complete_key(
            scheduled_start, partition.get("offset", 0)
        )
        if key is None:
            first = spec["assets"][0] if spec["assets"] else name
            return (
                None,
                f'no partition of "{first}" is complete at {scheduled_start.isoformat()}',
            )
        return key, None

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
        plan = self.plan(
            assets,
            partition_key,
            partition_range_start,
            partition_range_end,
            schedule,
            scheduled_start=flow_run.get_scheduled_start_time() if schedule else None,
        )
        if plan.skip_reason:
            logger.info("Nothing to run: %s", plan.skip_reason)
            return {"skipped": plan.skip_reason}
        futures: dict[str, PrefectFuture[dict[str, Any]]] = {}
        for asset_id in plan.assets:
            upstream = [
                futures[u] for u in self.manifest.upstream(asset_id) if u in futures
            ]
            futures[asset_id] = self.task(asset_id, plan).submit(
                asset_id, plan.partition_key, plan.partition_range, wait_for=upstream
            )
        wait(list(futures.values()))
        problems = []
        for asset_id, future in futures.items():
            state = future.state
            if state.is_failed() or state.is_crashed():
                problems.append(f"{asset_id} failed")
            elif not state.is_completed():
                problems.append(f"{asset_id} did not run (an upstream asset failed)")
        if problems:
            raise BatonRunError(
                f"{len(problems)} of {len(futures)} assets did not succeed: "
                + "; ".join(problems)
            )
        return {asset_id: future.result() for asset_id, future in futures.items()}

    def task(
        self, asset_id: str, plan: RunPlan | None = None
    ) -> Task[..., dict[str, Any]]:
        """The Prefect task that materializes one asset (named for it in the run graph)."""
        if asset_id not in self._tasks:
            spec = self.manifest.asset(asset_id)
            upstream = [
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
                asset: str,
                partition_key: str | None = None,
                partition_range: str | None = None,
            ) -> dict[str, Any]:
                return project.run_asset(asset, partition_key, partition_range)

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
                cache_policy=NO_CACHE,
                persist_result=False,
            )(run_asset)
        name = asset_id
        if plan and self.manifest.asset(asset_id)["partitions"] is not None:
            name += f" [{plan.partition_key or plan.partition_range}]"
        return self._tasks[asset_id].with_options(task_run_name=name)

    def run_asset(
        self, asset: str, partition_key: str | None, partition_range: str | None
    ) -> dict[str, Any]:
        """One task attempt: run the asset in Node and report what it printed to Prefect."""
        logger = get_run_logger()
        spec = self.manifest.asset(asset)
        environment = self.environment(spec["resources"])
        args = ["--asset", asset, "--run-id", str(flow_run.get_id() or "adhoc")]
        args += ["--retry", str(max(task_run.get_run_count() - 1, 0))]
        if partition_key is not None:
            args += ["--partition", partition_key]
        if partition_range is not None:
            args += ["--partition-range", partition_range]

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

        result = self._run_step("run", args, environment, logger, on_event)
        materializations = result.of_type("materialization")
        if materializations:
            add_asset_metadata(asset_uri(asset), _asset_metadata(materializations))
        checks = result.of_type("check")
        if checks:
            create_table_artifact(
                key=f"{slug(asset)}-checks",
                table=[_check_row(c) for c in checks],
                description=f"Baton asset checks of `{asset}`",
            )
        _raise_for_failure(result, asset, environment)
        return {
            "asset": asset,
            "uri": asset_uri(asset),
            "materializations": [_reference(m) for m in materializations],
            "checks": [_check_row(c) for c in checks],
        }

    def _run_step(
        self, command, args, environment, logger, on_event=None
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
        )

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
        ticks = result.of_type("tick")
        _raise_for_failure(result, sensor, environment)
        if not ticks:
            raise BatonError(f'the sensor step for "{sensor}" reported no tick')
        tick = ticks[0]["result"]
        requested = []
        for request in tick["runRequests"]:
            run_key = request["runKey"]
            run = run_deployment(
                target,
                parameters={
                    "assets": request["assets"],
                    "partition_key": request["partitionKey"],
                },
                idempotency_key=f"{sensor}:{run_key}" if run_key is not None else None,
                tags=[
                    f"baton-sensor:{sensor}",
                    *(f"{k}:{v}" for k, v in request["tags"].items()),
                ],
                timeout=0,
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
        if self.storage and "BATON_STORAGE" not in environment.env:
            environment.env["BATON_STORAGE"] = str(
                (self.manifest.folder / self.storage).resolve()
            )
        return environment

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


def _raise_for_failure(
    result: StepResult, name: str, environment: StepEnvironment
) -> None:
    """Fail the task with the TypeScript error (message and stack), secrets masked."""
    failures = result.of_type("asset_failure")
    if failures:
        error = failures[0]["error"]
        message = environment.redact(f"{error['name']}: {error['message']}")
        stack = environment.redact(error["stack"]) if error.get("stack") else None
        raise BatonStepError(name, message, stack)
    if result.exit_code != 0:
        tail = environment.redact("\n".join(result.stderr[-20:]))
        raise BatonError(
            f'the Baton step for "{name}" exited with code {result.exit_code}: {tail}'
        )


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
    }
