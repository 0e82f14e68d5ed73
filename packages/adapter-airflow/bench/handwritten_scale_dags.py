"""The hand-written peer of the scale benchmark's emitted DAG file (bench/scale.mjs).

The project of src/__tests__/scale-definitions.mjs, written the way an Airflow user would:
BATON_SCALE_ASSETS assets (default 20,000) in groups of 50, each reading two assets of the group
before. BENCH_LAYOUT picks the layout:

* ``one`` (default): the emitted file's shape: one DAG of every asset (a first and a last task
  around them, as Baton's plan and outcome), a schedule DAG over the first group, a sensor DAG;
* ``split``: one DAG per group, each scheduled on the assets of the group before
  (``schedule=[Asset, ...]``): cross-DAG edges through Airflow assets.
"""

import os
from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.providers.standard.sensors.python import PythonSensor
from airflow.sdk import DAG, Asset, CronDataIntervalTimetable

COUNT = int(os.environ.get("BATON_SCALE_ASSETS", "20000"))
WIDTH = 50


def asset_id(i: int) -> str:
    return f"g{i // WIDTH:03d}/a{i:05d}"


def deps(i: int) -> list[int]:
    group = i // WIDTH
    if group == 0:
        return []
    base = (group - 1) * WIDTH
    return [base + (i % WIDTH), base + ((i + 1) % WIDTH)]


ASSETS = {
    i: Asset(name=asset_id(i), uri=f"x-bench://{asset_id(i)}", group=f"g{i // WIDTH}")
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
        first = EmptyOperator(task_id="plan")
        tasks = {}
        for i in members:
            tasks[i] = PythonOperator(
                task_id=asset_id(i).replace("/", "__"),
                python_callable=materialize,
                op_args=[asset_id(i)],
                outlets=[ASSETS[i]],
                inlets=[ASSETS[d] for d in deps(i)],
                retries=0,
                trigger_rule="none_failed",
            )
        for i in members:
            upstream = [tasks[d] for d in deps(i) if d in inside]
            tasks[i].set_upstream(upstream or first)
        [first, *tasks.values()] >> EmptyOperator(
            task_id="outcome", trigger_rule="all_done"
        )
    return dag


if os.environ.get("BENCH_LAYOUT", "one") == "split":
    for group in range((COUNT + WIDTH - 1) // WIDTH):
        members = list(range(group * WIDTH, min(COUNT, (group + 1) * WIDTH)))
        upstream = sorted({d for i in members for d in deps(i)})
        asset_dag(f"hand_g{group:03d}", members, [ASSETS[d] for d in upstream] or None)
else:
    asset_dag("hand_assets", list(range(COUNT)))
    asset_dag(
        "hand_schedule_nightly",
        list(range(min(COUNT, WIDTH))),
        CronDataIntervalTimetable("0 3 * * *", timezone="Europe/Paris"),
        pendulum.datetime(2024, 1, 1, tz="UTC"),
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
