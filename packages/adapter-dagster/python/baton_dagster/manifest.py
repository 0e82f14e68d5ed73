"""Reading the Baton manifest: the contract between the TypeScript definitions and this module."""

from pathlib import Path
from typing import Any

from baton_core import ManifestError, ManifestVersionError, read_manifest

# Manifest versions this module understands; keep in step with ACCEPTED_MANIFEST_VERSIONS in src/build.ts.
ACCEPTED_MANIFEST_VERSIONS = (1,)

Manifest = dict[str, Any]

__all__ = [
    "ACCEPTED_MANIFEST_VERSIONS",
    "Manifest",
    "ManifestError",
    "asset_key_string",
    "load_manifest",
]


def load_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    try:
        return read_manifest(path, ACCEPTED_MANIFEST_VERSIONS, "baton_dagster")
    except ManifestVersionError as error:
        accepted = ", ".join(str(v) for v in ACCEPTED_MANIFEST_VERSIONS)
        raise ManifestError(
            f"{path} is manifest version {error.version}, but baton_dagster reads version {accepted}: "
            "rebuild it with `baton dagster build`, or upgrade @baton/adapter-dagster"
        ) from None


def asset_key_string(key: list[str]) -> str:
    """The key as Dagster prints it ("raw/orders"); also what Baton calls the asset's id."""
    return "/".join(key)
