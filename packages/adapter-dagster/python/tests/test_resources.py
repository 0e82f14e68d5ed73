"""Baton resources are bound in the run: the step's environment decides, not the loader's."""

import json
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from baton_core.manifest_types import ManifestData
from baton_dagster import BatonStorage, baton_definitions

from .conftest import write_build

# Stands in for node: records the environment the step gets, then fails deterministically (exit
# 3), so the asset's retry policy does not run it again.
FAKE_NODE = """#!{python}
import json, os, sys
with open(os.environ["DUMP_ENV_TO"], "w") as f:
    json.dump(dict(os.environ), f)
sys.exit(3)
"""


def _run_report(
    tmp_path: Path, defs: dg.Definitions, run_config: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Run the asset `report` (resource `warehouse`, variable WAREHOUSE_URL): the step's env."""
    defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=[dg.AssetKey(["report"])],
        instance=dg.DagsterInstance.ephemeral(),
        run_config=run_config or {},
        raise_on_error=False,
    )
    env: dict[str, str] = json.loads((tmp_path / "env.json").read_text("utf-8"))
    return env


@pytest.fixture
def loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sales: ManifestData
) -> dg.Definitions:
    node = tmp_path / "node"
    node.write_text(FAKE_NODE.format(python=sys.executable), encoding="utf-8")
    node.chmod(node.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("BATON_NODE", str(node))
    monkeypatch.setenv("DUMP_ENV_TO", str(tmp_path / "env.json"))
    # Loaded where the variable has a value that the run must not inherit from the load.
    monkeypatch.setenv("WAREHOUSE_URL", "from-the-code-server")
    path = write_build(tmp_path / "build", sales)
    defs = baton_definitions(path).with_resources({"baton_storage": BatonStorage()})
    dg.Definitions.validate_loadable(defs)
    return defs


def test_the_runs_environment_decides_not_the_one_the_location_loaded_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loaded: dg.Definitions
) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", "from-the-run-worker")
    assert _run_report(tmp_path, loaded)["WAREHOUSE_URL"] == "from-the-run-worker"
    # Unset in the run: the step gets nothing from the load (and fails naming the variable).
    monkeypatch.delenv("WAREHOUSE_URL")
    assert "WAREHOUSE_URL" not in _run_report(tmp_path, loaded)


def test_a_value_in_run_config_is_the_steps_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loaded: dg.Definitions
) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", "from-the-run-worker")
    config = {"resources": {"warehouse": {"config": {"url": "from-run-config"}}}}
    assert _run_report(tmp_path, loaded, config)["WAREHOUSE_URL"] == "from-run-config"


def test_the_resources_fields_have_no_default_taken_at_load(
    loaded: dg.Definitions,
) -> None:
    warehouse = (loaded.resources or {})["warehouse"]
    assert isinstance(warehouse, dg.ConfigurableResource)
    assert warehouse.model_dump() == {"url": None}
    fields = type(warehouse).model_fields
    assert fields["url"].default is None
    assert "WAREHOUSE_URL" in (fields["url"].description or "")
