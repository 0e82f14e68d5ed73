"""Read the Baton manifest (plain JSON written by `baton airflow build`) and refuse foreign versions."""

from __future__ import annotations

import re
from pathlib import Path

from baton_core import Manifest, ManifestError
from baton_core.manifest import ACCEPTED_MANIFEST_VERSIONS

READER = "baton_airflow"
REBUILD = "rebuild the DAG bundle with `baton airflow build` from a matching @baton/adapter-airflow"

__all__ = [
    "ACCEPTED_MANIFEST_VERSIONS",
    "Manifest",
    "ManifestError",
    "airflow_id",
    "asset_uri",
    "load_manifest",
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
