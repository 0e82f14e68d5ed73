"""Builders of small manifests and build folders, shaped as core writes them (manifest v2).

For unit tests of code that reads Baton builds (the adapters' translators, a custom DAG file):
``asset``, ``dep`` and the partition helpers make manifest entries with every required field, and
``write_build`` lays out ``OUT/baton/manifest.json`` and ``OUT/baton/build.json`` as
``baton <target> build`` does, without Node or an orchestrator. ``write_output`` commits a polars
frame to a store (a folder or ``s3://…``) in core's layout, for tests of code that reads outputs.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from .manifest_types import (
    ManifestAsset,
    ManifestData,
    ManifestDep,
    ManifestPool,
    ManifestResource,
    ManifestSchedule,
    ManifestSensor,
    PartitionMapping,
    StaticPartitionsDefinition,
    TimePartitionsDefinition,
)
from .storage import OutputRecord, _folder, _key_parts, _open_store

if TYPE_CHECKING:
    import polars

__all__ = [
    "CORE_STEP_ENTRY",
    "asset",
    "daily",
    "dep",
    "hourly",
    "manifest",
    "static",
    "write_build",
    "write_output",
]

# Where a build's runtime keeps core's step entry (adapters with their own pass step_entry).
CORE_STEP_ENTRY = "runtime/node_modules/@baton/core/dist/step/bin.js"


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
    """A dependency on ``asset_id``: a data input named ``input_name`` (None: ordering only)."""
    return {
        "id": asset_id,
        "key": asset_id.split("/"),
        "input": input_name,
        "partitionMapping": None
        if mapping is None
        else cast(PartitionMapping, {"type": mapping}),
    }


def asset(
    asset_id: str, deps: Sequence[ManifestDep | str] = (), **fields: Any
) -> ManifestAsset:
    """An asset with defaults for every field; a dep given as a string is an input named after it."""
    entry: dict[str, Any] = {
        "id": asset_id,
        "key": asset_id.split("/"),
        "deps": [d if not isinstance(d, str) else dep(d, input_name=d) for d in deps],
        "partitions": None,
        "group": "default",
        "description": None,
        "owners": [],
        "tags": {},
        "codeVersion": None,
        "metadata": {},
        "checks": [],
        "retry": None,
        "resources": [],
        "format": "parquet",
        "output": "table",
    }
    entry.update(fields)
    return cast(ManifestAsset, entry)


def manifest(
    *assets: ManifestAsset,
    resources: Sequence[ManifestResource] = (),
    schedules: Sequence[ManifestSchedule] = (),
    sensors: Sequence[ManifestSensor] = (),
    step_entry: str = CORE_STEP_ENTRY,
    pools: Sequence[ManifestPool] | None = None,
) -> ManifestData:
    """A manifest of ``assets``; ``pools`` (issue 12) only when given, as an older manifest lacks them."""
    data: ManifestData = {
        "manifestVersion": 2,
        "generator": {"name": "@baton/core", "version": "0.1.0"},
        "runtime": {
            "module": "runtime/definitions-0123456789abcdef.mjs",
            "moduleHash": "sha256:" + "0" * 64,
            "export": "default",
            "stepEntry": step_entry,
            "node": ">=20.19",
        },
        "assets": list(assets),
        "resources": list(resources),
        "schedules": list(schedules),
        "sensors": list(sensors),
    }
    if pools is not None:
        data["pools"] = list(pools)
    return data


def write_build(
    out: str | Path,
    data: ManifestData | Mapping[str, Any],
    *,
    target: str,
    storage: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> Path:
    """``out/baton/manifest.json`` and ``out/baton/build.json``; returns the manifest's path."""
    folder = Path(out) / "baton"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    build = {"options": dict(options or {}), "storage": storage, "target": target}
    (folder / "build.json").write_text(json.dumps(build, indent=2), encoding="utf-8")
    return path


#: Rows per slice of core's content hash (packages/core/src/io/frames.ts HASH_SLICE_ROWS).
HASH_SLICE_ROWS = 65_536


def _content_hash(frame: polars.DataFrame) -> str:
    hasher = hashlib.sha256()
    if frame.height <= HASH_SLICE_ROWS:
        hasher.update(frame.rechunk().write_ipc_stream(None).getvalue())
    else:
        for offset in range(0, frame.height, HASH_SLICE_ROWS):
            piece = frame.slice(offset, HASH_SLICE_ROWS).rechunk()
            hasher.update(piece.write_ipc_stream(None).getvalue())
    return hasher.hexdigest()


def write_output(
    storage: str | os.PathLike[str],
    key: str | Sequence[str],
    frame: polars.DataFrame,
    partition: str | None = None,
    *,
    format: Literal["parquet", "ipc"] = "parquet",
    run_id: str = "test-run",
    code_version: str | None = None,
    env: Mapping[str, str] | None = None,
) -> OutputRecord:
    """Commit ``frame`` as core's store does: the data file, then ``record.json`` naming it.

    ``contentHash`` follows core's recipe (sha256 over the Arrow IPC streams of consecutive
    65,536-row slices, each rechunked; the whole frame's stream when it has at most one slice);
    another polars version may frame the stream differently, so it is not promised to equal Node's.
    """
    store = _open_store(storage, env)
    parts = _key_parts(key)
    folder = _folder(parts, partition)
    digest = _content_hash(frame)
    buffer = io.BytesIO()
    if format == "parquet":
        frame.write_parquet(buffer, compression="zstd")
    else:
        frame.write_ipc(buffer)
    file = f"data-{digest[:16]}.{format}"
    store.write([*folder, file], buffer.getvalue())
    record: OutputRecord = {
        "assetKey": "/".join(parts),
        "partitionKey": partition,
        "format": format,
        "file": file,
        "rowCount": frame.height,
        "schema": [{"name": n, "type": str(t)} for n, t in frame.schema.items()],
        "contentHash": digest,
        "producedAs": "polars",
        "codeVersion": code_version,
        "runId": run_id,
    }
    store.write(
        [*folder, "record.json"], (json.dumps(record, indent=2) + "\n").encode()
    )
    return record
