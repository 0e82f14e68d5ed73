"""Iceberg table outputs as a Prefect user sees them (TABLE-OUTPUT-CONTRACT.md §6).

An asset stored in a table (``io: { format: "iceberg" }``) has no data file: its materialization
event has ``format: "iceberg"``, ``path: null`` and ``metadata.table = {format, catalog, name,
snapshotId, location}``. Prefect has no table type of its own, so the asset event's payload
carries the table as flat keys (``table``, ``snapshot_id``, ``catalog``, ``table_location``), the
task run's log names the table and the committed snapshot, and each commit is a row of the table
artifact ``<asset>-table`` (the Artifacts tab: on a self-hosted server the asset events are only
in the event feed). The snapshot id stays text: 64-bit ids do not fit a JSON reader's doubles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def table_of(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The table a materialization event committed to, or None for a parquet/ipc output."""
    table: Mapping[str, Any] | None = event["metadata"].get("table")
    return table


def table_metadata(event: Mapping[str, Any]) -> dict[str, Any]:
    """The asset event payload's keys of a table output (none for a file output)."""
    table = table_of(event)
    if table is None:
        return {}
    keys: dict[str, Any] = {
        "table": table["name"],
        "snapshot_id": str(table["snapshotId"]),
        "catalog": table["catalog"],
    }
    if table.get("location"):
        keys["table_location"] = table["location"]
    return keys


def table_artifact_key(slug: str) -> str:
    """The table artifact of an asset's table commits (``slug``: the asset's artifact slug)."""
    return f"{slug}-table"


def commit_rows(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One artifact row per table commit of a task run (none when its outputs are files)."""
    rows = []
    for event in events:
        table = table_of(event)
        if table is None:
            continue
        rows.append(
            {
                "table": table["name"],
                "snapshot_id": str(table["snapshotId"]),
                "partition_key": event["partitionKey"],
                "row_count": event["metadata"]["rowCount"],
                "catalog": table["catalog"],
                "format": table["format"],
                "location": table.get("location"),
            }
        )
    return rows


def commit_line(asset: str, event: Mapping[str, Any]) -> str | None:
    """The task log line of one table commit, or None for a file output."""
    table = table_of(event)
    if table is None:
        return None
    where = f" [{event['partitionKey']}]" if event["partitionKey"] else ""
    return (
        f"{asset}{where}: {table['format'].capitalize()} table {table['name']}"
        f" (catalog {table['catalog']}) at snapshot {table['snapshotId']},"
        f" {event['metadata']['rowCount']} rows"
    )
