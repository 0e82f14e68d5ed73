"""The sensor loop's periods: what the deployment's schedule and a running loop agree on."""

from __future__ import annotations

from datetime import UTC, datetime

from baton_prefect.sensors import SENSOR_ANCHOR, period_end, sensor_period


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_a_period_is_a_whole_number_of_intervals_of_at_least_an_hour() -> None:
    assert [sensor_period(s) for s in (30, 60, 7, 3600, 7200, 0.5)] == [
        3600,
        3600,
        3605,
        3600,
        7200,
        3600,
    ]


def test_a_run_polls_until_the_next_scheduled_run_starts() -> None:
    # A scheduled run starts on the hour and polls the whole hour.
    assert period_end(_at("2026-03-01T10:00:00"), 3600) == _at("2026-03-01T11:00:00")
    # A run started by hand at 10:20 stops at 11:00, when the scheduled one takes over.
    assert period_end(_at("2026-03-01T10:20:00"), 3600) == _at("2026-03-01T11:00:00")
    anchor = SENSOR_ANCHOR.timestamp()
    assert period_end(anchor, 3600) == anchor + 3600


def test_a_period_of_zero_is_one_tick() -> None:
    assert period_end(1234.5, 0) == 1234.5
