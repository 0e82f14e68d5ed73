"""Hand-written Airflow DAGs downstream of the Baton asset ``events`` (partitions.integration.test.ts):
partition-aware consumers, as an Airflow user writes them for Baton's partitioned asset events."""

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import (
    DAG,
    Asset,
    IdentityMapper,
    PartitionedAssetTimetable,
    StartOfMonthMapper,
)

events = Asset(name="events", uri="x-baton://events", group="web")

# One run per Baton partition.
with DAG(
    dag_id="events_daily_report",
    schedule=PartitionedAssetTimetable(
        assets=events, default_partition_mapper=IdentityMapper()
    ),
):
    EmptyOperator(task_id="report")

# One run per month, from the daily keys (Baton's key format is %Y-%m-%d).
with DAG(
    dag_id="events_monthly_rollup",
    schedule=PartitionedAssetTimetable(
        assets=events,
        default_partition_mapper=StartOfMonthMapper(input_format="%Y-%m-%d"),
    ),
):
    EmptyOperator(task_id="rollup")

# Not partition-aware: Airflow does not queue it for partitioned events.
with DAG(dag_id="events_plain_consumer", schedule=[events]):
    EmptyOperator(task_id="consume")
