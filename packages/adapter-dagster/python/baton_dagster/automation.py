"""Baton schedules and sensors as Dagster schedules and sensors, each with its own asset job.

Each schedule and sensor runs a named job, `define_asset_job("<name>_job", selection=...)`, as a
Dagster user would declare one: its runs are listed under that job (not Dagster's implicit
`__anonymous_asset_job_<name>`), and the job is partitioned like its assets (Dagster infers the
partitions definition from the selection), so its run requests carry partition keys that the UI
shows and Dagster validates.
"""

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dagster as dg

import baton_core
from baton_core.manifest_types import ManifestSchedule, ManifestSensor
from baton_core.step import log_level

from .manifest import Manifest
from .node import BatonNode
from .resources import secret_values, step_environment


def job_name(automation: str) -> str:
    """The asset job a schedule or sensor runs. Schedules and sensors share one namespace of
    identifiers in Baton, so these names are unique too."""
    return f"{automation}_job"


def _keys(manifest: Manifest, ids: Sequence[str]) -> list[dg.AssetKey]:
    by_id = {a["id"]: a["key"] for a in manifest["assets"]}
    return [dg.AssetKey(by_id[i]) for i in ids]


def build_schedule(manifest: Manifest, spec: ManifestSchedule) -> dg.ScheduleDefinition:
    partition = spec["partition"]
    name = spec["name"]
    job = dg.define_asset_job(
        name=job_name(name),
        selection=dg.AssetSelection.assets(*_keys(manifest, spec["assets"])),
        description=f"The assets of schedule {name}",
    )

    def schedule(
        execution_fn: Callable[[dg.ScheduleEvaluationContext], Any] | None = None,
    ) -> dg.ScheduleDefinition:
        return dg.ScheduleDefinition(
            name=name,
            cron_schedule=spec["cron"],
            execution_timezone=spec["timezone"],
            job=job,
            description=spec["description"],
            execution_fn=execution_fn,
        )

    if partition is None:
        return schedule()
    if partition["type"] == "static":
        key = partition["key"]
        return schedule(lambda _: dg.RunRequest(partition_key=key))

    def run_last_complete_window(
        context: dg.ScheduleEvaluationContext,
    ) -> dg.RunRequest | dg.SkipReason:
        # The window (or the reason to skip: none complete yet, partitions ended) is decided by
        # baton_core's planner, as on every runtime; Dagster evaluates it at its own tick time.
        tick = baton_core.schedule_tick_plan(
            manifest, name, context.scheduled_execution_time
        )
        if tick.skip_reason is not None:
            return dg.SkipReason(tick.skip_reason)
        return dg.RunRequest(run_key=tick.run_key, partition_key=tick.partition_key)

    return schedule(run_last_complete_window)


def tick_logger(log: logging.Logger) -> Callable[[dict[str, Any]], None]:
    """Puts each `log` event of a Node tick into `log` at its level, as it arrives."""

    def on_event(event: dict[str, Any]) -> None:
        if event.get("type") != "log":
            return
        level = log_level(event.get("level"))
        log.log(level, str(event.get("message", "")))

    return on_event


def build_sensor(
    manifest: Manifest, node: BatonNode, spec: ManifestSensor
) -> dg.SensorDefinition:
    name = spec["name"]
    resource_keys = list(spec["resources"])

    @dg.sensor(
        name=name,
        minimum_interval_seconds=int(spec["minimumIntervalSeconds"]),
        description=spec["description"],
        job=dg.define_asset_job(
            name=job_name(name),
            selection=dg.AssetSelection.assets(*_keys(manifest, spec["assets"])),
            description=f"The assets of sensor {name}",
        ),
        required_resource_keys=set(resource_keys),
    )
    def evaluate_in_node(
        context: dg.SensorEvaluationContext,
    ) -> Iterator[dg.RunRequest | dg.SkipReason]:
        args = ["sensor", "--name", name]
        if context.cursor is not None:
            args += ["--cursor", context.cursor]
        tick = node.tick(
            *args,
            env=step_environment(manifest, resource_keys, context.resources),
            secrets=secret_values(manifest, context.resources),
            # The sensor's `log` lines, into the tick's own log (the UI's tick details): the
            # daemon gives the context a log key under which the instance stores them.
            on_event=tick_logger(context.log),
        )
        if tick["cursor"] is not None and tick["cursor"] != context.cursor:
            context.update_cursor(tick["cursor"])
        if tick["skipReason"] is not None:
            yield dg.SkipReason(tick["skipReason"])
            return
        for request in tick["runRequests"]:
            yield dg.RunRequest(
                run_key=request["runKey"],
                partition_key=request["partitionKey"],
                asset_selection=_keys(manifest, request["assets"]),
                tags=request["tags"],
            )

    return evaluate_in_node
