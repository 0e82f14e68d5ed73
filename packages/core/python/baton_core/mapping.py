"""Lists of partition keys and partition mappings on the Python side, for the run planner.

A port of core's src/partitions/mapping.ts (upstreamKeys) and of the key lists in time.ts
(partitionKeys, keysInRange, keysOverlapping), built on baton_core.partitions so that the windows,
the DST rules and the key checks are that module's. Everything that touches its time internals is
in the ``_``-functions below.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

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


# -- the time primitives used (baton_core.partitions.TimePartitions) -----------------------------
# Windows are named by their start (``first``, ``end``, ``order(key)``, ``starts``, ``key_of``),
# as in Dagster; the fallbacks serve the older wall-based TimePartitions.


def _walls(parts: TimePartitions, start: datetime) -> Iterator[datetime]:
    """Window starts from ``start`` on (``start`` must be one)."""
    if hasattr(parts, "starts"):
        yield from parts.starts(start)
        return
    while True:
        yield start
        start = parts._step(start, 1)


def _window(parts: TimePartitions, start: datetime) -> tuple[datetime, datetime]:
    if hasattr(parts, "window"):
        return parts.window(start)
    return parts._instant(start), parts._end_of(start)


def _floor_instant(parts: TimePartitions, instant: datetime) -> datetime:
    if hasattr(parts, "containing"):
        return parts.containing(instant)
    return parts._floor(parts._wall_at(instant))


def _last_complete(parts: TimePartitions, now: datetime) -> datetime:
    if hasattr(parts, "_last_complete_start"):
        return parts._last_complete_start(now)
    return parts._last_complete_wall(now)


# -- key lists -------------------------------------------------------------------------------------


def describe_partitions(definition: dict[str, Any] | None) -> str:
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


def all_keys(definition: dict[str, Any], now: datetime) -> list[str]:
    """Keys of every complete partition (static: all keys), in partition order."""
    parts = partitions_of(definition)
    if isinstance(parts, StaticPartitions):
        return list(parts.keys)
    if hasattr(parts, "keys"):
        return parts.keys(now)
    last = _last_complete(parts, now)
    out: list[str] = []
    for wall in _walls(parts, parts.first):
        if wall > last:
            break
        out.append(parts.key_of(wall))
    return out


def keys_in_range(
    definition: dict[str, Any], first: str, last: str, asset: str, now: datetime
) -> list[str]:
    """Keys from ``first`` to ``last`` inclusive; raises PartitionError as check_range does."""
    check_range(definition, first, last, asset, now)
    parts = partitions_of(definition)
    if isinstance(parts, StaticPartitions):
        return list(parts.keys[parts.keys.index(first) : parts.keys.index(last) + 1])
    end = parts.order(last)
    out: list[str] = []
    for wall in _walls(parts, parts.order(first)):
        if wall > end:
            break
        out.append(parts.key_of(wall))
    return out


def sort_keys(definition: dict[str, Any], keys: Iterable[str]) -> list[str]:
    """Keys of one definition, de-duplicated, in partition order."""
    parts = partitions_of(definition)
    unique = list(dict.fromkeys(keys))
    if isinstance(parts, StaticPartitions):
        index = {k: i for i, k in enumerate(parts.keys)}
        return sorted(unique, key=lambda k: index.get(k, len(index)))
    return sorted(
        unique,
        key=lambda k: (parts.wall_of(k) is None, parts.wall_of(k) or datetime.min),
    )


def keys_overlapping(
    definition: dict[str, Any], start: datetime, end: datetime
) -> list[str]:
    """Keys whose window overlaps [start, end), within the start/end bounds (complete or not)."""
    parts = partitions_of(definition)
    assert isinstance(parts, TimePartitions)
    out: list[str] = []
    for wall in _walls(parts, max(parts.first, _floor_instant(parts, start))):
        if _window(parts, wall)[0] >= end or (
            parts.end is not None and wall >= parts.end
        ):
            break
        out.append(parts.key_of(wall))
    return out


def _window_of_key(definition: dict[str, Any], key: str) -> tuple[datetime, datetime]:
    parts = partitions_of(definition)
    assert isinstance(parts, TimePartitions)
    if hasattr(parts, "time_window"):
        return parts.time_window(key)
    wall = parts.wall_of(key)
    if wall is None or not parts._in_bounds(wall):
        raise PartitionError(f"unknown partition key {json.dumps(key)}")
    return _window(parts, wall)


def upstream_keys(
    down: dict[str, Any] | None,
    down_keys: Sequence[str],
    up: dict[str, Any],
    mapping: dict[str, Any],
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
