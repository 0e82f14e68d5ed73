"""Partition keys on the Python side, so a run's partition is checked before any step starts.

A port of the rules in @baton/core (src/partitions/time.ts), which are Dagster's: daily, weekly and
monthly windows step by calendar arithmetic on "walls" (naive local times in the partitions'
timezone) and start at the first occurrence of their wall time (in a DST gap, read with the offset
before the gap); hourly windows start at every instant whose wall time is on the hour, so the
hour a fall-back repeats is two windows, the second keyed with its UTC offset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import cast
from zoneinfo import ZoneInfo

from .manifest_types import (
    PartitionsDefinition,
    StaticPartitionsDefinition,
    TimePartitionsDefinition,
)

_TOKEN_WIDTH = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2}
_ISO_LOCAL = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?$")
_LIST_LIMIT = 20
# Dagster's key for the second pass of a repeated hour: the key, then strftime's %z.
_OFFSET_SUFFIX = re.compile(r"([+-])(\d{2})(\d{2})(\d{2})?$")


class PartitionError(ValueError):
    """A partition key or range that the asset's partitions do not have."""


def _format_parts(fmt: str) -> tuple[tuple[str, str], ...]:
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
                raise PartitionError(f'format "{fmt}" uses unsupported token "%{t}"')
        i += 1
    if literal:
        parts.append(("literal", literal))
    return tuple(parts)


def _iso(instant: datetime, zone: ZoneInfo) -> str:
    """An instant as core prints it (Luxon's toISO in the partitions' timezone)."""
    text = instant.astimezone(zone).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z" if zone.key in ("UTC", "Etc/UTC") else text


