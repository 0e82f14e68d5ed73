"""Baton partitions in Python: enough to check a key and pick a run's key without starting Node.

Mirrors @baton/core's partitions/time.ts. Time partitions are reasoned about on "walls": naive
local times in the partitions' timezone, so calendar steps (next day, next month) ignore DST;
a wall becomes an instant only through ``_instant`` (earlier instant when a wall time happens
twice, pre-gap offset when it never happens, as core does).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

_WIDTH = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2}
_LIST_LIMIT = 20


class PartitionError(ValueError):
    """A partition key (or range) that the asset's partitions do not have."""


def _format_parts(fmt: str) -> tuple[tuple[str, str], ...]:
    """('lit', text) and ('tok', letter) pieces of a strftime-style format."""
    parts: list[tuple[str, str]] = []
    literal = ""
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%" and i + 1 < len(fmt):
            t = fmt[i + 1]
            i += 2
            if t == "%":
                literal += "%"
            elif t in _WIDTH:
                if literal:
                    parts.append(("lit", literal))
                literal = ""
                parts.append(("tok", t))
            else:
                raise PartitionError(f"format {fmt!r} uses unsupported token %{t}")
            continue
        literal += c
        i += 1
    if literal:
        parts.append(("lit", literal))
    return tuple(parts)


