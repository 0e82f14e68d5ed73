"""Reading the Baton manifest: the only contract between the TypeScript definitions and Prefect."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .errors import BatonManifestError, BatonSelectionError

# Versions of the manifest this module understands (the TypeScript emitter declares the same).
ACCEPTED_MANIFEST_VERSIONS = (1,)
READER = "baton_prefect"


@dataclass(frozen=True)
class Manifest:
    path: Path
    data: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        path = Path(path).resolve()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise BatonManifestError(
                f"cannot read the Baton manifest {path}: {e}; rebuild it with `baton prefect build`"
            ) from e
        version = data.get("manifestVersion") if isinstance(data, dict) else None
        if version not in ACCEPTED_MANIFEST_VERSIONS:
            accepted = ", ".join(str(v) for v in ACCEPTED_MANIFEST_VERSIONS)
            raise BatonManifestError(
                f"manifest version {version} in {path} is not one {READER} can read (it reads {accepted}); "
                f"rebuild the project with a @baton/adapter-prefect that matches this module"
            )
        return cls(path, data)

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def step_entry(self) -> Path:
        return (self.folder / self.data["runtime"]["stepEntry"]).resolve()

    @cached_property
    def assets(self) -> dict[str, dict[str, Any]]:
        """Assets by id, in dependency order."""
        return {a["id"]: a for a in self.data["assets"]}

    @cached_property
    def resources(self) -> dict[str, dict[str, Any]]:
        return {r["key"]: r for r in self.data["resources"]}

    def asset(self, asset_id: str) -> dict[str, Any]:
        try:
            return self.assets[asset_id]
        except KeyError:
            known = ", ".join(list(self.assets)[:10])
            raise BatonSelectionError(f'there is no asset "{asset_id}" (known: {known})') from None

    def schedule(self, name: str) -> dict[str, Any]:
        return _named(self.data["schedules"], name, "schedule")

    def sensor(self, name: str) -> dict[str, Any]:
        return _named(self.data["sensors"], name, "sensor")

    def upstream(self, asset_id: str) -> list[str]:
        """Upstream asset ids, each once, data inputs first (as core orders them)."""
        ids: list[str] = []
        for dep in self.asset(asset_id)["deps"]:
            if dep["id"] not in ids:
                ids.append(dep["id"])
        return ids

    def ordered(self, asset_ids: list[str] | None) -> list[str]:
        """The given ids (all when None) in dependency order; unknown ids fail."""
        if asset_ids is None:
            return list(self.assets)
        wanted = set(asset_ids)
        for asset_id in wanted:
            self.asset(asset_id)
        return [a for a in self.assets if a in wanted]


def _named(items: list[dict[str, Any]], name: str, kind: str) -> dict[str, Any]:
    for item in items:
        if item["name"] == name:
            return item
    known = ", ".join(i["name"] for i in items) or "none"
    raise BatonSelectionError(f'there is no {kind} named "{name}" (known: {known})')
