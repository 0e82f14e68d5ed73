"""BatonInputManager: a native Dagster asset takes a Baton asset's stored output as its input."""

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from baton_core.testing import write_output
from baton_dagster import BatonInputManager, BatonStorage

DAILY = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04")


@pytest.fixture(autouse=True)
def _no_worker_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATON_STORAGE", raising=False)


def _defs(storage: Path, manager: BatonInputManager | None = None) -> dg.Definitions:
    # The Baton assets, as the upstream the native assets see (materialized by Node elsewhere).
    metrics = dg.AssetSpec("customer_metrics")
    revenue = dg.AssetSpec("daily_revenue", partitions_def=DAILY)

    @dg.asset(
        ins={
            "metrics": dg.AssetIn(
                key="customer_metrics", input_manager_key="baton_input"
            )
        }
    )
    def top_customers(metrics: pl.DataFrame) -> None:
        assert metrics.sort("id")["spend"].to_list() == [5.0, 7.5]

    @dg.asset(
        partitions_def=DAILY,
        ins={
            "revenue": dg.AssetIn(key="daily_revenue", input_manager_key="baton_input")
        },
    )
    def revenue_report(
        context: dg.AssetExecutionContext, revenue: pl.DataFrame
    ) -> dg.MaterializeResult[None]:
        return dg.MaterializeResult(
            metadata={"days": ",".join(revenue["day"].to_list())}
        )

    return dg.Definitions(
        assets=[metrics, revenue, top_customers, revenue_report],
        resources={
            "baton_input": manager
            or BatonInputManager(baton_storage=BatonStorage(), storage=str(storage))
        },
    )


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "storage"
    write_output(
        root, "customer_metrics", pl.DataFrame({"id": [2, 1], "spend": [7.5, 5.0]})
    )
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        write_output(root, "daily_revenue", pl.DataFrame({"day": [day]}), day)
    return root


def test_an_unpartitioned_baton_output_loads_as_a_polars_frame(store: Path) -> None:
    defs = _defs(store)
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=[dg.AssetKey("top_customers")],
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success


def test_a_partition_loads_that_partition_and_a_range_every_key_in_order(
    store: Path,
) -> None:
    defs = _defs(store)
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.ephemeral()
    one = job.execute_in_process(
        asset_selection=[dg.AssetKey("revenue_report")],
        partition_key="2024-01-02",
        instance=instance,
    )
    ranged = job.execute_in_process(
        asset_selection=[dg.AssetKey("revenue_report")],
        tags={
            "dagster/asset_partition_range_start": "2024-01-01",
            "dagster/asset_partition_range_end": "2024-01-03",
        },
        instance=instance,
    )
    days = [
        m.metadata["days"].value
        for run in (one, ranged)
        for m in run.asset_materializations_for_node("revenue_report")
    ]
    assert days[0] == "2024-01-02"
    assert set(days[1:]) == {"2024-01-01,2024-01-02,2024-01-03"}


def test_the_storage_resource_url_wins_over_the_default(
    store: Path, tmp_path: Path
) -> None:
    manager = BatonInputManager(
        baton_storage=BatonStorage(url=str(store)), storage=str(tmp_path / "empty")
    )
    result = (
        _defs(tmp_path / "empty", manager)
        .resolve_implicit_global_asset_job_def()
        .execute_in_process(
            asset_selection=[dg.AssetKey("top_customers")],
            instance=dg.DagsterInstance.ephemeral(),
        )
    )
    assert result.success


def test_a_missing_output_fails_the_step_naming_the_asset(tmp_path: Path) -> None:
    result = (
        _defs(tmp_path / "empty")
        .resolve_implicit_global_asset_job_def()
        .execute_in_process(
            asset_selection=[dg.AssetKey("top_customers")],
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "customer_metrics" in str(failure.step_failure_data.error)