class TimePartitions:
    """Hourly, daily, weekly or monthly windows from ``start`` (inclusive) to ``end`` (exclusive).

    A window is named by its start instant (an aware UTC datetime), as in Dagster: daily, weekly
    and monthly windows start at the first occurrence of their wall time (in a DST gap, when the
    clocks jump); hourly windows start at every instant whose wall time is on the hour, so a
    fall-back's repeated hour is two windows and the second one's key ends in its UTC offset
    ("2024-11-03-01:00-0500").
    """

    def __init__(self, definition: TimePartitionsDefinition) -> None:
        self.grain: str = definition["grain"]
        self.format: str = definition["format"]
        self.timezone: str = definition["timezone"]
        self.zone = ZoneInfo(self.timezone)
        self.week_starts_on: int = definition.get("weekStartsOn", 1)
        self.parts = _format_parts(self.format)
        first = self._parse_iso(definition["start"])
        end = self._parse_iso(definition["end"]) if definition.get("end") else None
        if first is None or (definition.get("end") and end is None):
            raise PartitionError(f"invalid time partitions definition {definition}")
        self.first: datetime = self._resolve(first)
        self.end: datetime | None = None if end is None else self._resolve(end)

    # -- walls, offsets and instants ----------------------------------------------------------
    # Walls are naive local times; instants are aware UTC datetimes; hourly stepping works on
    # whole epoch seconds (every window starts on one).

    def _resolve(self, wall: datetime) -> datetime:
        """The instant a wall time means: its first occurrence; in a gap, read with the offset before."""
        return wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)

    def _local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone).replace(tzinfo=None)

    def _offset(self, s: int) -> int:
        offset = datetime.fromtimestamp(s, self.zone).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    def _change(self, a: int, b: int) -> int:
        """The first second in (a, b] whose offset differs from a's (one change at most)."""
        o = self._offset(a)
        lo, hi = a, b
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._offset(mid) == o:
                lo = mid
            else:
                hi = mid
        return hi

    def _next_hour(self, s: int) -> int:
        """The first second after ``s`` whose wall time is on the hour."""
        frm = s + 1
        while True:
            o = self._offset(frm)
            c = frm + (-(frm + o)) % 3600
            if self._offset(c) == o:
                return c
            frm = self._change(frm, c)

    def _previous_hour(self, s: int) -> int:
        """The last second before ``s`` whose wall time is on the hour."""
        to = s - 1
        while True:
            o = self._offset(to)
            c = to - (to + o) % 3600
            if self._offset(c) == o:
                return c
            to = self._change(c, to) - 1

    def _parse_iso(self, text: str) -> datetime | None:
        m = _ISO_LOCAL.match(text)
        if not m:
            return None
        try:
            y, mo, d, h, mi, sec = (int(g) if g else 0 for g in m.groups())
            wall = datetime(y, mo, d, h, mi, sec)
        except ValueError:
            return None
        return wall if self._local(self._resolve(wall)) == wall else None

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
        if self.grain == "daily":
            return wall + timedelta(days=direction)
        if self.grain == "weekly":
            return wall + timedelta(days=7 * direction)
        months = wall.year * 12 + wall.month - 1 + direction
        return wall.replace(year=months // 12, month=months % 12 + 1, day=1)

    # -- windows (named by their start instant) -----------------------------------------------

    def wall_at(self, start: datetime) -> datetime:
        """The wall time of the window that starts at ``start``."""
        local = self._local(start)
        return local if self.grain == "hourly" else self._floor(local)

    def next_start(self, start: datetime, direction: int = 1) -> datetime:
        """The start of the next (direction -1: previous) window."""
        if self.grain == "hourly":
            s = int(start.timestamp())
            s = self._next_hour(s) if direction > 0 else self._previous_hour(s)
            return datetime.fromtimestamp(s, UTC)
        return self._resolve(self._shift(self.wall_at(start), direction))

    def containing(self, instant: datetime) -> datetime:
        """The start of the window that contains ``instant``."""
        if self.grain == "hourly":
            s = int(instant.timestamp() // 1) + 1
            return datetime.fromtimestamp(self._previous_hour(s), UTC)
        start = self._resolve(self._floor(self._local(instant)))
        while start > instant:
            start = self.next_start(start, -1)
        return start

    def window(self, start: datetime) -> tuple[datetime, datetime]:
        return start, self.next_start(start)

    def _in_bounds(self, start: datetime) -> bool:
        return start >= self.first and (self.end is None or start < self.end)

    def _last_complete_start(self, at: datetime) -> datetime:
        start = self.next_start(self.containing(at), -1)
        if self.end is not None and start >= self.end:
            return self.next_start(self.end, -1)
        return start

    def starts(self, first: datetime) -> Iterator[datetime]:
        """Window starts from ``first`` on (``first`` must be one)."""
        start = first
        while True:
            yield start
            start = self.next_start(start)

    def _is_repeat(self, start: datetime) -> bool:
        """An hourly window at the second pass of its wall time (a fall-back's repeated hour)."""
        return self.grain == "hourly" and self._resolve(self._local(start)) < start

    # -- keys ---------------------------------------------------------------------------------

    def key_of(self, start: datetime) -> str:
        """The key of the window that starts at ``start``."""
        wall = self.wall_at(start)
        fields = {
            "Y": wall.year,
            "m": wall.month,
            "d": wall.day,
            "H": wall.hour,
            "M": wall.minute,
        }
        key = "".join(
            str(fields[v]).zfill(_TOKEN_WIDTH[v]) if kind == "token" else v
            for kind, v in self.parts
        )
        # Dagster's form: strftime's %z appended.
        return (
            key + start.astimezone(self.zone).strftime("%z")
            if self._is_repeat(start)
            else key
        )

    def _parse_wall(self, text: str) -> datetime | None:
        fields = {"Y": 0, "m": 1, "d": 1, "H": 0, "M": 0}
        rest = text
        for kind, value in self.parts:
            if kind == "literal":
                if not rest.startswith(value):
                    return None
                rest = rest[len(value) :]
                continue
            width = _TOKEN_WIDTH[value]
            digits = rest[:width]
            if len(digits) != width or not digits.isdigit() or not digits.isascii():
                return None
            fields[value] = int(digits)
            rest = rest[width:]
        if rest:
            return None
        try:
            return datetime(
                fields["Y"], fields["m"], fields["d"], fields["H"], fields["M"]
            )
        except ValueError:
            return None

    def instant_of(self, key: str) -> datetime | None:
        """The instant ``key`` names (a wall time, or a wall time and UTC offset), if it parses."""
        wall = self._parse_wall(key)
        if wall is not None:
            return self._resolve(wall)
        m = _OFFSET_SUFFIX.search(key)
        if not m:
            return None
        base = self._parse_wall(key[: m.start()])
        if base is None:
            return None
        sign, h, mi, s = m.groups()
        offset = timedelta(hours=int(h), minutes=int(mi), seconds=int(s or 0))
        return (base - offset if sign == "+" else base + offset).replace(tzinfo=UTC)

    def wall_of(self, key: str) -> datetime | None:
        """The start of the window ``key`` names, when it is exactly a window start's key."""
        instant = self.instant_of(key)
        if instant is None:
            return None
        start = self.containing(instant)
        return start if start == instant and self.key_of(start) == key else None

    def has_key(self, key: str, now: datetime) -> bool:
        """Whether ``key`` starts a window inside the bounds that is complete at ``now``."""
        start = self.wall_of(key)
        return (
            start is not None
            and self._in_bounds(start)
            and self.next_start(start) <= now
        )

    def keys(self, now: datetime) -> list[str]:
        """Keys of every window complete at ``now``, in order (core's partitionKeys)."""
        last = self._last_complete_start(now)
        out: list[str] = []
        for start in self.starts(self.first):
            if start > last:
                return out
            out.append(self.key_of(start))
        return out

    def time_window(self, key: str) -> tuple[datetime, datetime]:
        """[start, end) of ``key``'s window inside the bounds (core's timeWindowOf)."""
        start = self.wall_of(key)
        if start is None or not self._in_bounds(start):
            raise PartitionError(f"unknown partition key {json.dumps(key)}")
        return self.window(start)

    def key_for_time(self, instant: datetime) -> str | None:
        """The key of the window containing ``instant``, or None outside the bounds."""
        start = self.containing(instant)
        return self.key_of(start) if self._in_bounds(start) else None

    def last_complete_key(self, at: datetime, offset: int = 0) -> str | None:
        """The last window that ended at or before ``at`` (clamped to the end), ``offset`` windows back."""
        if offset < 0:
            raise PartitionError(
                f"partition offset {offset} is not a whole number >= 0"
            )
        start = self._last_complete_start(at)
        for _ in range(offset):
            if start < self.first:
                break
            start = self.next_start(start, -1)
        return self.key_of(start) if start >= self.first else None

    def why_not(self, key: str, now: datetime) -> str:
        start = self.wall_of(key)
        if start is None:
            return (
                f' (not the start of a {self.grain} window in format "{self.format}")'
            )
        if not self._in_bounds(start):
            return " (outside the partitions' start and end)"
        ends = _iso(self.next_start(start), self.zone)
        return f" (its window is not complete: it ends at {ends})"

    def valid_range(self, now: datetime) -> str:
        first = self.key_of(self.first)
        last = self._last_complete_start(now)
        if last < self.first:
            ends = _iso(self.next_start(self.first), self.zone)
            return f'no partition is complete yet: the first, "{first}", ends at {ends}'
        return (
            f'valid keys run from "{first}" to "{self.key_of(last)}" '
            f'({self.grain} windows, format "{self.format}", {self.timezone})'
        )

    def order(self, key: str) -> datetime:
        start = self.wall_of(key)
        if start is None:
            raise PartitionError(f"unknown partition key {json.dumps(key)}")
        return start

    def is_reversed(self, first: str, last: str) -> bool:
        """Whether the range ``first``...``last`` (both keys) ends before it starts."""
        return self.order(first) > self.order(last)


def _cron_hours(field: str) -> set[int]:
    """The hours a cron hour field matches (``*``, ``*/n``, ``a``, ``a-b``, ``a-b/n``, ``a/n``, lists)."""
    hours: set[int] = set()
    for part in field.split(","):
        rng, _, step = part.partition("/")
        if rng == "*":
            lo, hi = 0, 23
        elif "-" in rng:
            lo, hi = (int(x) for x in rng.split("-", 1))
        else:
            lo = int(rng)
            hi = 23 if step else lo
        hours.update(range(lo, hi + 1, int(step) if step else 1))
    return hours


def repeats_every_hour(cron: str) -> bool:
    """Whether a cron's hour field covers every hour (core's repeatsEveryHour)."""
    text = cron.strip().lower()
    if text.startswith("@"):
        return text == "@hourly"
    return len(_cron_hours(text.split()[1]) & set(range(24))) == 24


def schedule_tick(fired: datetime, cron: str, timezone: str) -> datetime:
    """The Baton tick that an orchestrator's cron tick at ``fired`` stands for (core's cron.ts rule).

    Dagster and Airflow fire a cron whose wall time happens twice (``30 1 * * *`` in New York on
    2024-11-03) at its second pass; Baton and Prefect tick at the first, an hour earlier. Computing
    the run (its last complete partition, its run key) from the first pass makes every runtime
    request the same run, and never one whose window has not ended. Crons that repeat every hour
    tick in both passes everywhere and are returned unchanged; so is every other instant.
    """
    if repeats_every_hour(cron):
        return fired
    local = fired.astimezone(ZoneInfo(timezone))
    return local.replace(fold=0).astimezone(UTC)


# The rules of core's staticPartitions() (src/partitions/define.ts), with the same words: keys name
# storage folders, CLI lists and FIRST...LAST ranges, and Dagster refuses "..." and control characters.
_RESERVED_KEYS = (".", "..", "__unpartitioned__")
_CONTROL = re.compile("[\u0000-\u001f\u007f-\u009f\u2028\u2029]")
# What JavaScript's String.prototype.trim() removes (str.strip() removes a different set).
_JS_SPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def _static_key_problem(k: object) -> str | None:
    def shown(v: object) -> str:
        return json.dumps(v, ensure_ascii=False)

    if not isinstance(k, str) or k.strip(_JS_SPACE) == "":
        return f"static partition key {shown(k)} is not a non-empty string; give every key some text"
    if _CONTROL.search(k):
        return (
            f"static partition key {shown(k)} contains a control character or line break; "
            "remove it: logs would split the key and Dagster refuses such keys"
        )
    if "/" in k or "," in k:
        return (
            f'static partition key {shown(k)} contains "/" or ","; '
            'keys become path segments and CLI lists: use "-" or "_" instead'
        )
    if "..." in k:
        return (
            f'static partition key {shown(k)} contains "..."; "..." separates the ends of a '
            'partition range (FIRST...LAST) and Dagster refuses it: use "-" or "_" instead'
        )
    if k in _RESERVED_KEYS:
        example = (
            '"unpartitioned"' if k == "__unpartitioned__" else '"current" or "parent"'
        )
        return (
            f'static partition key {shown(k)} is reserved; "." and ".." are relative folder names '
            'and "__unpartitioned__" is where unpartitioned outputs are stored: '
            f"use a word, e.g. {example}"
        )
    if k != k.strip(_JS_SPACE):
        return f"static partition key {shown(k)} has leading or trailing whitespace; trim it"
    return None


def static_partitions_problem(definition: Mapping[str, object]) -> str | None:
    """Why a static partitions definition is invalid ("problem; fix", as core says it), or None."""
    keys = definition.get("keys")
    if not isinstance(keys, list) or not keys:
        return 'static partitions need at least one key; pass a list of keys, e.g. staticPartitions(["eu", "us"])'
    seen: set[str] = set()
    for k in keys:
        problem = _static_key_problem(k)
        if problem:
            return problem
        assert isinstance(k, str)  # checked by _static_key_problem
        if k in seen:
            return f'static partition key "{k}" is listed twice; list each key once'
        seen.add(k)
    return None


class StaticPartitions:
    """A fixed list of keys, in the order they were declared."""

    def __init__(self, definition: StaticPartitionsDefinition) -> None:
        problem = static_partitions_problem(definition)
        if problem:
            raise PartitionError(problem)
        self.keys: tuple[str, ...] = tuple(definition["keys"])

    def has_key(self, key: str, now: datetime) -> bool:
        return key in self.keys

    def why_not(self, key: str, now: datetime) -> str:
        return ""

    def valid_range(self, now: datetime) -> str:
        shown = ", ".join(json.dumps(k) for k in self.keys[:_LIST_LIMIT])
        more = (
            f", … ({len(self.keys) - _LIST_LIMIT} more)"
            if len(self.keys) > _LIST_LIMIT
            else ""
        )
        return f"valid keys: {shown}{more}"

    def order(self, key: str) -> int:
        return self.keys.index(key)

    def is_reversed(self, first: str, last: str) -> bool:
        """Whether the range ``first``...``last`` (both keys) ends before it starts."""
        return self.order(first) > self.order(last)


Partitions = TimePartitions | StaticPartitions


@lru_cache(maxsize=256)
def _partitions(definition_json: str) -> Partitions:
    definition = cast(PartitionsDefinition, json.loads(definition_json))
    if definition["type"] == "time":
        return TimePartitions(definition)
    return StaticPartitions(definition)


def partitions_of(definition: PartitionsDefinition) -> Partitions:
    """The (cached) partitions of a manifest partitions definition."""
    return _partitions(json.dumps(definition, sort_keys=True))


def check_key(
    definition: PartitionsDefinition, key: str, asset: str, now: datetime
) -> None:
    """Raise PartitionError naming the asset, the key and the valid keys unless ``key`` is a partition."""
    parts = partitions_of(definition)
    if not parts.has_key(key, now):
        problem = f"unknown partition key {json.dumps(key)}{parts.why_not(key, now)}"
        raise PartitionError(f'asset "{asset}": {problem}; {parts.valid_range(now)}')


def check_range(
    definition: PartitionsDefinition, first: str, last: str, asset: str, now: datetime
) -> None:
    """Raise PartitionError unless ``first`` and ``last`` are partitions and ``first`` comes first."""
    check_key(definition, first, asset, now)
    check_key(definition, last, asset, now)
    if partitions_of(definition).is_reversed(first, last):
        raise PartitionError(
            f'asset "{asset}": partition range "{first}" to "{last}" ends before it starts'
        )


def parse_range(text: str) -> tuple[str, str]:
    """'FIRST...LAST', the form baton-step takes for --partition-range."""
    first, sep, last = text.partition("...")
    if not sep or not first or not last:
        raise PartitionError(
            f'partition range {json.dumps(text)} is not of the form "FIRST...LAST"'
        )
    return first, last
