"""Reading the Baton manifest: the contract between the TypeScript definitions and this module."""

import json
from pathlib import Path
from typing import Any

# Manifest versions this module understands; keep in step with ACCEPTED_MANIFEST_VERSIONS in src/build.ts.
ACCEPTED_MANIFEST_VERSIONS = (1,)

Manifest = dict[str, Any]


class ManifestError(Exception):
    """The manifest is missing, unreadable or of a version this module cannot read."""


def load_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ManifestError(f"cannot read the Baton manifest {path}: {error}") from error
    version = manifest.get("manifestVersion")
    if version not in ACCEPTED_MANIFEST_VERSIONS:
        accepted = ", ".join(str(v) for v in ACCEPTED_MANIFEST_VERSIONS)
        raise ManifestError(
            f"{path} is manifest version {version}, but baton_dagster reads version {accepted}: "
            "rebuild it with `baton dagster build`, or upgrade @baton/adapter-dagster"
        )
    return manifest


def asset_key_string(key: list[str]) -> str:
    """The key as Dagster prints it ("raw/orders"); also what Baton calls the asset's id."""
    return "/".join(key)
