"""baton_core.plan: what a run materializes (core's plan.ts and README "What a run means")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from factories import asset, daily, dep, hourly, manifest, static

from baton_core.manifest_types import (
    ManifestData,
    ManifestSchedule,
    SchedulePartition,
)
from baton_core.plan import PlanError, plan_run, schedule_tick_plan

NOW = datetime(2024, 1, 10, 12, tzinfo=UTC)

# hourly clicks -> daily sessions (timeWindow) -> unpartitioned report; lookup is unpartitioned.
MANIFEST = manifest(
    asset("lookup"),
    asset("clicks", partitions=hourly()),
    asset("sessions", [dep("clicks", "timeWindow"), dep("lookup")], partitions=daily()),
    asset("report", [dep("sessions")]),
)


def test_no_key_runs_the_unpartitioned_assets_and_skips_the_rest() -> None:
    plan = plan_run(MANIFEST, now=NOW)
    assert plan.asset_ids == ["lookup", "report"]
    assert [s.asset_id for s in plan.skipped] == ["clicks", "sessions"]
    assert "pass a partition key or range to run it" in plan.skipped[0].reason
    assert plan.warnings == [
        (
            '"report" reads "sessions", which this run skips: '
            "it reads the partitions already materialized"
        )
    ]


def test_selecting_a_partitioned_asset_without_a_key_is_an_error() -> None:
    with pytest.raises(PlanError) as caught:
        plan_run(MANIFEST, "sessions", now=NOW)
    assert caught.value.asset == "sessions"
    assert caught.value.code == "UNKNOWN_PARTITION"
    assert str(caught.value).startswith(
        'asset "sessions": partitioned by daily partitions'
    )
    assert "--partition KEY or --partition-range FIRST...LAST" in caught.value.hint


def test_a_key_of_the_leaf_maps_to_its_upstream_through_the_time_window() -> None:
    plan = plan_run(MANIFEST, "+sessions", "2024-01-05", now=NOW)
    assert plan.asset_ids == ["lookup", "clicks", "sessions"]
    clicks = plan.get("clicks")
    assert clicks is not None and clicks.partition_keys is not None
    assert len(clicks.partition_keys) == 24
    # 24 consecutive hours are one step.
    assert clicks.step_args() == [
        ["--partition-range", "2024-01-05-00:00...2024-01-05-23:00"]
    ]
    sessions = plan.get("sessions")
    assert sessions is not None and sessions.step_args() == [
        ["--partition", "2024-01-05"]
    ]
    assert plan.warnings == [
        '"lookup" is not partitioned: it runs once, not per partition'
    ]


def test_a_range_expands_and_gaps_split_the_steps() -> None:
    plan = plan_run(
        MANIFEST, "sessions", partition_range="2024-01-02...2024-01-04", now=NOW
    )
    sessions = plan.get("sessions")
    assert sessions is not None
    assert sessions.partition_keys == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert sessions.ranges == [("2024-01-02", "2024-01-04")]
    # The leaf's keys skip "uk" of its upstream: one step per run of consecutive keys.
    regions = manifest(
        asset("raw", partitions=static("eu", "uk", "us")),
        asset("sales", [dep("raw", "identity")], partitions=static("eu", "us")),
    )
    plan = plan_run(regions, "raw sales", partition_range=("eu", "us"), now=NOW)
    raw = plan.get("raw")
    assert raw is not None and raw.partition_keys == ["eu", "us"]
    assert raw.step_args() == [["--partition", "eu"], ["--partition", "us"]]


def test_an_unknown_key_of_the_leaf_says_which_keys_are_valid() -> None:
    with pytest.raises(PlanError) as caught:
        plan_run(MANIFEST, "sessions", "2024-01-10", now=NOW)
    assert caught.value.asset == "sessions"
    assert "its window is not complete" in caught.value.problem
    assert 'valid keys run from "2024-01-01" to "2024-01-09"' in caught.value.hint


def test_a_key_of_an_upstream_instead_of_the_leaf_is_explained() -> None:
    with pytest.raises(PlanError) as caught:
        plan_run(MANIFEST, "clicks sessions", "2024-01-05-03:00", now=NOW)
    assert caught.value.asset == "sessions"
    assert 'it is a key of "clicks"' in caught.value.hint


def test_a_key_for_unpartitioned_assets_is_an_error() -> None:
    with pytest.raises(
        PlanError, match='"lookup" is not partitioned; drop --partition'
    ):
        plan_run(MANIFEST, "lookup", "2024-01-05", now=NOW)


def test_key_and_range_together_or_a_malformed_range_are_errors() -> None:
    with pytest.raises(PlanError, match="either a partition key or a partition range"):
        plan_run(
            MANIFEST, "sessions", "2024-01-05", ("2024-01-01", "2024-01-02"), now=NOW
        )
    with pytest.raises(PlanError, match=r'is not of the form "FIRST\.\.\.LAST"'):
        plan_run(
            MANIFEST, "sessions", partition_range="2024-01-01..2024-01-02", now=NOW
        )
    with pytest.raises(PlanError, match="ends before it starts"):
        plan_run(
            MANIFEST, "sessions", partition_range="2024-01-05...2024-01-02", now=NOW
        )


def test_a_selection_error_becomes_a_plan_error() -> None:
    with pytest.raises(PlanError) as caught:
        plan_run(MANIFEST, "sesions", now=NOW)
    assert caught.value.code == "UNKNOWN_SELECTION"
    assert caught.value.hint == 'did you mean "sessions"?'


def test_an_upstream_key_outside_its_bounds_names_the_reader() -> None:
    late = manifest(
        asset("clicks", partitions=daily(start="2024-01-05")),
        asset("sessions", [dep("clicks", "identity")], partitions=daily()),
    )
    with pytest.raises(PlanError) as caught:
        plan_run(late, "clicks sessions", "2024-01-03", now=NOW)
    assert caught.value.asset == "clicks"
    assert (
        'which "sessions" partition "2024-01-03" reads through its identity mapping'
        in str(caught.value)
    )


def test_no_upstream_partition_read_is_unmappable() -> None:
    late = manifest(
        asset("clicks", partitions=hourly("2024-01-05T00:00")),
        asset("sessions", [dep("clicks", "timeWindow")], partitions=daily()),
    )
    with pytest.raises(PlanError) as caught:
        plan_run(late, "clicks sessions", "2024-01-03", now=NOW)
    assert caught.value.code == "UNMAPPABLE_PARTITIONS"
    assert caught.value.asset == "clicks"


def test_all_partitions_mapping_runs_every_upstream_partition_with_a_warning() -> None:
    data = manifest(
        asset("days", partitions=daily()),
        asset("region", [dep("days", "allPartitions")], partitions=static("eu", "us")),
    )
    plan = plan_run(data, "days region", "eu", now=NOW)
    days = plan.get("days")
    assert (
        days is not None
        and days.partition_keys is not None
        and len(days.partition_keys) == 9
    )
    assert plan.warnings == [
        '"days": all 9 partitions run, because "region" reads every partition of it'
    ]


def test_the_first_failure_is_reported_in_run_order() -> None:
    plan = plan_run(MANIFEST, "+sessions", "2024-01-05", now=NOW)
    assert plan.first_in_run_order(["sessions", "clicks"]) == "clicks"
    assert plan.first_in_run_order(["report"]) is None


def _with_schedule(
    partition: SchedulePartition | None, end: str | None = None
) -> ManifestData:
    schedule: ManifestSchedule = {
        "name": "nightly",
        "cron": "0 2 * * *",
        "timezone": "UTC",
        "selection": "sessions",
        "assets": ["sessions"],
        "partition": partition,
        "partitions": daily(end=end),
        "description": None,
    }
    return manifest(asset("sessions", partitions=daily(end=end)), schedules=[schedule])


def test_a_schedule_tick_runs_the_last_complete_window() -> None:
    tick = schedule_tick_plan(
        _with_schedule(None), "nightly", datetime(2024, 1, 10, 2, tzinfo=UTC)
    )
    assert (tick.partition_key, tick.run_key, tick.skip_reason) == (
        "2024-01-09",
        "2024-01-09",
        None,
    )
    assert tick.tick_time == "2024-01-10T02:00:00.000Z"
    assert tick.plan is not None and tick.plan.asset_ids == ["sessions"]
    back = schedule_tick_plan(
        _with_schedule({"type": "lastComplete", "offset": 2}),
        "nightly",
        datetime(2024, 1, 10, 2, tzinfo=UTC),
    )
    assert back.partition_key == "2024-01-07"


def test_a_schedule_tick_before_the_first_window_or_after_the_end_skips() -> None:
    early = schedule_tick_plan(
        _with_schedule(None), "nightly", datetime(2024, 1, 1, 2, tzinfo=UTC)
    )
    assert early.plan is None
    assert (
        early.skip_reason
        == 'no partition of "sessions" is complete at 2024-01-01T02:00:00.000Z'
    )
    over = schedule_tick_plan(_with_schedule(None, end="2024-01-05"), "nightly", NOW)
    assert over.plan is None
    assert (
        over.skip_reason is not None and "end at 2024-01-05 (UTC)" in over.skip_reason
    )


def test_a_static_schedule_key_and_an_unknown_schedule() -> None:
    data = _with_schedule({"type": "static", "key": "2024-01-03"})
    assert schedule_tick_plan(data, "nightly", NOW).partition_key == "2024-01-03"
    with pytest.raises(
        PlanError, match='there is no schedule named "weekly"'
    ) as caught:
        schedule_tick_plan(data, "weekly", NOW)
    assert caught.value.hint == "known schedules: nightly"
