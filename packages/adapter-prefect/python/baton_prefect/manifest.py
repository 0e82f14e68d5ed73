"""Reading the Baton manifest: the only contract between the TypeScript definitions and Prefect."""

from __future__ import annotations

from pathlib import Path

from baton_core import Manifest as CoreManifest
from baton_core import ManifestError, read_manifest
from baton_core.manifest import ACCEPTED_MANIFEST_VERSIONS

from .errors import BatonManifestError, BatonSelectionError

READER = "baton_prefect"
REBUILD = (
    "rebuild the folder with `baton prefect build` and install its requirements.txt,"
    " so that the baton-prefect wheel and the manifest come from one build"
)


class Manifest(CoreManifest):
    """baton_core's manifest, with Prefect's errors and the dependency order flows need."""

    not_found = BatonSelectionError

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        path = Path(path).resolve()
        try:
            return cls(
                path, read_manifest(path, ACCEPTED_MANIFEST_VERSIONS, READER, REBUILD)
            )
        except ManifestError as e:
            raise BatonManifestError(str(e)) from e

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
