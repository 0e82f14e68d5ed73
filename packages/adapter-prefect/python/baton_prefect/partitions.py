"""Partition keys on the Python side, so a run's partition is checked before any task starts.

A port of the rules in @baton/core (partitions/time.ts): time windows are computed on "walls"
(naive local times in the partitions' timezone) with calendar arithmetic, and become instants
only when compared with a clock. Ambiguous wall times take their first occurrence; wall times in
a DST gap are read with the offset before the gap (as core does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .errors import BatonPartitionError

_TOKEN_WIDTH = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2}
_ISO_LOCAL = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?$")
_LIST_LIMIT = 20


def _format_parts(fmt: str) -> list[tuple[str, str]]:
    """("token", "Y") and ("literal", "-") parts of a strftime-style key format."""
    parts: list[tuple[str, str]] = []
    literal = ""
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%":
            literal += c
        else:
            i += 1
            t = fmt[i] if i < len(fmt) else ""
            if t == "%":
                literal += "%"
            elif t in _TOKEN_WIDTH:
                if literal:
                    parts.append(("literal", literal))
                literal = ""
                parts.append(("token", t))
            else:
                raise BatonPartitionError(f'format "{fmt}" uses unsupported token "%{t}"')
        i += 1
    if literal:
        parts.append(("literal", literal))
    return parts


class TimePartitions:
    """Hourly, daily, weekly or monthly windows from `start` (inclusive) to `end` (exclusive)."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self.definition = definition
        self.grain: str = definition["grain"]
        self.zone = ZoneInfo(definition["timezone"])
        self.format: str = definition["format"]
        self.parts = _format_parts(self.format)
        self.week_starts_on: int = definition.get("weekStartsOn", 1)
        first = self._parse_iso(definition["start"])
        end = self._parse_iso(definition["end"]) if definition.get("end") else None
        if first is None or (definition.get("end") and end is None):
            raise BatonPartitionError(f"invalid time partitions definition {definition}")
        self.first: datetime = first
        self.end: datetime | None = end

    # -- walls and instants -------------------------------------------------------------------

    def _instant(self, wall: datetime) -> datetime:
        return wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)

    def _wall_at(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone).replace(tzinfo=None)

    def _exists(self, wall: datetime) -> bool:
        # Only hourly windows can start inside a DST gap, and those never happen.
        return self.grain != "hourly" or self._wall_at(self._instant(wall)) == wall

    def _parse_iso(self, text: str) -> datetime | None:
        m = _ISO_LOCAL.match(text)
        if not m:
            return None
        try:
            wall = datetime(*(int(g) if g else 0 for g in m.groups()))
        except ValueError:
            return None
        return wall if self._wall_at(self._instant(wall)) == wall else None

    def _floor(self, wall: datetime) -> datetime:
        if self.grain == "hourly":
            return wall.replace(minute=0, second=0, microsecond=0)
        day = wall.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.grain == "daily":
            return day
        if self.grain == "weekly":
            js_weekday = (day.weekday() + 1) % 7  # 0 = Sunday, as in the manifest
            return day - timedelta(days=(js_weekday - self.week_starts_on) % 7)
        return day.replace(day=1)

    def _shift(self, wall: datetime, direction: int) -> datetime:
        if self.grain == "hourly":
            return wall + timedelta(hours=direction)
        if self.grain == "daily":
            return wall + timedelta(days=direction)
        if self.grain == "weekly":
            return wall + timedelta(days=7 * direction)
        months = wall.year * 12 + wall.month - 1 + direction
        return wall.replace(year=months // 12, month=months % 12 + 1, day=1)

    def _step(self, wall: datetime, direction: int) -> datetime:
        wall = self._shift(wall, direction)
        while not self._exists(wall):
            wall = self._shift(wall, direction)
        return wall

    def _end_of(self, wall: datetime) -> datetime:
        return self._instant(self._step(wall, 1))

    def _in_bounds(self, wall: datetime) -> bool:
        return wall >= self.first and (self.end is None or wall < self.end)

    def _last_complete_wall(self, at: datetime) -> datetime:
        wall = self._step(self._floor(self._wall_at(at)), -1)
        if self.end is not None and wall >= self.end:
            return self._step(self.end, -1)
        return wall

    # -- keys ---------------------------------------------------------------------------------

    def key_of(self, wall: datetime) -> str:
        fields = {"Y": wall.year, "m": wall.month, "d": wall.day, "H": wall.hour, "M": wall.minute}
        return "".join(str(fields[v]).zfill(_TOKEN_WIDTH[v]) if kind == "token" else v for kind, v in self.parts)

    def wall_of(self, key: str) -> datetime | None:
        """The wall of the window `key` starts, when it is a well-formed window start."""
        fields = {"Y": 0, "m": 1, "d": 1, "H": 0, "M": 0}
        rest = key
        for kind, value in self.parts:
            if kind == "literal":
                if not rest.startswith(value):
                    return None
                rest = rest[len(value) :]
                continue
            width = _TOKEN_WIDTH[value]
            digits = rest[:width]
            if len(digits) != width or not digits.isdigit():
                return None
            fields[value] = int(digits)
            rest = rest[width:]
        if rest:
            return None
        try:
            wall = datetime(fields["Y"], fields["m"], fields["d"], fields["H"], fields["M"])
        except ValueError:
            return None
        if self.key_of(wall) != key or self._floor(wall) != wall or not self._exists(wall):
            return None
        return wall

    def has_key(self, key: str, now: datetime) -> bool:
        wall = self.wall_of(key)
        return wall is not None and self._in_bounds(wall) and self._end_of(wall) <= now

    def last_complete_key(self, at: datetime, offset: int = 0) -> str | None:
        wall = self._last_complete_wall(at)
        for _ in range(offset):
            if wall < self.first:
                break
            wall = self._step(wall, -1)
        return self.key_of(wall) if wall >= self.first else None

    def problem(self, key: str, now: datetime) -> str:
        """Why `key` is not a complete partition, with the valid range, as core words it."""
        wall = self.wall_of(key)
        if wall is None:
            why = f' (not the start of a {self.grain} window in format "{self.format}")'
        elif not self._in_bounds(wall):
            why = " (outside the partitions' start and end)"
        else:
            why = f" (its window is not complete: it ends at {self._end_of(wall).isoformat()})"
        last = self._last_complete_wall(now)
        first = self.key_of(self.first)
        if last < self.first:
            ends = self._end_of(self.first).isoformat()
            valid = f'no partition is complete yet: the first, "{first}", ends at {ends}'
        else:
            valid = (
                f'valid keys run from "{first}" to "{self.key_of(last)}" '
                f'({self.grain} windows, format "{self.format}", {self.definition["timezone"]})'
            )
        return f'unknown partition key "{key}"{why}; {valid}'

    def order(self, key: str) -> datetime:
        wall = self.wall_of(key)
        assert wall is not None
        return wall


@dataclass(frozen=True)
class StaticPartitions:
    keys: tuple[str, ...]

    def has_key(self, key: str, now: datetime) -> bool:
        return key in self.keys

    def problem(self, key: str, now: datetime) -> str:
        shown = ", ".join(f'"{k}"' for k in self.keys[:_LIST_LIMIT])
        more = f", … ({len(self.keys) - _LIST_LIMIT} more)" if len(self.keys) > _LIST_LIMIT else ""
        return f'unknown partition key "{key}"; valid keys: {shown}{more}'

    def order(self, key: str) -> int:
        return self.keys.index(key)


Partitions = TimePartitions | StaticPartitions


def partitions_of(definition: dict[str, Any] | None) -> Partitions | None:
    if definition is None:
        return None
    if definition["type"] == "static":
        return StaticPartitions(tuple(definition["keys"]))
    return TimePartitions(definition)


def check_key(partitions: Partitions, key: str, asset_id: str, now: datetime) -> None:
    if not partitions.has_key(key, now):
        raise BatonPartitionError(f'asset "{asset_id}": {partitions.problem(key, now)}')


def check_range(partitions: Partitions, start: str, end: str, asset_id: str, now: datetime) -> None:
    check_key(partitions, start, asset_id, now)
    check_key(partitions, end, asset_id, now)
    if partitions.order(start) > partitions.order(end):  # type: ignore[operator]
        raise BatonPartitionError(f'asset "{asset_id}": partition range "{start}" to "{end}" ends before it starts')
