"""Small manifests for the unit tests, shaped as core writes them (manifest v2)."""

from __future__ import annotations

from baton_core.manifest_types import (
    ManifestAsset,
    ManifestData,
    ManifestDep,
    ManifestResource,
    ManifestSchedule,
    PartitionMapping,
    PartitionsDefinition,
    StaticPartitionsDefinition,
    TimePartitionsDefinition,
)


def daily(
    start: str = "2024-01-01", timezone: str = "UTC", end: str | None = None
) -> TimePartitionsDefinition:
    definition: TimePartitionsDefinition = {
        "type": "time",
        "grain": "daily",
        "start": start,
        "timezone": timezone,
        "format": "%Y-%m-%d",
    }
    if end is not None:
        definition["end"] = end
    return definition


def hourly(
    start: str = "2024-01-01T00:00", timezone: str = "UTC"
) -> TimePartitionsDefinition:
    return {
        "type": "time",
        "grain": "hourly",
        "start": start,
        "timezone": timezone,
        "format": "%Y-%m-%d-%H:%M",
    }


def static(*keys: str) -> StaticPartitionsDefinition:
    return {"type": "static", "keys": list(keys)}


def dep(
    asset_id: str, mapping: str | None = None, input_name: str | None = "input"
) -> ManifestDep:
    partition_mapping: PartitionMapping | None = None
    if mapping == "identity":
        partition_mapping = {"type": "identity"}
    elif mapping == "timeWindow":
        partition_mapping = {"type": "timeWindow"}
    elif mapping == "allPartitions":
        partition_mapping = {"type": "allPartitions"}
    return {
        "id": asset_id,
        "key": asset_id.split("/"),
        "input": input_name,
        "partitionMapping": partition_mapping,
    }


def asset(
    asset_id: str,
    deps: list[ManifestDep] | None = None,
    partitions: PartitionsDefinition | None = None,
    group: str = "default",
    tags: dict[str, str] | None = None,
    resources: list[str] | None = None,
) -> ManifestAsset:
    return {
        "id": asset_id,
        "key": asset_id.split("/"),
        "deps": deps or [],
        "partitions": partitions,
        "group": group,
        "description": None,
        "owners": [],
        "tags": tags or {},
        "codeVersion": None,
        "metadata": {},
        "checks": [],
        "retry": None,
        "resources": resources or [],
        "format": "parquet",
        "output": "table",
    }


def manifest(
    *assets: ManifestAsset,
    resources: list[ManifestResource] | None = None,
    schedules: list[ManifestSchedule] | None = None,
) -> ManifestData:
    return {
        "manifestVersion": 2,
        "generator": {"name": "@baton/core", "version": "0.1.0"},
        "runtime": {
            "module": "runtime/definitions-0123456789abcdef.mjs",
            "moduleHash": "sha256:" + "0" * 64,
            "export": "default",
            "stepEntry": "runtime/node_modules/@baton/core/dist/step/bin.js",
            "node": ">=20.19",
        },
        "assets": list(assets),
        "resources": resources or [],
        "schedules": schedules or [],
        "sensors": [],
    }
