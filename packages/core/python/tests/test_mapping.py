"""baton_core.mapping: key lists and partition mappings (core's partitions/mapping.ts)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from factories import daily, hourly, static

from baton_core.mapping import (
    all_keys,
    describe_partitions,
    keys_in_range,
    sort_keys,
    upstream_keys,
)
from baton_core.partitions import PartitionError

LATER = datetime(2025, 1, 1, tzinfo=UTC)


def test_keys_in_range_expands_inclusively() -> None:
    assert keys_in_range(daily(), "2024-01-30", "2024-02-02", "orders", LATER) == [
        "2024-01-30",
        "2024-01-31",
        "2024-02-01",
        "2024-02-02",
    ]
    assert keys_in_range(static("a", "b", "c", "d"), "b", "c", "s", LATER) == ["b", "c"]


def test_keys_in_range_checks_both_ends() -> None:
    with pytest.raises(
        PartitionError, match='asset "orders": unknown partition key "2023-12-31"'
    ):
        keys_in_range(daily(), "2023-12-31", "2024-01-02", "orders", LATER)
    with pytest.raises(PartitionError, match="ends before it starts"):
        keys_in_range(daily(), "2024-01-03", "2024-01-02", "orders", LATER)


def test_a_range_across_a_fall_back_includes_the_repeated_hour() -> None:
    keys = keys_in_range(
        hourly("2024-11-03T00:00", "America/New_York"),
        "2024-11-03-00:00",
        "2024-11-03-02:00",
        "clicks",
        LATER,
    )
    assert keys == [
        "2024-11-03-00:00",
        "2024-11-03-01:00",
        "2024-11-03-01:00-0500",
        "2024-11-03-02:00",
    ]


def test_all_keys_lists_complete_windows_only() -> None:
    now = datetime(2024, 1, 3, 12, tzinfo=UTC)
    assert all_keys(daily(), now) == ["2024-01-01", "2024-01-02"]
    assert all_keys(static("eu", "us"), now) == ["eu", "us"]


def test_sort_keys_orders_by_partition_and_drops_repeats() -> None:
    assert sort_keys(daily(), ["2024-01-03", "2024-01-01", "2024-01-03"]) == [
        "2024-01-01",
        "2024-01-03",
    ]
    assert sort_keys(static("us", "eu"), ["eu", "us"]) == ["us", "eu"]


def test_time_window_mapping_reads_the_overlapping_upstream_hours() -> None:
    up = hourly("2024-11-01T00:00", "America/New_York")
    down = daily("2024-11-01", "America/New_York")
    keys = upstream_keys(down, ["2024-11-03"], up, {"type": "timeWindow"}, LATER)
    assert len(keys) == 25  # the fall-back day
    assert keys[0] == "2024-11-03-00:00" and keys[-1] == "2024-11-03-23:00"
    # Hourly downstream, daily upstream: the day containing the hour.
    assert upstream_keys(
        up, ["2024-11-03-01:00-0500"], down, {"type": "timeWindow"}, LATER
    ) == ["2024-11-03"]


def test_time_window_mapping_stays_inside_the_upstream_bounds() -> None:
    up = hourly("2024-01-02T00:00")
    assert (
        upstream_keys(daily(), ["2024-01-01"], up, {"type": "timeWindow"}, LATER) == []
    )


def test_identity_and_all_partitions() -> None:
    assert upstream_keys(
        static("eu", "us"),
        ["us", "eu"],
        static("eu", "us"),
        {"type": "identity"},
        LATER,
    ) == ["eu", "us"]
    now = datetime(2024, 1, 4, tzinfo=UTC)
    assert upstream_keys(
        static("eu"), ["eu"], daily(), {"type": "allPartitions"}, now
    ) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
    ]


def test_time_window_mapping_needs_time_partitions_on_both_sides() -> None:
    with pytest.raises(
        PartitionError, match="timeWindow mapping needs time partitions"
    ):
        upstream_keys(static("eu"), ["eu"], daily(), {"type": "timeWindow"}, LATER)


def test_describe_partitions() -> None:
    assert describe_partitions(None) == "unpartitioned"
    assert (
        describe_partitions(static(*"abcdef"))
        == 'static partitions ["a", "b", "c", "d", "e", … 1 more]'
    )
    assert (
        describe_partitions(daily(end="2024-02-01"))
        == "daily partitions from 2024-01-01 to 2024-02-01 (UTC)"
    )
