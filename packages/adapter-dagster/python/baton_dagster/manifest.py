"""Reading the Baton manifest: the contract between the TypeScript definitions and this module."""

from collections.abc import Sequence
from pathlib import Path

from baton_core import ManifestError, read_manifest
from baton_core.manifest import ACCEPTED_MANIFEST_VERSIONS
from baton_core.manifest_types import ManifestData

Manifest = ManifestData

__all__ = [
    "ACCEPTED_MANIFEST_VERSIONS",
    "Manifest",
    "ManifestError",
    "asset_key_string",
    "load_manifest",
]

REBUILD_HINT = (
    "rebuild it with `baton dagster build`, or upgrade @baton/adapter-dagster"
)


def load_manifest(path: str | Path) -> Manifest:
    """The manifest, once its version is one baton_core reads (the error names the file)."""
    return read_manifest(
        Path(path), ACCEPTED_MANIFEST_VERSIONS, "baton_dagster", REBUILD_HINT
    )


def asset_key_string(key: Sequence[str]) -> str:
    """The key as Dagster prints it ("raw/orders"); also what Baton calls the asset's id."""
    return "/".join(key)
