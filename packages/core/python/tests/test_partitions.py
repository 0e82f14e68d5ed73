"""baton_core.partitions: key checks, windows and the DST rules (core's partitions/time.ts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from factories import daily, hourly, static

from baton_core.partitions import (
    PartitionError,
    StaticPartitions,
    TimePartitions,
    check_key,
    check_range,
    parse_range,
    partitions_of,
    schedule_tick,
    static_partitions_problem,
)

NOW = datetime(2024, 1, 10, 12, tzinfo=UTC)
LATER = datetime(2025, 1, 1, tzinfo=UTC)


def test_a_complete_daily_key_passes() -> None:
    check_key(daily(), "2024-01-09", "orders", NOW)


@pytest.mark.parametrize(
    ("key", "why"),
    [
        (
            "2024-01-10",
            "its window is not complete: it ends at 2024-01-11T00:00:00.000Z",
        ),
        ("2023-12-31", "outside the partitions' start and end"),
        ("2024-1-05", 'not the start of a daily window in format "%Y-%m-%d"'),
        ("2024-02-30", 'not the start of a daily window in format "%Y-%m-%d"'),
    ],
)
def test_an_unknown_key_names_the_asset_the_reason_and_the_valid_keys(
    key: str, why: str
) -> None:
    with pytest.raises(PartitionError) as caught:
        check_key(daily(), key, "orders", NOW)
    assert str(caught.value) == (
        f'asset "orders": unknown partition key "{key}" ({why}); '
        'valid keys run from "2024-01-01" to "2024-01-09" '
        '(daily windows, format "%Y-%m-%d", UTC)'
    )


def test_the_end_is_exclusive() -> None:
    bounded = daily(end="2024-01-05")
    check_key(bounded, "2024-01-04", "orders", LATER)
    with pytest.raises(PartitionError, match="outside the partitions' start and end"):
        check_key(bounded, "2024-01-05", "orders", LATER)


def test_nothing_complete_yet_says_when_the_first_window_ends() -> None:
    with pytest.raises(PartitionError, match="no partition is complete yet"):
        check_key(daily(start="2024-02-01"), "2024-02-01", "orders", NOW)


def test_a_fall_back_repeats_the_hour_as_two_windows() -> None:
    parts = TimePartitions(hourly("2024-11-02T00:00", "America/New_York"))
    keys = parts.keys(datetime(2024, 11, 4, 5, tzinfo=UTC))
    day = [k for k in keys if k.startswith("2024-11-03")]
    assert len(day) == 25
    assert day[1:4] == ["2024-11-03-01:00", "2024-11-03-01:00-0500", "2024-11-03-02:00"]
    first, second = (parts.time_window(k) for k in day[1:3])
    assert first == (
        datetime(2024, 11, 3, 5, tzinfo=UTC),
        datetime(2024, 11, 3, 6, tzinfo=UTC),
    )
    assert second == (
        datetime(2024, 11, 3, 6, tzinfo=UTC),
        datetime(2024, 11, 3, 7, tzinfo=UTC),
    )


def test_a_spring_forward_has_no_key_for_the_skipped_hour() -> None:
    definition = hourly("2024-03-09T00:00", "America/New_York")
    check_key(definition, "2024-03-10-03:00", "clicks", LATER)
    with pytest.raises(
        PartitionError, match='unknown partition key "2024-03-10-02:00"'
    ):
        check_key(definition, "2024-03-10-02:00", "clicks", LATER)
    parts = TimePartitions(definition)
    keys = [
        k
        for k in parts.keys(datetime(2024, 3, 11, 5, tzinfo=UTC))
        if k.startswith("2024-03-10")
    ]
    assert len(keys) == 23


def test_a_daily_window_in_a_midnight_gap_starts_when_the_clocks_jump() -> None:
    # Havana skips 00:00-01:00 on 2024-03-10: the day starts at 01:00 CDT and lasts 23 hours.
    parts = TimePartitions(daily(timezone="America/Havana"))
    start, end = parts.time_window("2024-03-10")
    assert start == datetime(2024, 3, 10, 5, tzinfo=UTC)
    assert end - start == timedelta(hours=23)
    assert parts.key_for_time(datetime(2024, 3, 10, 4, 59, tzinfo=UTC)) == "2024-03-09"
    assert parts.key_for_time(start) == "2024-03-10"


def test_weekly_windows_start_on_the_declared_weekday() -> None:
    parts = TimePartitions(
        {
            "type": "time",
            "grain": "weekly",
            "start": "2024-01-07",
            "timezone": "UTC",
            "format": "%Y-%m-%d",
            "weekStartsOn": 0,
        }
    )
    assert parts.keys(datetime(2024, 1, 22, tzinfo=UTC)) == ["2024-01-07", "2024-01-14"]
    assert parts.wall_of("2024-01-08") is None


def test_last_complete_key_with_an_offset() -> None:
    parts = TimePartitions(daily())
    assert parts.last_complete_key(NOW) == "2024-01-09"
    assert parts.last_complete_key(NOW, 2) == "2024-01-07"
    assert parts.last_complete_key(NOW, 20) is None
    with pytest.raises(PartitionError, match="offset -1"):
        parts.last_complete_key(NOW, -1)


def test_a_range_must_not_end_before_it_starts() -> None:
    check_range(daily(), "2024-01-02", "2024-01-05", "orders", NOW)
    with pytest.raises(
        PartitionError, match='range "2024-01-05" to "2024-01-02" ends before it starts'
    ):
        check_range(daily(), "2024-01-05", "2024-01-02", "orders", NOW)
    with pytest.raises(
        PartitionError, match='range "us" to "eu" ends before it starts'
    ):
        check_range(static("eu", "us"), "us", "eu", "orders", NOW)


def test_parse_range() -> None:
    assert parse_range("2024-01-01...2024-01-03") == ("2024-01-01", "2024-01-03")
    for text in ("2024-01-01", "...2024-01-03", "2024-01-01..."):
        with pytest.raises(PartitionError, match="is not of the form"):
            parse_range(text)


def test_static_keys_are_checked_against_the_declared_list() -> None:
    check_key(static("eu", "us"), "eu", "sales", NOW)
    with pytest.raises(PartitionError) as caught:
        check_key(static("eu", "us"), "apac", "sales", NOW)
    assert (
        str(caught.value)
        == 'asset "sales": unknown partition key "apac"; valid keys: "eu", "us"'
    )


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ([], "need at least one key"),
        (["eu", "eu"], 'static partition key "eu" is listed twice'),
        (["a/b"], 'contains "/" or ","'),
        (["a...b"], 'contains "..."'),
        ([".."], "is reserved"),
        ([" eu"], "leading or trailing whitespace"),
        (["e\nu"], "control character or line break"),
        (["\u3000"], "is not a non-empty string"),
    ],
)
def test_static_keys_core_refuses(keys: list[str], problem: str) -> None:
    found = static_partitions_problem({"type": "static", "keys": keys})
    assert found is not None and problem in found
    with pytest.raises(PartitionError, match="static partition"):
        StaticPartitions({"type": "static", "keys": keys})


def test_partitions_of_reads_either_kind() -> None:
    assert isinstance(partitions_of(daily()), TimePartitions)
    assert isinstance(partitions_of(static("eu")), StaticPartitions)


def test_a_late_tick_in_a_repeated_hour_is_read_as_the_first_pass() -> None:
    second_pass = datetime(2024, 11, 3, 6, 30, tzinfo=UTC)  # 01:30 EST, the repeat
    first_pass = datetime(2024, 11, 3, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert schedule_tick(second_pass, "30 1 * * *", "America/New_York") == first_pass
    # Hourly crons tick in both passes: unchanged.
    assert schedule_tick(second_pass, "30 * * * *", "America/New_York") == second_pass
