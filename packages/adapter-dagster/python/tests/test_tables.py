"""Assets stored in an Iceberg table (TABLE-OUTPUT-CONTRACT.md §6): what Dagster shows of the
table on the definition and on each partition's materialization, and the catalog resource of
the steps that read such an asset."""

from pathlib import Path
from typing import Any

import dagster as dg

from baton_core.manifest_types import ManifestData, ManifestResource
from baton_dagster import baton_definitions
from baton_dagster.step import PARTITIONS_METADATA_KEY, _with_partition_metadata

from .conftest import DAILY, asset, manifest, write_build

SNAPSHOT = "4817311548932601471"  # above 2**53: kept as text, never rounded

LAKE: ManifestResource = {
    "key": "lake",
    "description": None,
    "config": [
        {
            "field": field,
            "env": env,
            "secret": secret,
            "default": None,
            "description": None,
        }
        for field, env, secret in [
            ("uri", "ICEBERG_REST_URI", False),
            ("secretAccessKey", "ICEBERG_S3_SECRET_ACCESS_KEY", True),
        ]
    ],
}


def table(name: str, partition_column: str | None = None) -> dict[str, Any]:
    return {
        "format": "iceberg",
        "catalog": "lake",
        "name": name,
        "partitionColumn": partition_column,
        "mode": "replace",
    }


def lakehouse() -> ManifestData:
    return manifest(
        asset(
            "daily_events",
            partitions=DAILY,
            format="iceberg",
            table=table("analytics.daily_events", "day"),
            resources=["lake"],
        ),
        asset(
            "orders",
            format="iceberg",
            table=table("analytics.orders"),
            resources=["lake"],
        ),
        # Reads an iceberg output: core lists the catalog among its step's resources (§4).
        asset("order_count", deps=["orders"], resources=["lake"]),
        resources=[LAKE],
    )


def specs_and_ops(
    tmp_path: Path,
) -> tuple[dict[str, dg.AssetSpec], dict[str, dg.AssetsDefinition]]:
    """Each asset's spec, and the multi-asset (the op) it is in."""
    defs = baton_definitions(write_build(tmp_path, lakehouse()))
    ops = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    specs = {s.key.to_user_string(): s for a in ops for s in a.specs}
    by_asset = {key.to_user_string(): a for a in ops for key in a.keys}
    return specs, by_asset


def test_a_table_output_is_an_iceberg_kind_with_dagsters_table_name(
    tmp_path: Path,
) -> None:
    specs, _ = specs_and_ops(tmp_path)
    events = specs["daily_events"]
    assert events.kinds == {"typescript", "iceberg"}
    # TableMetadataSet's keys (table_name, storage_kind), as dagster-dbt and the warehouse
    # integrations set them on a definition.
    assert events.metadata["dagster/table_name"] == "analytics.daily_events"
    assert events.metadata["dagster/storage_kind"] == "iceberg"
    # A file output and its reader claim no table.
    assert specs["order_count"].kinds == {"typescript", "parquet"}
    assert "dagster/table_name" not in specs["order_count"].metadata


def test_every_step_that_reads_a_table_requires_its_catalog_resource(
    tmp_path: Path,
) -> None:
    _, by_asset = specs_and_ops(tmp_path)
    for key in ["daily_events", "orders", "order_count"]:
        assert "lake" in by_asset[key].required_resource_keys, key
    # A Baton resource as Dagster's resource: its fields unset, the step reads ICEBERG_* itself.
    defs = baton_definitions(write_build(tmp_path / "again", lakehouse()))
    lake = (defs.resources or {})["lake"]
    assert isinstance(lake, dg.ConfigurableResource)
    assert lake.model_dump() == {"uri": None, "secretAccessKey": None}


def test_a_range_run_records_each_partitions_own_snapshot(tmp_path: Path) -> None:
    partitions = dg.DailyPartitionsDefinition(start_date="2024-01-01")

    @dg.asset(partitions_def=partitions)
    def daily_events(context: dg.AssetExecutionContext) -> Any:
        # What Node reports for a range (src/reports.ts, rangeMaterializationReport).
        per_partition = {
            "2024-01-01": {"rowCount": 3, "contentHash": "h1", "snapshotId": "11"},
            "2024-01-02": {"rowCount": 4, "contentHash": "h2", "snapshotId": SNAPSHOT},
        }
        result: dg.MaterializeResult[Any] = dg.MaterializeResult(
            metadata={
                "dagster/table_name": "analytics.daily_events",
                PARTITIONS_METADATA_KEY: dg.MetadataValue.json(per_partition),
            }
        )
        yield from _with_partition_metadata(context, [result])

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.materialize(
            [daily_events],
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": "2024-01-01",
                "dagster/asset_partition_range_end": "2024-01-02",
            },
        )
        assert result.success
        recorded = {
            str(m.partition): m.metadata
            for m in result.asset_materializations_for_node("daily_events")
        }
    assert sorted(recorded) == ["2024-01-01", "2024-01-02"]
    for key, snapshot, rows in [("2024-01-01", "11", 3), ("2024-01-02", SNAPSHOT, 4)]:
        metadata = recorded[key]
        assert metadata["iceberg/snapshot_id"] == dg.TextMetadataValue(snapshot)
        assert metadata["dagster/row_count"] == dg.IntMetadataValue(rows)
        assert metadata["dagster/table_name"] == dg.TextMetadataValue(
            "analytics.daily_events"
        )
