"""Read the Baton manifest (plain JSON written by `baton airflow build`) and refuse foreign versions."""

from __future__ import annotations

import json
import re
from pathlib import Path

# Keep in step with ACCEPTED_MANIFEST_VERSIONS in src/versions.ts.
ACCEPTED_MANIFEST_VERSIONS = (1,)
READER = "baton_airflow"


class ManifestError(ValueError):
    pass


class Manifest:
    """The parsed manifest with its assets indexed by id; paths inside are relative to its folder."""

    def __init__(self, path: Path, data: dict) -> None:
        self.path = path
        self.data = data
        self.folder = path.parent
        self.assets: list[dict] = data["assets"]
        self._by_id = {a["id"]: a for a in self.assets}

    def asset(self, asset_id: str) -> dict:
        return self._by_id[asset_id]

    @property
    def step_entry(self) -> Path:
        return (self.folder / self.data["runtime"]["stepEntry"]).resolve()

    def resource(self, key: str) -> dict:
        return next(r for r in self.data["resources"] if r["key"] == key)


def load_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ManifestError(f"cannot read the Baton manifest {path}: {e}; rebuild it with `baton airflow build`") from e
    version = data.get("manifestVersion") if isinstance(data, dict) else None
    if version not in ACCEPTED_MANIFEST_VERSIONS:
        accepted = ", ".join(str(v) for v in ACCEPTED_MANIFEST_VERSIONS)
        raise ManifestError(
            f"manifest version {version} in {path} is not one {READER} can read (it reads {accepted}); "
            f"rebuild the DAGs folder with `baton airflow build` from a matching @baton/adapter-airflow"
        )
    return Manifest(path=path, data=data)


_NOT_ID = re.compile(r"[^A-Za-z0-9_.-]")


def airflow_id(text: str) -> str:
    """A DAG or task id for a Baton name: '/' becomes '__', other characters Airflow refuses become '_'."""
    return _NOT_ID.sub("_", text.replace("/", "__"))


def asset_uri(asset_id: str) -> str:
    """Stable Airflow asset URI; the x- scheme tells Airflow not to normalise or validate it."""
    return f"x-baton://{asset_id}"
