"""The operators' options: what ``baton airflow build`` resolved into baton/build.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

from baton_core import ManifestError, read_build

DEFAULT_DAG_ID_PREFIX = "baton"


class AirflowOptions(TypedDict):
    """``storage``: the build's default IO store (a worker's BATON_STORAGE wins), or None;
    ``resources``: Baton resource -> {connection|variable, fields} (names, never values);
    ``storageConnection``: the AWS connection id with the S3 store's credentials, or None."""

    storage: str | None
    resources: dict[str, dict[str, Any]]
    dagIdPrefix: str
    storageConnection: str | None


def default_options(storage: str | None = None) -> AirflowOptions:
    return {
        "storage": storage,
        "resources": {},
        "dagIdPrefix": DEFAULT_DAG_ID_PREFIX,
        "storageConnection": None,
    }


def build_options(manifest_path: str | Path) -> AirflowOptions:
    """The options of the build whose baton/manifest.json is ``manifest_path``; refuses a folder
    built for another target (its build.json says which)."""
    build = read_build(Path(manifest_path))
    if build.target != "airflow":
        raise ManifestError(
            f"{Path(manifest_path).parent / 'build.json'}: this folder was built for "
            f"{build.target!r}, not Airflow; build it with `baton airflow build --out DIR`"
        )
    resources = build.options.get("resources") or {}
    prefix = build.options.get("dagIdPrefix") or DEFAULT_DAG_ID_PREFIX
    connection = build.options.get("storageConnection")
    if (
        not isinstance(resources, dict)
        or not isinstance(prefix, str)
        or not isinstance(connection, str | None)
    ):
        raise ManifestError(
            f"{Path(manifest_path).parent / 'build.json'}: options.resources must be an "
            "object, options.dagIdPrefix a string and options.storageConnection a string or "
            "null; rebuild with `baton airflow build`"
        )
    return {
        "storage": build.storage,
        "resources": resources,
        "dagIdPrefix": prefix,
        "storageConnection": connection,
    }
