"""Baton partitions and partition mappings as Dagster partitions definitions and mappings."""

from datetime import datetime
from typing import Any

import dagster as dg

from baton_core.manifest_types import PartitionMapping, PartitionsDefinition

_TIME_CLASSES = {
    "hourly": dg.HourlyPartitionsDefinition,
    "daily": dg.DailyPartitionsDefinition,
    "weekly": dg.WeeklyPartitionsDefinition,
    "monthly": dg.MonthlyPartitionsDefinition,
}


def partitions_def(
    spec: PartitionsDefinition | None,
) -> dg.PartitionsDefinition[str] | None:
    if spec is None:
        return None
    if spec["type"] == "static":
        return dg.StaticPartitionsDefinition(list(spec["keys"]))
    grain = spec["grain"]
    # Baton bounds are local wall times in the partitions' timezone; Dagster reads naive
    # datetimes the same way.
    options: dict[str, Any] = {
        "start_date": datetime.fromisoformat(spec["start"]),
        "timezone": spec["timezone"],
        "fmt": spec["format"],
    }
    if spec.get("end"):
        options["end_date"] = datetime.fromisoformat(spec["end"])
    if grain == "weekly":
        # Both count days from Sunday = 0; Baton's default week starts on Monday.
        options["day_offset"] = spec.get("weekStartsOn", 1)
    partitions: dg.PartitionsDefinition[str] = _TIME_CLASSES[grain](**options)
    return partitions


def partition_mapping(spec: PartitionMapping | None) -> dg.PartitionMapping | None:
    if spec is None:
        return None
    kind = spec["type"]
    if kind == "identity":
        return dg.IdentityPartitionMapping()
    if kind == "timeWindow":
        return dg.TimeWindowPartitionMapping()
    if kind == "allPartitions":
        return dg.AllPartitionMapping()
    raise ValueError(f"unknown Baton partition mapping {kind!r}")


def partitions_label(spec: PartitionsDefinition | None) -> str | None:
    """A short name for op names: the grain of time partitions, "static" otherwise."""
    if spec is None:
        return None
    return spec["grain"] if spec["type"] == "time" else "static"
