"""Baton schedules and sensors as Dagster schedules and sensors."""

from datetime import datetime
from typing import Any

import dagster as dg

from .manifest import Manifest
from .node import BatonNode
from .partitions import partitions_def
from .resources import secret_values, step_environment


def _keys(manifest: Manifest, ids: list[str]) -> list[dg.AssetKey]:
    by_id = {a["id"]: a["key"] for a in manifest["assets"]}
    return [dg.AssetKey(by_id[i]) for i in ids]


def last_complete_key(
    definition: dg.TimeWindowPartitionsDefinition, at: datetime, offset: int = 0
) -> str | None:
    """The last partition whose window has ended at `at`, `offset` windows further back; None
    when there is none yet, or when that window lies after the partitions' end (the schedule
    has outlived its partitions: re-running the last one every tick would be wrong)."""
    unbounded = definition
    if definition.end is not None:
        unbounded = dg.TimeWindowPartitionsDefinition(
            start=definition.start,
            cron_schedule=definition.cron_schedule,
            fmt=definition.fmt,
            timezone=definition.timezone,
            end_offset=definition.end_offset,
        )
    keys = unbounded.get_partition_keys(current_time=at)
    if len(keys) <= offset:
        return None
    key = keys[-1 - offset]
    return key if key in definition.get_partition_keys(current_time=at) else None


def _why_skipped(definition: dg.TimeWindowPartitionsDefinition, at: datetime) -> str:
    if definition.end is not None and at >= definition.end:
        return (
            f"its partitions ended at {definition.end.isoformat()}: "
            f"no partition to run at {at.isoformat()}"
        )
    return f"no partition is complete at {at.isoformat()}"


def build_schedule(manifest: Manifest, spec: dict[str, Any]) -> dg.ScheduleDefinition:
    common = {
        "name": spec["name"],
        "cron_schedule": spec["cron"],
        "execution_timezone": spec["timezone"],
        "target": dg.AssetSelection.assets(*_keys(manifest, spec["assets"])),
        "description": spec["description"],
    }
    partition = spec["partition"]
    if partition is None:
        return dg.ScheduleDefinition(**common)
    if partition["type"] == "static":
        key = partition["key"]
        return dg.ScheduleDefinition(
            **common, execution_fn=lambda _: dg.RunRequest(partition_key=key)
        )
    definition = partitions_def(spec["partitions"])
    if not isinstance(definition, dg.TimeWindowPartitionsDefinition):
        raise TypeError(
            f"schedule {spec['name']!r}: a last-complete partition needs time partitions"
        )
    offset = partition.get("offset", 0)

    def run_last_complete_window(context: dg.ScheduleEvaluationContext):
        key = last_complete_key(definition, context.scheduled_execution_time, offset)
        if key is None:
            return dg.SkipReason(
                _why_skipped(definition, context.scheduled_execution_time)
            )
        return dg.RunRequest(run_key=key, partition_key=key)

    return dg.ScheduleDefinition(**common, execution_fn=run_last_complete_window)


def build_sensor(
    manifest: Manifest, node: BatonNode, spec: dict[str, Any]
) -> dg.SensorDefinition:
    name = spec["name"]
    resource_keys = list(spec["resources"])

    @dg.sensor(
        name=name,
        minimum_interval_seconds=spec["minimumIntervalSeconds"],
        description=spec["description"],
        target=dg.AssetSelection.assets(*_keys(manifest, spec["assets"])),
        required_resource_keys=set(resource_keys),
    )
    def evaluate_in_node(context: dg.SensorEvaluationContext):
        args = ["sensor", "--name", name]
        if context.cursor is not None:
            args += ["--cursor", context.cursor]
        tick = node.tick(
            *args,
            env=step_environment(manifest, resource_keys, context.resources),
            secrets=secret_values(manifest, context.resources),
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
