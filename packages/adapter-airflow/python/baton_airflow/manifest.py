"""Read the Baton manifest (plain JSON written by `baton airflow build`) and refuse foreign versions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from baton_core import Manifest, ManifestError
from baton_core.manifest import ACCEPTED_MANIFEST_VERSIONS

READER = "baton_airflow"
REBUILD = "rebuild the DAG bundle with `baton airflow build` from a matching @baton/adapter-airflow"

__all__ = [
    "ACCEPTED_MANIFEST_VERSIONS",
    "Manifest",
    "ManifestError",
    "StandaloneCheck",
    "airflow_id",
    "asset_checks",
    "asset_uri",
    "check_task_id",
    "load_manifest",
    "standalone_checks",
]


def load_manifest(path: str | Path) -> Manifest:
    """The manifest, assets indexed by id; paths inside it are relative to its folder."""
    return Manifest.read(
        Path(path).resolve(), ACCEPTED_MANIFEST_VERSIONS, READER, REBUILD
    )


_NOT_ID = re.compile(r"[^A-Za-z0-9_.-]")


def airflow_id(text: str) -> str:
    """A DAG or task id for a Baton name: '/' becomes '__', other characters Airflow refuses become '_'."""
    return _NOT_ID.sub("_", text.replace("/", "__"))


def asset_uri(asset_id: str) -> str:
    """Stable Airflow asset URI; the x- scheme tells Airflow not to normalise or validate it."""
    return f"x-baton://{asset_id}"


def check_task_id(asset_id: str, check: str) -> str:
    """The task id of a standalone check: ``<asset>__<check>``, each part as ``airflow_id``
    makes it (the TypeScript side's checkTaskId, whose build refuses a collision)."""
    return f"{airflow_id(asset_id)}__{airflow_id(check)}"


@dataclass(frozen=True)
class StandaloneCheck:
    """A check of the manifest. A standalone one (CHECKS-CONTRACT.md §2) has its own task in
    every DAG that holds its target, downstream of the target and of its deps there; an inline
    one runs inside its asset's task (and, run alone, in the DAG's ``inline_checks`` task)."""

    asset_id: str
    name: str
    severity: str
    description: str | None
    deps: tuple[str, ...]
    standalone: bool = True

    @property
    def task_id(self) -> str:
        return check_task_id(self.asset_id, self.name)

    @property
    def ref(self) -> str:
        """How a run's ``checks`` param names it: ``asset:check``."""
        return f"{self.asset_id}:{self.name}"


def asset_checks(manifest: Manifest, asset_ids: list[str]) -> list[StandaloneCheck]:
    """Every check of these assets, in their order (older manifests: all inline)."""
    return [
        StandaloneCheck(
            asset_id=asset_id,
            name=c["name"],
            severity=c["severity"],
            description=c["description"],
            deps=tuple(d["id"] for d in c.get("deps") or []),
            standalone=bool(c.get("standalone")),
        )
        for asset_id in asset_ids
        for c in manifest.asset(asset_id)["checks"]
    ]


def standalone_checks(
    manifest: Manifest, asset_ids: list[str]
) -> list[StandaloneCheck]:
    """The standalone checks of these assets, in their order."""
    return [c for c in asset_checks(manifest, asset_ids) if c.standalone]
