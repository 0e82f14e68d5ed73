"""What a run materializes, decided once: a port of core's src/plan.ts over the manifest.

Every adapter plans with this module (and core's executor with plan.ts); the rules are in core's
README under "What a run means". In short:

- no selection (or "*") and no partition key: unpartitioned assets run; partitioned ones are
  skipped with a reason. An explicit selection of a partitioned asset without a key is an error.
- a key (or range) is one of the selection's leaves (selected assets with no selected
  downstream); each selected upstream gets the keys its selected consumers read through their
  inputs' partition mappings, unioned. Unpartitioned assets run once, with a warning; a key when
  nothing selected is partitioned is an error.
- a schedule tick runs the last complete window; after the partitions' end, it skips.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .manifest_types import (
    ManifestAsset,
    ManifestData,
    PartitionMapping,
    PartitionsDefinition,
    TimePartitionsDefinition,
)
from .mapping import describe_partitions, keys_in_range, sort_keys, upstream_keys
from .partitions import (
    PartitionError,
    StaticPartitions,
    TimePartitions,
    check_key,
    partitions_of,
    schedule_tick,
)
from .selection import SelectionError, is_everything, select_assets

if TYPE_CHECKING:
    from .manifest import Manifest

KEY_HINT = (
    "pass a partition key or a range: --partition KEY or --partition-range FIRST...LAST "
    "(partition_key or partition_range in an orchestrator's run parameters)"
)


class PlanError(ValueError):
    """A run that cannot be planned. Deterministic: retrying cannot help.

    ``code`` is core's BatonError code, ``asset`` the asset it is about (or None); ``str(e)`` is
    the text core's BatonError has (``asset "X": problem`` then ``\\n  fix: hint``).
    """

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        code: str = "UNKNOWN_PARTITION",
        asset: str | None = None,
    ) -> None:
        self.problem = message
        self.message = f'asset "{asset}": {message}' if asset is not None else message
        self.hint = hint
        self.code = code
        self.asset = asset
        super().__init__(f"{self.message}\n  fix: {hint}" if hint else self.message)


@dataclass(frozen=True)
class PlannedAsset:
    """One asset of the run: its partition keys in partition order, or None when unpartitioned."""

    asset_id: str
    partition_keys: list[str] | None
    # The keys as runs of consecutive partitions (first, last): one baton-step call each.
    ranges: list[tuple[str, str]] | None = None

    def step_args(self) -> list[list[str]]:
        """baton-step partition arguments, one list per step (``[[]]`` when unpartitioned)."""
        if self.ranges is None:
            return [[]]
        return [
            ["--partition", a] if a == b else ["--partition-range", f"{a}...{b}"]
            for a, b in self.ranges
        ]


@dataclass(frozen=True)
class Skipped:
    asset_id: str
    reason: str


@dataclass(frozen=True)
class RunPlan:
    assets: list[PlannedAsset] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def asset_ids(self) -> list[str]:
        return [a.asset_id for a in self.assets]

    def get(self, asset_id: str) -> PlannedAsset | None:
        return next((a for a in self.assets if a.asset_id == asset_id), None)

    def first_in_run_order(self, failed: Iterable[str]) -> str | None:
        """The failure a run reports when several assets failed: the first of ``failed`` in run
        order (the plan's dependency order), whatever order they finished in."""
        wanted = set(failed)
        return next((a.asset_id for a in self.assets if a.asset_id in wanted), None)

    def to_json(self) -> dict[str, Any]:
        """The plan as core's planRun returns it (camelCase), for comparisons and logs."""
        return {
            "assets": [
                {"id": a.asset_id, "partitionKeys": a.partition_keys}
                for a in self.assets
            ],
            "skipped": [{"id": s.asset_id, "reason": s.reason} for s in self.skipped],
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class TickPlan:
    """What a schedule tick runs: ``plan`` is None and ``skip_reason`` says why when nothing runs."""

    tick_time: str
    partition_key: str | None
    run_key: str | None
    skip_reason: str | None
    plan: RunPlan | None
    targets: list[str] = field(default_factory=list)


# -- helpers ---------------------------------------------------------------------------------------


def _data(manifest: Manifest | ManifestData) -> ManifestData:
    return manifest if isinstance(manifest, dict) else manifest.data


def _utc(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def iso_utc(at: datetime) -> str:
    """An instant as JavaScript's toISOString writes it."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _quoted(ids: Sequence[str]) -> str:
    return ", ".join(f'"{i}"' for i in ids)


def _key_problem(e: PartitionError, asset: str) -> tuple[str, str]:
    """(problem, hint) of check_key's message ``asset "X": problem; valid keys``."""
    text = str(e)
    prefix = f'asset "{asset}": '
    text = text.removeprefix(prefix)
    problem, sep, hint = text.rpartition("; ")
    return (problem, hint) if sep else (text, "")


def _describe_keys(keys: Sequence[str]) -> str:
    if len(keys) == 1:
        return f"partition {json.dumps(keys[0], ensure_ascii=False)}"
    return (
        f"partitions {json.dumps(keys[0], ensure_ascii=False)} to "
        f"{json.dumps(keys[-1], ensure_ascii=False)} ({len(keys)} keys)"
    )


def _has(definition: PartitionsDefinition, key: str, now: datetime) -> bool:
    return partitions_of(definition).has_key(key, now)


def _has_all(
    definition: PartitionsDefinition | None, keys: Sequence[str], now: datetime
) -> bool:
    return definition is not None and all(_has(definition, k, now) for k in keys)


def _check(
    definition: PartitionsDefinition, key: str, asset: str, now: datetime
) -> PartitionError | None:
    try:
        check_key(definition, key, asset, now)
    except PartitionError as e:
        return e
    return None


def _ranges(
    definition: PartitionsDefinition, keys: Sequence[str], now: datetime
) -> list[tuple[str, str]]:
    """Runs of consecutive partitions in ``keys`` (sorted, valid)."""
    if not keys:
        return []
    parts = partitions_of(definition)
    if isinstance(parts, StaticPartitions):
        span = list(
            parts.keys[parts.keys.index(keys[0]) : parts.keys.index(keys[-1]) + 1]
        )
    else:
        span = keys_in_range(definition, keys[0], keys[-1], "", now)
    wanted = set(keys)
    out: list[tuple[str, str]] = []
    start: str | None = None
    prev: str | None = None
    for k in span:
        if k in wanted:
            start = k if start is None else start
            prev = k
        elif start is not None and prev is not None:
            out.append((start, prev))
            start = None
    if start is not None and prev is not None:
        out.append((start, prev))
    return out


# -- planning --------------------------------------------------------------------------------------


def plan_run(
    manifest: Manifest | ManifestData,
    selection: str | Sequence[str] | None = None,
    partition_key: str | None = None,
    partition_range: tuple[str, str] | str | None = None,
    now: datetime | None = None,
) -> RunPlan:
    """Plan a run over ``manifest`` (a baton_core Manifest or its JSON); raises PlanError.

    ``selection`` is a selection expression or a list of terms (asset ids are terms); None or "*"
    means everything. ``partition_range`` is (first, last) or "FIRST...LAST".
    """
    now = _utc(now)
    data = _data(manifest)
    assets: list[ManifestAsset] = list(data["assets"])
    by_id = {a["id"]: a for a in assets}
    if isinstance(partition_range, str):
        first, sep, last = partition_range.partition("...")
        if not sep or not first or not last:
            raise PlanError(
                f'partition range {json.dumps(partition_range)} is not of the form "FIRST...LAST"',
                'write it as FIRST...LAST, e.g. "2024-03-01...2024-03-07"',
            )
        partition_range = (first, last)
    if partition_key is not None and partition_range is not None:
        raise PlanError(
            "give either a partition key or a partition range, not both",
            "drop one of --partition and --partition-range",
        )
    try:
        everything = is_everything(selection)
        ids = (
            [a["id"] for a in assets]
            if everything
            else select_assets(assets, selection or [])
        )
    except SelectionError as e:
        raise PlanError(e.message, e.hint, code=e.code) from None
    partitioned = [i for i in ids if by_id[i]["partitions"] is not None]

    if partition_key is None and partition_range is None:
        if partitioned and not everything:
            first = partitioned[0]
            raise PlanError(
                f"partitioned by {describe_partitions(by_id[first]['partitions'])}, "
                "but no partition key was given",
                KEY_HINT,
                asset=first,
            )
        skipped = [
            Skipped(
                i,
                f"partitioned by {describe_partitions(by_id[i]['partitions'])}; "
                "pass a partition key or range to run it",
            )
            for i in partitioned
        ]
        gone = set(partitioned)
        warnings: list[str] = []
        planned: list[PlannedAsset] = []
        for i in ids:
            if i in gone:
                continue
            planned.append(PlannedAsset(i, None))
            reads = list(
                dict.fromkeys(
                    d["id"]
                    for d in by_id[i]["deps"]
                    if d["input"] is not None and d["id"] in gone
                )
            )
            if reads:
                warnings.append(
                    f'"{i}" reads {_quoted(reads)}, which this run skips: '
                    "it reads the partitions already materialized"
                )
        return RunPlan(planned, skipped, warnings)

    flag = "--partition" if partition_key is not None else "--partition-range"
    if not partitioned:
        verb = "is" if len(ids) == 1 else "are"
        raise PlanError(
            f"{_quoted(ids)} {verb} not partitioned; drop {flag}",
            "run it without a partition key or range"
            if len(ids) == 1
            else "run them without a partition key or range",
        )

    selected = set(ids)
    consumers: dict[str, list[tuple[str, PartitionMapping]]] = {i: [] for i in ids}
    for c in ids:
        if by_id[c]["partitions"] is None:
            continue
        for d in by_id[c]["deps"]:
            if (
                d["id"] in selected
                and d["input"] is not None
                and d["partitionMapping"] is not None
            ):
                consumers[d["id"]].append((c, d["partitionMapping"]))

    keys: dict[str, list[str]] = {}
    expanded: dict[str, str] = {}  # asset -> warning that every partition of it runs
    for i in reversed(ids):
        definition = by_id[i]["partitions"]
        if definition is None:
            continue
        pins = consumers[i]
        if not pins:
            keys[i] = _leaf_keys(
                i, definition, partition_key, partition_range, ids, by_id, now
            )
            continue
        found: dict[
            str, tuple[str, str]
        ] = {}  # key -> (consumer, mapping type), first seen
        whole: list[str] = []
        for c, mapping in pins:
            c_def = by_id[c]["partitions"]
            for k in upstream_keys(c_def, keys[c], definition, mapping, now):
                found.setdefault(k, (c, mapping["type"]))
            if mapping["type"] == "allPartitions" and c not in whole:
                whole.append(c)
        if not found:
            readers = "; ".join(f'"{c}" {_describe_keys(keys[c])}' for c, _ in pins)
            raise PlanError(
                f"no partition of it is read by {readers}",
                f'select "{i}" on its own with a key of its {describe_partitions(definition)}, '
                f"or pick partitions of its downstream that its partitions cover",
                code="UNMAPPABLE_PARTITIONS",
                asset=i,
            )
        ordered = sort_keys(definition, found)
        for k in ordered:
            if not _has(definition, k, now):
                c, kind = found[k]
                error = _check(definition, k, i, now)
                problem, hint = (
                    _key_problem(error, i)
                    if error
                    else (f"unknown partition key {json.dumps(k)}", "")
                )
                raise PlanError(
                    f'{problem}, which "{c}" {_describe_keys(keys[c])} reads through its {kind} mapping',
                    hint,
                    asset=i,
                )
        if whole:
            expanded[i] = (
                f'"{i}": all {len(ordered)} partitions run, because {_quoted(whole)} '
                f"{'reads' if len(whole) == 1 else 'read'} every partition of it"
            )
        keys[i] = ordered

    planned = []
    warnings = []
    for i in ids:
        definition = by_id[i]["partitions"]
        if definition is None:
            warnings.append(
                f'"{i}" is not partitioned: it runs once, not per partition'
            )
            planned.append(PlannedAsset(i, None))
        else:
            if i in expanded:
                warnings.append(expanded[i])
            planned.append(PlannedAsset(i, keys[i], _ranges(definition, keys[i], now)))
    return RunPlan(planned, [], warnings)


def _leaf_keys(
    asset: str,
    definition: PartitionsDefinition,
    partition_key: str | None,
    partition_range: tuple[str, str] | None,
    ids: Sequence[str],
    by_id: Mapping[str, ManifestAsset],
    now: datetime,
) -> list[str]:
    """The keys the run's key or range gives a leaf of the selection (no selected consumer maps to it)."""
    problem, hint = _leaf_problem(
        asset, definition, partition_key, partition_range, now
    )
    if not problem:
        if partition_range is not None:
            return keys_in_range(
                definition, partition_range[0], partition_range[1], asset, now
            )
        assert partition_key is not None
        return [partition_key]
    wanted = (
        [partition_key] if partition_key is not None else list(partition_range or ())
    )
    fits = [
        i for i in ids if i != asset and _has_all(by_id[i]["partitions"], wanted, now)
    ]
    if fits:
        hint += (
            f"; {'it is a key' if len(wanted) == 1 else 'they are keys'} of {_quoted(fits)}, "
            f'but a key names partitions of the selection\'s leaves, such as "{asset}": '
            "their upstream partitions follow through the partition mappings"
        )
    raise PlanError(problem, hint, asset=asset)


def _leaf_problem(
    asset: str,
    definition: PartitionsDefinition,
    partition_key: str | None,
    partition_range: tuple[str, str] | None,
    now: datetime,
) -> tuple[str, str]:
    """(problem, hint) when the run's key or range is not one of ``definition``'s, else ("", "")."""
    wanted = (
        [partition_key] if partition_key is not None else list(partition_range or ())
    )
    for k in wanted:
        e = _check(definition, k, asset, now)
        if e is not None:
            return _key_problem(e, asset)
    if partition_range is not None:
        first, last = partition_range
        if partitions_of(definition).is_reversed(first, last):
            return (
                f'partition range "{first}" to "{last}" ends before it starts',
                f'swap them: start "{last}", end "{first}"',
            )
    return "", ""


def schedule_tick_plan(
    manifest: Manifest | ManifestData, schedule_name: str, at: datetime
) -> TickPlan:
    """What the schedule's tick at ``at`` (the tick's own time: Airflow's data_interval_end,
    Prefect's scheduled start) runs: the last window complete at ``at`` (``offset`` windows back),
    or a static key; nothing, with a reason, before the first window completes or after the
    partitions' end."""
    at = _utc(at)
    data = _data(manifest)
    spec = next((s for s in data["schedules"] if s["name"] == schedule_name), None)
    if spec is None:
        known = ", ".join(s["name"] for s in data["schedules"])
        raise PlanError(
            f'there is no schedule named "{schedule_name}"',
            f"known schedules: {known}"
            if known
            else "declare one in definitions({ schedules })",
            code="UNKNOWN_SELECTION",
        )
    # A late orchestrator tick (Dagster's and Airflow's second pass of a repeated hour) is read
    # as the first pass, Baton's tick, so every runtime runs the same partition and run key.
    at = schedule_tick(at, spec["cron"], spec["timezone"])
    tick = iso_utc(at)
    targets = list(spec["assets"])
    definition = spec["partitions"]
    policy = spec.get("partition") or {"type": "lastComplete"}
    key: str | None = None
    if definition is not None:
        if policy["type"] == "static":
            key = policy["key"]
        elif definition["type"] == "time":
            first = targets[0] if targets else schedule_name
            open_ended: TimePartitionsDefinition = {**definition}
            open_ended.pop("end", None)
            parts = partitions_of(open_ended)
            assert isinstance(parts, TimePartitions)
            key = parts.last_complete_key(at, policy.get("offset", 0))
            reason = None
            if key is None:
                reason = f'no partition of "{first}" is complete at {tick}'
            elif not _has(definition, key, at):
                reason = (
                    f'the partitions of "{first}" end at {definition["end"]} '
                    f"({definition['timezone']}): the schedule has nothing left to run"
                )
            if reason is not None:
                return TickPlan(tick, None, None, reason, None, targets)
    plan = plan_run(data, spec["selection"], key, None, at)
    return TickPlan(tick, key, key if key is not None else tick, None, plan, targets)
