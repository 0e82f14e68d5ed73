"""Lists of partition keys and partition mappings on the Python side, for the run planner.

A port of core's src/partitions/mapping.ts (upstreamKeys) and of the key lists in time.ts
(partitionKeys, keysInRange, keysOverlapping), built on baton_core.partitions so that the windows,
the DST rules and the key checks are that module's. Windows are named by their start, as in
Dagster.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from .manifest_types import PartitionMapping, PartitionsDefinition
from .partitions import (
    PartitionError,
    StaticPartitions,
    TimePartitions,
    check_range,
    partitions_of,
)

_WEEKDAYS = (
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
)


# -- key lists -------------------------------------------------------------------------------------


def describe_partitions(definition: PartitionsDefinition | None) -> str:
    """A definition in words, as core's describePartitions writes it."""
    if definition is None:
        return "unpartitioned"
    if definition["type"] == "static":
        keys = definition["keys"]
        shown = ", ".join(json.dumps(k, ensure_ascii=False) for k in keys[:5])
        more = f", … {len(keys) - 5} more" if len(keys) > 5 else ""
        return f"static partitions [{shown}{more}]"
    week = (
        f", weeks start on {_WEEKDAYS[definition.get('weekStartsOn', 1)]}"
        if definition["grain"] == "weekly"
        else ""
    )
    end = f" to {definition['end']}" if definition.get("end") is not None else ""
    return (
        f"{definition['grain']} partitions from {definition['start']}{end} "
        f"({definition['timezone']}{week})"
    )


def all_keys(definition: PartitionsDefinition, now: datetime) -> list[str]:
    """Keys of every complete partition (static: all keys), in partition order."""
    parts = partitions_of(definition)
    if isinstance(parts, StaticPartitions):
        return list(parts.keys)
    return parts.keys(now)


def keys_in_range(
    definition: PartitionsDefinition, first: str, last: str, asset: str, now: datetime
) -> list[str]:
    """Keys from ``first`` to ``last`` inclusive; raises PartitionError as check_range does."""
    check_range(definition, first, last, asset, now)
    parts = partitions_of(definition)
    if isinstance(parts, StaticPartitions):
        return list(parts.keys[parts.keys.index(first) : parts.keys.index(last) + 1])
    end = parts.order(last)
    out: list[str] = []
    for start in parts.starts(parts.order(first)):
        if start > end:
            break
        out.append(parts.key_of(start))
    return out


def sort_keys(definition: PartitionsDefinition, keys: Iterable[str]) -> list[str]:
    """Keys of one definition, de-duplicated, in partition order."""
    parts = partitions_of(definition)
    unique = list(dict.fromkeys(keys))
    if isinstance(parts, StaticPartitions):
        index = {k: i for i, k in enumerate(parts.keys)}
        return sorted(unique, key=lambda k: index.get(k, len(index)))
    # Unknown keys last; window starts are aware, so their stand-in is too.
    never = datetime.max.replace(tzinfo=UTC)
    return sorted(unique, key=lambda k: parts.wall_of(k) or never)


def keys_overlapping(
    definition: PartitionsDefinition, start: datetime, end: datetime
) -> list[str]:
    """Keys whose window overlaps [start, end), within the start/end bounds (complete or not)."""
    parts = partitions_of(definition)
    assert isinstance(parts, TimePartitions)
    out: list[str] = []
    for window in parts.starts(max(parts.first, parts.containing(start))):
        if window >= end or (parts.end is not None and window >= parts.end):
            break
        out.append(parts.key_of(window))
    return out


def _window_of_key(
    definition: PartitionsDefinition, key: str
) -> tuple[datetime, datetime]:
    parts = partitions_of(definition)
    assert isinstance(parts, TimePartitions)
    return parts.time_window(key)


def upstream_keys(
    down: PartitionsDefinition | None,
    down_keys: Sequence[str],
    up: PartitionsDefinition,
    mapping: PartitionMapping,
    now: datetime,
) -> list[str]:
    """The upstream keys that ``down_keys`` read through ``mapping``, in upstream partition order.

    Like core's upstreamKeys: timeWindow keeps upstream keys within the upstream's bounds even when
    their window is not complete; the caller checks ``down_keys`` and decides whether those may run.
    """
    kind = mapping["type"]
    if kind == "allPartitions":
        return all_keys(up, now)
    if kind == "identity":
        return sort_keys(up, down_keys)
    if kind == "timeWindow":
        if down is None or down["type"] != "time" or up["type"] != "time":
            raise PartitionError(
                "timeWindow mapping needs time partitions on both sides"
            )
        found: list[str] = []
        for k in down_keys:
            start, end = _window_of_key(down, k)
            found += keys_overlapping(up, start, end)
        return sort_keys(up, found)
    raise PartitionError(f"unknown partition mapping {json.dumps(mapping)}")
