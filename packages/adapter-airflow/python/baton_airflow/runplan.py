"""What one DAG run materializes: which assets, and for which partition key or range.

Precedence: the run's conf (the trigger form's params: ``partition_key``, ``partition_range`` "FIRST...LAST",
``assets``) > a schedule's static key > the data interval of a scheduled, backfill or manual
run of a schedule DAG (the last window complete at the interval's end, as Baton schedules pick
it) > nothing (unpartitioned assets run; partitioned ones are skipped unless selected).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from baton_core import (
    Manifest,
    PartitionError,
    check_key,
    check_range,
    parse_range,
    partitions_of,
)
from baton_core.partitions import TimePartitions


@dataclass(frozen=True)
class RunPlan:
    partition_key: str | None
    partition_range: tuple[str, str] | None
    # Where the key came from, for the log: "conf", "schedule" or "data interval".
    source: str | None
    explicit_assets: bool
    run: list[str] = field(default_factory=list)
    # asset id -> why it does not run
    skipped: dict[str, str] = field(default_factory=dict)

    def step_args(self, asset: dict) -> list[str]:
        if asset["partitions"] is None:
            return []
        if self.partition_range:
            return ["--partition-range", "...".join(self.partition_range)]
        return (
            ["--partition", self.partition_key]
            if self.partition_key is not None
            else []
        )


def _setting(context, name: str):
    # The trigger form writes its params into the run's conf; scheduled runs have none.
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    value = conf.get(name)
    return value if value not in (None, "", []) else None


def _from_schedule(
    context, schedule: dict | None
) -> tuple[str | None, str | None, str | None]:
    """(key, source, reason for no key) from a schedule DAG's data interval."""
    if not schedule or schedule.get("partitions") is None:
        return None, None, None
    policy = schedule.get("partition") or {"type": "lastComplete"}
    if policy["type"] == "static":
        return policy["key"], "schedule", None
    end = context.get("data_interval_end")
    if end is None:
        return None, None, "the run has no data interval"
    parts = partitions_of(schedule["partitions"])
    if not isinstance(parts, TimePartitions):
        return None, None, None
    key = parts.last_complete_key(end, policy.get("offset", 0))
    if key is None:
        return None, None, f"no partition is complete at {end.isoformat()}"
    return key, "data interval", None


def plan_run(
    manifest: Manifest,
    dag_assets: list[str],
    schedule: dict | None,
    context,
    now: datetime | None = None,
) -> RunPlan:
    """Resolve and check the run's selection and partitions; raise PartitionError/ValueError when invalid."""
    now = now or datetime.now(UTC)
    requested = _setting(context, "assets")
    if isinstance(requested, str):
        requested = [requested]
    if requested:
        unknown = sorted(set(requested) - set(dag_assets))
        if unknown:
            raise ValueError(
                f"assets {unknown} are not in this DAG; it has: {', '.join(dag_assets)}"
            )
        chosen = [a for a in dag_assets if a in set(requested)]
    else:
        chosen = list(dag_assets)

    text_range = _setting(context, "partition_range")
    key = _setting(context, "partition_key")
    partition_range = parse_range(str(text_range)) if text_range else None
    if partition_range and key:
        raise PartitionError("give either partition_key or partition_range, not both")
    source = "conf" if (partition_range or key) else None
    no_key_reason = None
    if source is None:
        key, source, no_key_reason = _from_schedule(context, schedule)

    plan = RunPlan(
        partition_key=str(key) if key is not None else None,
        partition_range=partition_range,
        source=source,
        explicit_assets=bool(requested),
    )
    for asset_id in chosen:
        asset = manifest.asset(asset_id)
        definition = asset["partitions"]
        if definition is not None:
            if partition_range:
                check_range(
                    definition, partition_range[0], partition_range[1], asset_id, now
                )
            elif plan.partition_key is not None:
                check_key(definition, plan.partition_key, asset_id, now)
            elif requested:
                raise PartitionError(
                    f"asset {asset_id} is partitioned but this run has no partition key: "
                    "trigger it with partition_key (or partition_range FIRST...LAST)"
                )
            else:
                plan.skipped[asset_id] = (
                    no_key_reason or "partitioned, and the run has no partition_key"
                )
                continue
        plan.run.append(asset_id)
    return plan
