"""Baton schedules and sensors as Dagster schedules and sensors."""

from datetime import datetime
from typing import Any

import dagster as dg

from .manifest import Manifest
from .node import BatonNode
from .partitions import partitions_def
from .resources import step_environment


def _keys(manifest: Manifest, ids: list[str]) -> list[dg.AssetKey]:
    by_id = {a["id"]: a["key"] for a in manifest["assets"]}
    return [dg.AssetKey(by_id[i]) for i in ids]


def last_complete_key(
    definition: dg.TimeWindowPartitionsDefinition, at: datetime, offset: int = 0
) -> str | None:
    """The last partition whose window has ended at `at`, `offset` windows further back."""
    keys = definition.get_partition_keys(current_time=at)
    return keys[-1 - offset] if len(keys) > offset else None


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
                f"no partition is complete at {context.scheduled_execution_time.isoformat()}"
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
            *args, env=step_environment(manifest, resource_keys, context.resources)
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
