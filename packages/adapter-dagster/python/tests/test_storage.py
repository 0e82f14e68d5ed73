"""The baton_storage resource: decided in the run, passed to the Node step's environment only."""

import json
import stat
import sys
from pathlib import Path

import dagster as dg
import pytest

from baton_core.manifest_types import ManifestData
from baton_dagster import BatonStorage, baton_definitions
from baton_dagster.storage import storage_secrets

from .conftest import write_build

# A test value, searched for in Dagster's records.
SECRET = "shop-secret-Zq81"

# Stands in for node: records the environment the step gets, then fails as a crashed step.
FAKE_NODE = """#!{python}
import json, os, sys
with open(os.environ["DUMP_ENV_TO"], "w") as f:
    json.dump(dict(os.environ), f)
print("key " + os.environ["AWS_SECRET_ACCESS_KEY"], flush=True)
print("key " + os.environ["AWS_SECRET_ACCESS_KEY"], file=sys.stderr, flush=True)
sys.exit(1)
"""


def test_fields_become_the_step_variables_and_the_build_storage_is_the_last_default() -> (
    None
):
    storage = BatonStorage(aws_access_key_id="id", aws_secret_access_key="key")
    assert storage.step_environment("s3://b/p", environ={}) == {
        "AWS_ACCESS_KEY_ID": "id",
        "AWS_SECRET_ACCESS_KEY": "key",
        "BATON_STORAGE": "s3://b/p",
    }
    # The worker's BATON_STORAGE wins over the build's; the resource's url over both.
    assert BatonStorage().step_environment("s3://b/p", {"BATON_STORAGE": "/w"}) == {}
    assert BatonStorage(url="s3://x").step_environment("s3://b/p", {}) == {
        "BATON_STORAGE": "s3://x"
    }
    assert BatonStorage(
        region_name="eu-west-1", endpoint_url="http://s3"
    ).step_environment(None, {}) == {
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_S3": "http://s3",
    }
    assert storage_secrets(
        {"AWS_SECRET_ACCESS_KEY": "key"}, {"AWS_ACCESS_KEY_ID": "worker-id"}
    ) == ["worker-id", "key"]


def test_env_vars_resolve_when_the_run_starts_and_reach_only_the_step(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    sales: ManifestData,
) -> None:
    for name in (
        "BATON_STORAGE",
        "SHOP_KEY_ID",
        "SHOP_SECRET",
        "AWS_SECRET_ACCESS_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    path = write_build(tmp_path / "build", sales, storage="s3://bucket/baton")
    node = tmp_path / "node"
    node.write_text(FAKE_NODE.format(python=sys.executable), encoding="utf-8")
    node.chmod(node.stat().st_mode | stat.S_IEXEC)
    storage = BatonStorage(
        aws_access_key_id=dg.EnvVar("SHOP_KEY_ID"),
        aws_secret_access_key=dg.EnvVar("SHOP_SECRET"),
    )
    # Loading needs none of the variables: they are read in the run.
    defs = baton_definitions(path).with_resources({"baton_storage": storage})
    dg.Definitions.validate_loadable(defs)

    dump = tmp_path / "env.json"
    monkeypatch.setenv("BATON_NODE", str(node))
    monkeypatch.setenv("DUMP_ENV_TO", str(dump))
    monkeypatch.setenv("SHOP_KEY_ID", "shop-key-id")
    monkeypatch.setenv("SHOP_SECRET", SECRET)
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=[dg.AssetKey(["raw", "orders"])],
        instance=instance,
        raise_on_error=False,
    )
    step_env = json.loads(dump.read_text(encoding="utf-8"))
    assert step_env["AWS_ACCESS_KEY_ID"] == "shop-key-id"
    assert step_env["AWS_SECRET_ACCESS_KEY"] == SECRET
    assert step_env["BATON_STORAGE"] == "s3://bucket/baton"
    # Dagster's records of the run hold the variable's name, never its value.
    run = instance.get_run_by_id(result.run_id)
    records = instance.get_records_for_run(result.run_id, limit=None).records
    text = dg.serialize_value(run) + "".join(
        dg.serialize_value(r.event_log_entry) for r in records
    )
    assert "STEP_FAILURE" in text
    assert SECRET not in text
    # What the step printed passed through the launcher redacted.
    out, err = capfd.readouterr()
    assert "key ***" in out
    assert "key ***" in err
    assert SECRET not in out + err


def test_an_unset_env_var_fails_the_run_naming_it_not_the_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sales: ManifestData
) -> None:
    monkeypatch.delenv("SHOP_SECRET", raising=False)
    path = write_build(tmp_path, sales)
    defs = baton_definitions(path).with_resources(
        {"baton_storage": BatonStorage(aws_secret_access_key=dg.EnvVar("SHOP_SECRET"))}
    )
    dg.Definitions.validate_loadable(defs)
    with pytest.raises(
        dg.DagsterInvalidConfigError, match=r"SHOP_SECRET.* which is not set"
    ):
        defs.resolve_implicit_global_asset_job_def().execute_in_process(
            asset_selection=[dg.AssetKey(["raw", "orders"])],
            instance=dg.DagsterInstance.ephemeral(),
        )
