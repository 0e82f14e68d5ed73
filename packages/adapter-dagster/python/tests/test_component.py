"""BatonBuildComponent loaded the way `dg` loads a project: from its defs folder."""

import sys
from pathlib import Path

import dagster as dg
import pytest

from baton_core.manifest_types import ManifestData
from baton_dagster import BatonStorage, ManifestError, build_definitions
from baton_dagster.assets import PIPES_RESOURCE_KEY

from .conftest import write_build

DEFS_YAML = """type: baton_dagster.BatonBuildComponent

attributes:
  build: "{{ context.project_root }}/baton"
"""
RESOURCES_PY = """import dagster as dg
from baton_dagster import BatonStorage


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"baton_storage": BatonStorage()})
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
    (package / "defs" / "resources.py").write_text(RESOURCES_PY, encoding="utf-8")
    write_build(root, data, storage)
    return package


def load(package: Path, monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    # What dg's workspace entry does: the project's src/ is the working directory. Every test's
    # project has the same module name: forget the last one's modules.
    for name in [m for m in sys.modules if m.split(".")[0] == package.name]:
        monkeypatch.delitem(sys.modules, name)
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
    assert defs.resolve_schedule_def("nightly").job_name == "nightly_job"
    assert defs.resolve_sensor_def("new_orders").minimum_interval_seconds == 30
    # baton_storage comes from the project (its generated defs/resources.py), not the component.
    assert set(defs.resources or {}) == {
        PIPES_RESOURCE_KEY,
        "warehouse",
        "baton_storage",
    }


def test_the_component_leaves_baton_storage_to_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sales: ManifestData
) -> None:
    package = dg_project(tmp_path, sales)
    (package / "defs" / "resources.py").unlink()
    with pytest.raises(Exception, match="baton_storage"):
        dg.Definitions.validate_loadable(load(package, monkeypatch))


def test_build_definitions_defaults_baton_storage_to_the_worker_environment(
    tmp_path: Path, sales: ManifestData
) -> None:
    path = write_build(tmp_path, sales, storage="s3://bucket/baton")
    storage = (build_definitions(path).resources or {})["baton_storage"]
    assert storage == BatonStorage()
    given = BatonStorage(url="s3://other/x")
    assert (build_definitions(path, given).resources or {})["baton_storage"] is given


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
