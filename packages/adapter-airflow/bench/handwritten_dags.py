"""The hand-written equivalent of the emitted DAG file for the 1,000-asset benchmark: the same
DAGs (every asset; two cron schedules; a sensor), tasks, dependencies, assets and schedules,
written the way an Airflow user would, with loops over plain Python data."""

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.providers.standard.sensors.python import PythonSensor
from airflow.sdk import DAG, Asset, CronDataIntervalTimetable

COUNT = 1000
WIDTH = 50


def asset_id(i: int) -> str:
    return f"layer{i // WIDTH:02d}/a{i:04d}"


def deps(i: int) -> list[int]:
    layer = i // WIDTH
    if layer == 0:
        return []
    base = (layer - 1) * WIDTH
    return [base + (i % WIDTH), base + ((i + 1) % WIDTH)]


ASSETS = {
    i: Asset(
        name=asset_id(i), uri=f"x-bench://{asset_id(i)}", group=f"layer{i // WIDTH}"
    )
    for i in range(COUNT)
}


def materialize(asset: str) -> None:
    print("materialize", asset)


def asset_dag(dag_id: str, members: list[int], schedule=None, start_date=None) -> DAG:
    inside = set(members)
    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=start_date,
        catchup=False,
        tags=["bench"],
    ) as dag:
        tasks = {}
        for i in members:
            tasks[i] = PythonOperator(
                task_id=asset_id(i).replace("/", "__"),
                python_callable=materialize,
                op_args=[asset_id(i)],
                outlets=[ASSETS[i]],
                inlets=[ASSETS[d] for d in deps(i)],
                retries=0,
            )
        for i in members:
            upstream = [tasks[d] for d in deps(i) if d in inside]
            if upstream:
                tasks[i].set_upstream(upstream)
    return dag


asset_dag("hand_assets", list(range(COUNT)))
asset_dag(
    "hand_schedule_nightly",
    list(range(2 * WIDTH)),
    CronDataIntervalTimetable("0 3 * * *", timezone="Europe/Paris"),
    pendulum.datetime(2024, 1, 1, tz="UTC"),
)
asset_dag(
    "hand_schedule_hourly_rest",
    list(range(2 * WIDTH, COUNT)),
    CronDataIntervalTimetable("15 * * * *", timezone="UTC"),
)

with DAG(
    dag_id="hand_sensor_files",
    schedule="@continuous",
    max_active_runs=1,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    wait = PythonSensor(
        task_id="evaluate",
        python_callable=lambda: False,
        mode="reschedule",
        poke_interval=timedelta(seconds=30),
    )
    wait >> TriggerDagRunOperator(task_id="trigger", trigger_dag_id="hand_assets")
