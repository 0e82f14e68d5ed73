"""Schedules and sensors: the named asset jobs they run, and the sensor's log in its tick's log."""

import json
import stat
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from baton_core.manifest_types import ManifestData
from baton_dagster import BatonStorage, baton_definitions

from .conftest import DAILY, asset, manifest, write_build

# Stands in for Node's `sensor` command: the lines core's step bin prints for a tick that logs
# (contract §6: each log event before the final tick line), then the tick.
FAKE_NODE = """#!{python}
import json, sys
def event(e):
    print("@@baton:event " + json.dumps(e), flush=True)
event({{"type": "log", "level": "info", "message": "baton-sensor-log: 2 new file(s)", "asset": None}})
event({{"type": "log", "level": "warning", "message": "slow landing folder", "asset": None}})
print("a line of the sensor's own output", flush=True)
event({{"type": "tick", "result": {{
    "runRequests": [{{"runKey": "events:2024-01-03", "partitionKey": "2024-01-03",
                     "assets": ["events"], "tags": {{}}}}],
    "cursor": "2024-01-03", "skipReason": None}}}})
"""


def _automation() -> ManifestData:
    return manifest(
        asset("plain", group="sales"),
        asset("events", group="events", partitions=DAILY),
        schedules=[
            {
                "name": "nightly",
                "cron": "0 3 * * *",
                "timezone": "UTC",
                "selection": "plain",
                "assets": ["plain"],
                "partition": None,
                "partitions": None,
                "description": None,
            },
            {
                "name": "daily_events",
                "cron": "0 2 * * *",
                "timezone": "Europe/Paris",
                "selection": "events",
                "assets": ["events"],
                "partition": {"type": "lastComplete"},
                "partitions": DAILY,
                "description": "yesterday's events",
            },
        ],
        sensors=[
            {
                "name": "new_event_files",
                "selection": "events",
                "assets": ["events"],
                "minimumIntervalSeconds": 30,
                "resources": [],
                "description": None,
            }
        ],
    )


def _defs(tmp_path: Path) -> dg.Definitions:
    path = write_build(tmp_path / "build", _automation())
    return baton_definitions(path).with_resources({"baton_storage": BatonStorage()})


def test_each_schedule_and_sensor_runs_its_own_named_asset_job(tmp_path: Path) -> None:
    defs = _defs(tmp_path)
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    jobs = {j.name: j for j in repository.get_all_jobs()}
    assert not [n for n in jobs if n.startswith("__anonymous_asset_job")]

    targets: dict[str, Any] = {}
    for name in ("nightly", "daily_events"):
        schedule = defs.resolve_schedule_def(name)
        targets[name] = schedule.job_name
    targets["new_event_files"] = defs.resolve_sensor_def("new_event_files").job_name
    assert targets == {
        "nightly": "nightly_job",
        "daily_events": "daily_events_job",
        "new_event_files": "new_event_files_job",
    }

    def selected(job: str) -> list[str]:
        keys = jobs[job].asset_layer.selected_asset_keys
        return sorted(k.to_user_string() for k in keys)

    assert selected("nightly_job") == ["plain"]
    assert selected("daily_events_job") == ["events"]
    assert jobs["nightly_job"].partitions_def is None
    # Partitioned like the assets they run: Dagster infers it from the selection.
    for job in ("daily_events_job", "new_event_files_job"):
        partitions = jobs[job].partitions_def
        assert isinstance(partitions, dg.DailyPartitionsDefinition), job
        assert partitions.get_first_partition_key() == "2024-01-01"


def test_a_partitioned_schedule_requests_its_window_as_a_partition_of_its_job(
    tmp_path: Path,
) -> None:
    defs = _defs(tmp_path)
    schedule = defs.resolve_schedule_def("daily_events")
    # The daemon's tick at 02:00 in Paris on 5 January: 4 January is the last complete day.
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(
            2024, 1, 5, 2, 0, tzinfo=ZoneInfo("Europe/Paris")
        ),
        repository_def=defs.get_repository_def(),
    )
    data = schedule.evaluate_tick(context)
    requests = data.run_requests or []
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("2024-01-04", "2024-01-04")
    ]
    # Resolved against the named job: its partition tag, as the UI's "Test schedule" lists it.
    assert requests[0].tags["dagster/partition"] == "2024-01-04"


def _fake_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = tmp_path / "node"
    node.write_text(FAKE_NODE.format(python=sys.executable), encoding="utf-8")
    node.chmod(node.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("BATON_NODE", str(node))


def test_the_sensors_log_lines_reach_its_ticks_log_at_their_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_node(tmp_path, monkeypatch)
    defs = _defs(tmp_path)
    sensor = defs.resolve_sensor_def("new_event_files")
    (tmp_path / "home").mkdir()
    instance = dg.DagsterInstance.local_temp(tempdir=str(tmp_path / "home"))
    repository = defs.get_repository_def()
    # What the daemon gives a tick: the instance (by ref) and a log key for the tick.
    with dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        repository_def=repository,
        repository_name=repository.name,
        sensor_name="new_event_files",
        resources=defs.resources,
    ) as context:
        data = sensor.evaluate_tick(context)

    requests = data.run_requests or []
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("2024-01-03", "events:2024-01-03")
    ]
    # The preview lists the partition: the request is resolved against the sensor's job.
    assert requests[0].tags["dagster/partition"] == "2024-01-03"
    assert data.cursor == "2024-01-03"

    assert data.log_key, "the tick has no captured log"
    logs = instance.compute_log_manager.get_log_data(data.log_key)
    records = [
        json.loads(line, strict=False)
        for line in (logs.stderr or b"").decode().splitlines()
        if line.strip()
    ]
    assert [(r["levelname"], r["dagster_meta"]["orig_message"]) for r in records] == [
        ("INFO", "baton-sensor-log: 2 new file(s)"),
        ("WARNING", "slow landing folder"),
    ]
