"""Reading the Baton manifest, the JSON contract between the TypeScript definitions and Python.

``ACCEPTED_MANIFEST_VERSIONS`` is the one list of versions the Python side reads (core's
TypeScript holds the other); adapters import it. Paths inside the manifest (runtime.module,
runtime.stepEntry) are relative to its folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Final, cast

from .build import BuildInfo, read_build
from .manifest_types import (
    ManifestAsset,
    ManifestData,
    ManifestPool,
    ManifestResource,
    ManifestSchedule,
    ManifestSensor,
)
from .step import step_command

# Keep in step with ACCEPTED_MANIFEST_VERSIONS in core's src/manifest/types.ts.
ACCEPTED_MANIFEST_VERSIONS: Final[tuple[int, ...]] = (2,)
READER: Final = "baton_core"
REBUILD_HINT: Final = "rebuild the output folder with `baton <target> build` and install the wheels it ships"


class ManifestError(ValueError):
    """The manifest is missing, unreadable or of a version the reader cannot read."""


class ManifestVersionError(ManifestError):
    """The manifest's version is not one the reader accepts; names both versions and the file."""

    def __init__(
        self,
        path: Path,
        version: object,
        accepted: tuple[int, ...],
        reader: str,
        hint: str,
    ) -> None:
        self.path = path
        self.version = version
        self.accepted = accepted
        self.reader = reader
        readable = ", ".join(str(v) for v in accepted)
        message = f"manifest version {version} in {path} is not one {reader} can read (it reads {readable})"
        super().__init__(f"{message}; {hint}" if hint else message)


def code_reference(asset: ManifestAsset) -> str | None:
    """``file:line`` where ``asset()`` was called, relative to the project root; None when unknown."""
    source = asset.get("source")
    if not source:
        return None
    line = source.get("line")
    return f"{source['file']}:{line}" if line else source["file"]


def read_manifest(
    path: str | Path,
    accepted_versions: Iterable[int] = ACCEPTED_MANIFEST_VERSIONS,
    reader: str = READER,
    hint: str = REBUILD_HINT,
) -> ManifestData:
    """The manifest's JSON, once its ``manifestVersion`` is one of ``accepted_versions``.

    ``reader`` names the module reading it and ``hint`` says how to fix a mismatch; both go into
    the error. The structure is core's (its JSON Schema); only the version is checked here.
    """
    path = Path(path)
    try:
        data: object = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ManifestError(
            f"cannot read the Baton manifest {path}: {e}"
            + (f"; {hint}" if hint else "")
        ) from e
    version = data.get("manifestVersion") if isinstance(data, dict) else None
    accepted = tuple(accepted_versions)
    if version not in accepted:
        raise ManifestVersionError(path, version, accepted, reader, hint)
    return cast(ManifestData, data)


class Manifest:
    """A read manifest with its assets, resources, schedules and sensors looked up by id or name."""

    # Raised for an unknown id or name; an adapter may use its own error class.
    not_found: type[Exception] = LookupError

    def __init__(self, path: str | Path, data: ManifestData) -> None:
        self.path = Path(path)
        self.data = data

    @classmethod
    def read(
        cls,
        path: str | Path,
        accepted_versions: Iterable[int] = ACCEPTED_MANIFEST_VERSIONS,
        reader: str = READER,
        hint: str = REBUILD_HINT,
    ) -> Manifest:
        return cls(path, read_manifest(path, accepted_versions, reader, hint))

    @property
    def folder(self) -> Path:
        return self.path.parent

    @cached_property
    def build(self) -> BuildInfo:
        """The build settings next to the manifest (``build.json``); raises BuildError."""
        return read_build(self.path)

    @property
    def step_entry(self) -> Path:
        """core's `baton-step` entry (or the adapter's own), which the steps run with Node."""
        return (self.folder / self.data["runtime"]["stepEntry"]).resolve()

    @property
    def module(self) -> Path:
        """The compiled definitions the step loads (content-addressed)."""
        return (self.folder / self.data["runtime"]["module"]).resolve()

    def step_command(self, command: str, args: Sequence[str] = ()) -> list[str]:
        """``node <stepEntry> <command> --manifest <this file> <args>``, for run_step."""
        return step_command(self.step_entry, self.path, command, args)

    @cached_property
    def assets(self) -> dict[str, ManifestAsset]:
        """Assets by id, in the manifest's (dependency) order."""
        return {a["id"]: a for a in self.data["assets"]}

    @cached_property
    def resources(self) -> dict[str, ManifestResource]:
        return {r["key"]: r for r in self.data["resources"]}

    @property
    def schedules(self) -> list[ManifestSchedule]:
        return self.data["schedules"]

    @property
    def sensors(self) -> list[ManifestSensor]:
        return self.data["sensors"]

    @property
    def pools(self) -> dict[str, ManifestPool]:
        """Concurrency pools by name; none in a manifest written before pools existed."""
        return {p["name"]: p for p in self.data.get("pools", [])}

    def asset(self, asset_id: str) -> ManifestAsset:
        try:
            return self.assets[asset_id]
        except KeyError:
            known = ", ".join(list(self.assets)[:10])
            raise self.not_found(
                f'there is no asset "{asset_id}" (known: {known})'
            ) from None

    def resource(self, key: str) -> ManifestResource:
        try:
            return self.resources[key]
        except KeyError:
            raise self.not_found(
                f'there is no resource "{key}" (known: {", ".join(self.resources)})'
            ) from None

    def schedule(self, name: str) -> ManifestSchedule:
        found = next((s for s in self.schedules if s["name"] == name), None)
        if found is None:
            raise self._unknown("schedule", name, [s["name"] for s in self.schedules])
        return found

    def sensor(self, name: str) -> ManifestSensor:
        found = next((s for s in self.sensors if s["name"] == name), None)
        if found is None:
            raise self._unknown("sensor", name, [s["name"] for s in self.sensors])
        return found

    def _unknown(self, kind: str, name: str, known: list[str]) -> Exception:
        shown = ", ".join(known) or "none"
        return self.not_found(f'there is no {kind} named "{name}" (known: {shown})')
