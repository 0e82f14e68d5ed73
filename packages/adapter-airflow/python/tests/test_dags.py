"""build_dags against the real Airflow SDK: the DAGs, tasks, edges, assets and timetables."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk import Asset
from conftest import BuildFactory

from baton_airflow import build_dags
from baton_airflow.manifest import airflow_id, asset_uri
from baton_airflow.operators import (
    BatonAssetOperator,
    BatonSensorOperator,
    manifest_at,
    run_id_for,
)
from baton_airflow.options import build_options
from baton_airflow.timetables import BatonCronTimetable
from baton_core import ManifestError


@pytest.fixture(autouse=True)
def fresh_manifest_cache() -> None:
    manifest_at.cache_clear()


def test_every_asset_schedule_and_sensor_becomes_a_dag(
    make_build: BuildFactory,
) -> None:
    dags = build_dags(make_build())
    assert list(dags) == [
        "baton_assets",
        "baton_schedule_nightly",
        "baton_sensor_new_files",
    ]
    everything = dags["baton_assets"]
    assert sorted(everything.task_ids) == sorted(
        ["plan", "outcome", "committed", "raw__orders", "daily_orders"]
    )
    orders = everything.get_task("daily_orders")
    assert orders.upstream_task_ids == {"raw__orders"}
    assert everything.get_task("raw__orders").upstream_task_ids == {"plan"}
    assert [o.uri for o in orders.outlets if isinstance(o, Asset)] == [
        "x-baton://daily_orders"
    ]
    assert [i.uri for i in orders.inlets if isinstance(i, Asset)] == [
        "x-baton://raw/orders"
    ]
    assert orders.retries == 2
    assert orders.owner == "team:data"
    outcome = everything.get_task("outcome")
    assert outcome.upstream_task_ids == {"plan", "raw__orders", "daily_orders"}


def test_a_schedule_runs_on_its_cron_from_the_first_partition(
    make_build: BuildFactory,
) -> None:
    dag = build_dags(make_build())["baton_schedule_nightly"]
    # Airflow's cron data-interval timetable, described with its timezone.
    assert isinstance(dag.timetable, BatonCronTimetable)
    assert dag.timetable.description == "At 01:30 (UTC)"
    assert (dag.timetable.expression, str(dag.timetable.timezone)) == (
        "30 1 * * *",
        "UTC",
    )
    assert dag.start_date is not None
    assert dag.start_date.isoformat() == "2024-01-01T00:00:00+00:00"
    assert dag.catchup is False
    assert sorted(dag.task_ids) == ["committed", "daily_orders", "outcome", "plan"]


def test_a_sensor_is_a_continuous_dag_poking_in_reschedule_mode(
    make_build: BuildFactory,
) -> None:
    dag = build_dags(make_build())["baton_sensor_new_files"]
    assert type(dag.timetable).__name__ == "ContinuousTimetable"
    assert dag.max_active_runs == 1
    evaluate = dag.get_task("evaluate")
    assert isinstance(evaluate, BatonSensorOperator)
    assert (evaluate.mode, evaluate.poke_interval) == ("reschedule", 30)
    assert dag.get_task("trigger").upstream_task_ids == {"evaluate"}


def test_options_come_from_build_json(make_build: BuildFactory) -> None:
    resources = {"db": {"connection": "warehouse"}}
    path = make_build(
        options={
            "dagIdPrefix": "shop",
            "resources": resources,
            "storageConnection": "store",
        },
        storage="/data",
    )
    assert build_options(path) == {
        "storage": "/data",
        "resources": resources,
        "dagIdPrefix": "shop",
        "storageConnection": "store",
    }
    dags = build_dags(path)
    assert sorted(dags) == [
        "shop_assets",
        "shop_schedule_nightly",
        "shop_sensor_new_files",
    ]
    task = dags["shop_assets"].get_task("raw__orders")
    assert isinstance(task, BatonAssetOperator)
    assert task.options["storage"] == "/data"


def test_refuses_a_folder_built_for_another_target(make_build: BuildFactory) -> None:
    with pytest.raises(ManifestError, match="built for 'prefect', not Airflow"):
        build_dags(make_build(target="prefect"))


def test_refuses_a_manifest_version_it_does_not_read(
    make_build: BuildFactory, tmp_path: Path
) -> None:
    from conftest import manifest_data

    data = {**manifest_data(), "manifestVersion": 99}
    with pytest.raises(ManifestError, match=r"manifest version 99 .* \(it reads 2\)"):
        build_dags(make_build(data=data))


def test_ids() -> None:
    assert airflow_id("raw/orders") == "raw__orders"
    assert airflow_id("daily events!") == "daily_events_"
    assert asset_uri("raw/orders") == "x-baton://raw/orders"
    assert run_id_for("s", "events:2024-01-05") == "baton_sensor__s__events:2024-01-05"
    # A run key Airflow's run id rule refuses becomes a stable digest.
    odd = run_id_for("s", "a b/c")
    assert odd == run_id_for("s", "a b/c")
    assert odd.startswith("baton_sensor__s__") and " " not in odd


def test_refuses_options_of_the_wrong_shape(make_build: BuildFactory) -> None:
    with pytest.raises(ManifestError, match=r"options.resources must be an object"):
        build_options(make_build(options={"resources": ["warehouse"]}))
