"""Reading the Baton manifest, the JSON contract between the TypeScript definitions and Python.

Each adapter passes the manifest versions its own module reads: the check belongs to the reader.
Paths inside the manifest (runtime.module, runtime.stepEntry) are relative to its folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from .step import step_command


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


def read_manifest(
    path: str | Path, accepted_versions: Iterable[int], reader: str, hint: str = ""
) -> dict[str, Any]:
    """The manifest's JSON, once its ``manifestVersion`` is one of ``accepted_versions``.

    ``reader`` names the module reading it and ``hint`` says how to fix a mismatch; both go into
    the error.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ManifestError(
            f"cannot read the Baton manifest {path}: {e}"
            + (f"; {hint}" if hint else "")
        ) from e
    version = data.get("manifestVersion") if isinstance(data, dict) else None
    accepted = tuple(accepted_versions)
    if version not in accepted:
        raise ManifestVersionError(path, version, accepted, reader, hint)
    return data


class Manifest:
    """A read manifest with its assets, resources, schedules and sensors looked up by id or name."""

    # Raised for an unknown id or name; an adapter may use its own error class.
    not_found: type[Exception] = LookupError

    def __init__(self, path: str | Path, data: dict[str, Any]) -> None:
        self.path = Path(path)
        self.data = data

    @classmethod
    def read(
        cls,
        path: str | Path,
        accepted_versions: Iterable[int],
        reader: str,
        hint: str = "",
    ) -> Manifest:
        return cls(path, read_manifest(path, accepted_versions, reader, hint))

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def step_entry(self) -> Path:
        """core's `baton-step` entry (or the adapter's own), which the steps run with Node."""
        return (self.folder / self.data["runtime"]["stepEntry"]).resolve()

    def step_command(self, command: str, args: Sequence[str] = ()) -> list[str]:
        """``node <stepEntry> <command> --manifest <this file> <args>``, for run_step."""
        return step_command(self.step_entry, self.path, command, args)

    @cached_property
    def assets(self) -> dict[str, dict[str, Any]]:
        """Assets by id, in the manifest's (dependency) order."""
        return {a["id"]: a for a in self.data["assets"]}

    @cached_property
    def resources(self) -> dict[str, dict[str, Any]]:
        return {r["key"]: r for r in self.data["resources"]}

    def asset(self, asset_id: str) -> dict[str, Any]:
        try:
            return self.assets[asset_id]
        except KeyError:
            known = ", ".join(list(self.assets)[:10])
            raise self.not_found(
                f'there is no asset "{asset_id}" (known: {known})'
            ) from None

    def resource(self, key: str) -> dict[str, Any]:
        try:
            return self.resources[key]
        except KeyError:
            raise self.not_found(
                f'there is no resource "{key}" (known: {", ".join(self.resources)})'
            ) from None

    def schedule(self, name: str) -> dict[str, Any]:
        return self._named("schedules", name)

    def sensor(self, name: str) -> dict[str, Any]:
        return self._named("sensors", name)

    def _named(self, kind: str, name: str) -> dict[str, Any]:
        items = self.data[kind]
        for item in items:
            if item["name"] == name:
                return item
        known = ", ".join(i["name"] for i in items) or "none"
        raise self.not_found(f'there is no {kind[:-1]} named "{name}" (known: {known})')