class TimePartitions:
    """Hourly, daily, weekly or monthly windows from ``start`` (inclusive) to ``end`` (exclusive)."""

    def __init__(self, definition: dict) -> None:
        self.grain: str = definition["grain"]
        self.timezone: str = definition["timezone"]
        self.format: str = definition["format"]
        self.zone = ZoneInfo(self.timezone)
        self.week_starts_on: int = definition.get("weekStartsOn", 1)
        self._parts = _format_parts(self.format)
        self.first = _parse_local_iso(definition["start"])
        self.end = _parse_local_iso(definition["end"]) if definition.get("end") else None

    # walls ---------------------------------------------------------------------------------
    def _instant(self, wall: datetime) -> datetime:
        return wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)

    def _wall_at(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone).replace(tzinfo=None)

    def _exists(self, wall: datetime) -> bool:
        # Only hourly windows can start inside a DST gap.
        return self.grain != "hourly" or self._wall_at(self._instant(wall)) == wall

    def _floor(self, wall: datetime) -> datetime:
        if self.grain == "hourly":
            return wall.replace(minute=0, second=0, microsecond=0)
        day = wall.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.grain == "daily":
            return day
        if self.grain == "weekly":
            sunday_based = (day.weekday() + 1) % 7
            return day - timedelta(days=(sunday_based - self.week_starts_on) % 7)
        return day.replace(day=1)

    def _shift(self, wall: datetime, direction: int) -> datetime:
        if self.grain == "hourly":
            return wall + timedelta(hours=direction)
        if self.grain == "daily":
            return wall + timedelta(days=direction)
        if self.grain == "weekly":
            return wall + timedelta(days=7 * direction)
        month = wall.year * 12 + wall.month - 1 + direction
        return wall.replace(year=month // 12, month=month % 12 + 1, day=1)

    def _step(self, wall: datetime, direction: int) -> datetime:
        w = self._shift(wall, direction)
        while not self._exists(w):
            w = self._shift(w, direction)
        return w

    def _in_bounds(self, wall: datetime) -> bool:
        return wall >= self.first and (self.end is None or wall < self.end)

    def _end_of(self, wall: datetime) -> datetime:
        return self._instant(self._step(wall, 1))

    def _last_complete_wall(self, at: datetime) -> datetime:
        wall = self._step(self._floor(self._wall_at(at)), -1)
        if self.end is not None and wall >= self.end:
            return self._step(self.end, -1)
        return wall

    # keys ----------------------------------------------------------------------------------
    def key_of(self, wall: datetime) -> str:
        values = {"Y": wall.year, "m": wall.month, "d": wall.day, "H": wall.hour, "M": wall.minute}
        return "".join(text if kind == "lit" else str(values[text]).zfill(_WIDTH[text]) for kind, text in self._parts)

    def _wall_of_key(self, key: str) -> datetime | None:
        fields = {"Y": 0, "m": 1, "d": 1, "H": 0, "M": 0}
        rest = key
        for kind, text in self._parts:
            if kind == "lit":
                if not rest.startswith(text):
                    return None
                rest = rest[len(text) :]
                continue
            digits = rest[: _WIDTH[text]]
            if len(digits) != _WIDTH[text] or not digits.isdigit():
                return None
            fields[text] = int(digits)
            rest = rest[_WIDTH[text] :]
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
        wall = self._wall_of_key(key)
        return wall is not None and self._in_bounds(wall) and self._end_of(wall) <= now

    def last_complete_key(self, at: datetime, offset: int = 0) -> str | None:
        """The last window that ended at or before ``at``, ``offset`` windows further back."""
        wall = self._last_complete_wall(at)
        for _ in range(offset):
            if wall < self.first:
                break
            wall = self._step(wall, -1)
        return self.key_of(wall) if wall >= self.first else None

    def why_not(self, key: str, now: datetime) -> str:
        wall = self._wall_of_key(key)
        if wall is None:
            return f" (not the start of a {self.grain} window in format {json.dumps(self.format)})"
        if not self._in_bounds(wall):
            return " (outside the partitions' start and end)"
        return f" (its window is not complete: it ends at {self._end_of(wall).astimezone(self.zone).isoformat()})"

    def valid_range(self, now: datetime) -> str:
        first = self.key_of(self.first)
        last = self._last_complete_wall(now)
        if last < self.first:
            return f'no partition is complete yet: the first, "{first}", ends at {self._end_of(self.first).isoformat()}'
        return (
            f'valid keys run from "{first}" to "{self.key_of(last)}" '
            f'({self.grain} windows, format "{self.format}", {self.timezone})'
        )

    def order(self, key: str) -> datetime:
        wall = self._wall_of_key(key)
        assert wall is not None
        return wall


class StaticPartitions:
    def __init__(self, definition: dict) -> None:
        self.keys: tuple[str, ...] = tuple(definition["keys"])

    def has_key(self, key: str, now: datetime) -> bool:
        return key in self.keys

    def why_not(self, key: str, now: datetime) -> str:
        return ""

    def valid_range(self, now: datetime) -> str:
        shown = ", ".join(json.dumps(k) for k in self.keys[:_LIST_LIMIT])
        more = f", … ({len(self.keys) - _LIST_LIMIT} more)" if len(self.keys) > _LIST_LIMIT else ""
        return f"valid keys: {shown}{more}"

    def order(self, key: str) -> int:
        return self.keys.index(key)


def _parse_local_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


@lru_cache(maxsize=256)
def _partitions(definition_json: str) -> TimePartitions | StaticPartitions:
    definition = json.loads(definition_json)
    return TimePartitions(definition) if definition["type"] == "time" else StaticPartitions(definition)


def partitions_of(definition: dict) -> TimePartitions | StaticPartitions:
    """The (cached) partitions object of a manifest partitions definition."""
    return _partitions(json.dumps(definition, sort_keys=True))


def check_key(definition: dict, key: str, asset: str, now: datetime) -> None:
    """Raise PartitionError naming the key, the asset and the valid keys unless ``key`` is a partition."""
    parts = partitions_of(definition)
    if parts.has_key(key, now):
        return
    raise PartitionError(
        f"unknown partition key {json.dumps(key)}{parts.why_not(key, now)} for asset {asset}; {parts.valid_range(now)}"
    )


def check_range(definition: dict, first: str, last: str, asset: str, now: datetime) -> None:
    check_key(definition, first, asset, now)
    check_key(definition, last, asset, now)
    parts = partitions_of(definition)
    if parts.order(first) > parts.order(last):
        raise PartitionError(f'partition range "{first}" to "{last}" ends before it starts (asset {asset})')


def parse_range(text: str) -> tuple[str, str]:
    """'FIRST...LAST', the form baton-step takes."""
    first, sep, last = text.partition("...")
    if not sep or not first or not last:
        raise PartitionError(f'partition range {json.dumps(text)} is not of the form "FIRST...LAST"')
    return first, last
