"""Iceberg table outputs in Airflow's records (TABLE-OUTPUT-CONTRACT.md §6).

An asset stored in an Iceberg table has no data file: its materialization names the table and
the snapshot its step committed (``metadata.table``). Airflow shows them with the keys of its own
Iceberg provider's asset events (``IcebergTableSnapshotTrigger``: ``table``, ``snapshot_id``), so
a DAG downstream reads ``extra["table"]`` and ``extra["snapshot_id"]`` whichever produced the
event. The snapshot id stays a decimal string, as in Baton's record: 64-bit ids do not survive a
JSON number in every reader (``int(...)`` gives pyiceberg's ``scan(snapshot_id=...)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from baton_core import ManifestAsset
    from baton_core.manifest_types import ManifestTable


def event_table(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """The table of a materialization event's metadata, as the XCom summary keeps it (None for a
    parquet or ipc output)."""
    table = metadata.get("table")
    if not table:
        return None
    return {
        "format": table.get("format"),
        "catalog": table.get("catalog"),
        "name": table.get("name"),
        "snapshotId": table.get("snapshotId"),
        "location": table.get("location"),
    }


def where_stored(metadata: Mapping[str, Any]) -> str:
    """Where the task log says the output went: the table and snapshot, else the file."""
    table = event_table(metadata)
    if table is None:
        return str(metadata.get("path") or "no stored output")
    return (
        f"Iceberg table {table['name']} snapshot {table['snapshotId']}"
        f" (catalog {table['catalog']})"
    )


def table_extra(
    commits: Iterable[tuple[str | None, Mapping[str, Any] | None]],
) -> dict[str, Any]:
    """The asset event ``extra`` keys of a task's table commits: (partition key, ``event_table``)
    pairs in the order the step committed them; none for a parquet or ipc output.

    Airflow gives every partition event of one task the same ``extra``, so ``snapshot_id`` is the
    task's last commit (the table's state after the task) and, when the task committed several
    partitions, ``snapshot_ids`` maps each partition key to the snapshot its record pins.
    """
    committed = [(key, table) for key, table in commits if table]
    if not committed:
        return {}
    last = committed[-1][1]
    extra: dict[str, Any] = {
        "table": last["name"],
        "table_format": last["format"],
        "catalog": last["catalog"],
        "snapshot_id": last["snapshotId"],
    }
    if last.get("location"):
        extra["table_location"] = last["location"]
    by_key = {key: t["snapshotId"] for key, t in committed if key is not None}
    if len(by_key) > 1:
        extra["snapshot_ids"] = by_key
    return extra


def declared_table(asset: ManifestAsset) -> ManifestTable | None:
    """The manifest's ``table`` of an asset stored in a table (None otherwise)."""
    return asset.get("table")


def table_doc(table: ManifestTable) -> str:
    """The docs panel's row for an asset stored in a table."""
    column = table["partitionColumn"]
    return (
        f"Iceberg table `{table['name']}` (catalog resource `{table['catalog']}`, {table['mode']}"
        + (f", partition column `{column}`" if column else "")
        + "); each asset event's `extra` has `table` and `snapshot_id`"
    )
