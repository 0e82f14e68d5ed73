"""BatonBuildComponent loaded the way `dg` loads a project: from its defs folder."""

import os
from pathlib import Path

import dagster as dg
import pytest

from baton_core.manifest_types import ManifestData
from baton_dagster import ManifestError, build_definitions
from baton_dagster.assets import PIPES_RESOURCE_KEY

from .conftest import write_build

DEFS_YAML = """type: baton_dagster.BatonBuildComponent

attributes:
  build: "{{ context.project_root }}/baton"
"""


def dg_project(root: Path, data: ManifestData, storage: str | None = None) -> Path:
    (root / "pyproject.toml").write_text(
        '[tool.dg]\ndirectory_type = "project"\n\n'
        '[tool.dg.project]\nroot_module = "sales_project"\n',
        encoding="utf-8",
    )
    package = root / "src" / "sales_project"
    (package / "defs" / "baton").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "defs" / "__init__.py").write_text("", encoding="utf-8")
    (package / "defs" / "baton" / "defs.yaml").write_text(DEFS_YAML, encoding="utf-8")
    write_build(root, data, storage)
    return package


def load(package: Path, monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    # What dg's workspace entry does: the project's src/ is the working directory.
    monkeypatch.syspath_prepend(str(package.parent))
    return dg.load_from_defs_folder(path_within_project=package)


def test_the_component_yields_assets_checks_schedules_sensors_and_resources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sales: ManifestData
) -> None:
    defs = load(dg_project(tmp_path, sales), monkeypatch)
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert sorted(k.to_user_string() for k in graph.get_all_asset_keys()) == [
        "orders_daily",
        "raw/orders",
        "report",
    ]
    assert [c.to_user_string() for c in graph.asset_check_keys] == [
        "orders_daily:positive"
    ]
    assert graph.get(dg.AssetKey(["raw", "orders"])).owners == ["team:sales"]
    assert defs.resolve_schedule_def("nightly").job_name == (
        "__anonymous_asset_job_nightly"
    )
    assert defs.resolve_sensor_def("new_orders").minimum_interval_seconds == 30
    assert set(defs.resources or {}) == {PIPES_RESOURCE_KEY, "warehouse"}


def test_storage_comes_from_build_json_unless_the_worker_sets_baton_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sales: ManifestData
) -> None:
    monkeypatch.delenv("BATON_STORAGE", raising=False)
    path = write_build(tmp_path, sales, storage="s3://bucket/baton")
    client = (build_definitions(path).resources or {})[PIPES_RESOURCE_KEY]
    assert client.env == {"BATON_STORAGE": "s3://bucket/baton"}

    monkeypatch.setenv("BATON_STORAGE", "/worker/storage")
    client = (build_definitions(path).resources or {})[PIPES_RESOURCE_KEY]
    assert client.env == {}
    assert os.environ["BATON_STORAGE"] == "/worker/storage"


def test_a_manifest_of_another_version_names_the_file_and_the_fix(
    tmp_path: Path, sales: ManifestData
) -> None:
    path = write_build(tmp_path, {**sales, "manifestVersion": 1})  # type: ignore[typeddict-item]
    with pytest.raises(
        ManifestError,
        match=r"manifest version 1 in .*manifest\.json.*baton dagster build",
    ):
        build_definitions(path)


def test_a_build_without_build_json_is_refused(
    tmp_path: Path, sales: ManifestData
) -> None:
    path = write_build(tmp_path, sales)
    (tmp_path / "baton" / "build.json").unlink()
    with pytest.raises(ValueError, match=r"build\.json: missing"):
        build_definitions(path)
