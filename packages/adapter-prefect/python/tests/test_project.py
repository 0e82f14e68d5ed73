"""BatonProject: how a build becomes Prefect tasks, assets and step environments (no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prefect.cache_policies import NO_CACHE
from prefect.tasks import MaterializingTask

from baton_prefect import (
    BatonManifestError,
    BatonPartitionError,
    BatonProject,
    BatonSelectionError,
)

from .conftest import Build


def test_from_build_takes_storage_and_resources_from_build_json(build: Build) -> None:
    manifest = build(
        storage="s3://bucket/baton",
        options={
            "flowName": "shop",
            "resources": {"warehouse": {"fields": {"dsn": {"env": "SHOP_DSN"}}}},
            "workPool": "baton",
        },
    )
    project = BatonProject.from_build(manifest, flow_name="shop")
    assert project.storage == "s3://bucket/baton"
    assert project.resources == {"warehouse": {"fields": {"dsn": {"env": "SHOP_DSN"}}}}
    assert project.manifest.folder == manifest.parent.resolve()


def test_from_build_names_the_file_when_build_json_is_missing(build: Build) -> None:
    manifest = build()
    (manifest.parent / "build.json").unlink()
    with pytest.raises(Exception, match=r"build\.json: missing"):
        BatonProject.from_build(manifest, flow_name="shop")


def test_refuses_another_manifest_version_and_says_to_rebuild(build: Build) -> None:
    with pytest.raises(
        BatonManifestError, match=r"manifest version 1 .* reads 2.*baton prefect build"
    ):
        BatonProject.from_build(build(version=1), flow_name="shop")


def test_the_build_storage_is_a_default_and_a_worker_storage_wins(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = BatonProject.from_build(build(storage="/data/baton"), flow_name="shop")
    monkeypatch.delenv("BATON_STORAGE", raising=False)
    assert project.environment([]).env["BATON_STORAGE"] == "/data/baton"
    monkeypatch.setenv("BATON_STORAGE", "/worker/storage")
    assert project.environment([]).env["BATON_STORAGE"] == "/worker/storage"


def test_no_build_storage_leaves_the_step_environment_alone(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BATON_STORAGE", raising=False)
    project = BatonProject.from_build(build(), flow_name="shop")
    assert "BATON_STORAGE" not in project.environment([]).env


def test_a_resource_field_mapped_to_the_env_reaches_the_step_and_secrets_are_masked(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_DSN", "postgres://db")
    monkeypatch.setenv("WAREHOUSE_PASSWORD", "hunter2")
    options = {"resources": {"warehouse": {"fields": {"dsn": {"env": "SHOP_DSN"}}}}}
    project = BatonProject.from_build(build(options=options), flow_name="shop")
    environment = project.environment(["warehouse"])
    assert environment.env["WAREHOUSE_DSN"] == "postgres://db"
    assert environment.redact("password=hunter2") == "password=***"


def test_each_asset_becomes_a_materializing_task_named_for_it(build: Build) -> None:
    project = BatonProject.from_build(build(), flow_name="shop")
    task = project.task("customer_metrics")
    assert isinstance(task, MaterializingTask)
    assert task.name == "customer_metrics"
    assert task.retries == 3
    assert task.retry_delay_seconds == [2, 4, 8]
    assert sorted(task.tags) == ["group:sales", "tier:gold"]
    # Upstream assets once each, as Prefect asset dependencies.
    assert [a.key for a in task.asset_deps] == [
        "baton://raw/orders",
        "baton://raw/customers",
    ]
    assert [a.key for a in task.assets] == ["baton://customer_metrics"]


def test_prefect_assets_carry_name_owners_and_description(build: Build) -> None:
    project = BatonProject.from_build(build(), flow_name="shop")
    task = project.task("raw/orders")
    assert isinstance(task, MaterializingTask)
    (orders,) = task.assets
    assert orders.key == project.asset_key("raw/orders") == "baton://raw/orders"
    assert orders.properties is not None
    assert orders.properties.name == "raw/orders"
    assert orders.properties.owners == ["team:data"]
    assert orders.properties.description == "Orders"


def test_asset_keys_are_the_outputs_folder_in_the_store(
    build: Build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BATON_STORAGE", raising=False)
    on_s3 = BatonProject.from_build(build(storage="s3://bucket/pre/"), flow_name="s")
    assert on_s3.asset_key("raw/orders") == "s3://bucket/pre/raw/orders"
    task = on_s3.task("customer_metrics")
    assert [a.key for a in task.asset_deps] == [
        "s3://bucket/pre/raw/orders",
        "s3://bucket/pre/raw/customers",
    ]
    local = BatonProject.from_build(build(storage=str(tmp_path)), flow_name="s")
    assert local.asset_key("raw/orders") == f"file://{tmp_path.as_posix()}/raw/orders"
    # A worker's own store wins, as it does for the steps.
    monkeypatch.setenv("BATON_STORAGE", "s3://other")
    worker = BatonProject.from_build(build(storage=str(tmp_path)), flow_name="s")
    assert worker.asset_key("raw/orders") == "s3://other/raw/orders"


def test_a_store_prefect_cannot_key_falls_back_to_baton_keys(
    build: Build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BATON_STORAGE", raising=False)
    spaced = tmp_path / "with space"
    project = BatonProject.from_build(build(storage=str(spaced)), flow_name="s")
    assert project.asset_key("raw/orders") == "baton://raw/orders"


def test_pools_timeouts_and_code_references_reach_the_task(build: Build) -> None:
    manifest = build()
    data = json.loads(manifest.read_text())
    spec = next(a for a in data["assets"] if a["id"] == "raw/orders")
    spec.update(
        pool="warehouse",
        timeoutSeconds=30,
        source={"file": "src/defs.ts", "line": 7},
        codeVersion="3",
    )
    data["pools"] = [{"name": "warehouse", "limit": 2, "description": None}]
    manifest.write_text(json.dumps(data))
    project = BatonProject.from_build(manifest, flow_name="shop")
    task = project.task("raw/orders")
    assert "baton-pool:warehouse" in task.tags
    assert (
        task.timeout_seconds == 40
    )  # timeoutSeconds plus the grace (one partition per run)
    assert task.version == "3"
    assert task.description == "Orders\n\nDefined in `src/defs.ts:7`."
    assert task.cache_policy is NO_CACHE  # caching is opt-in


def test_the_cache_option_caches_assets_with_a_declared_code_version_only(
    build: Build,
) -> None:
    manifest = build(options={"cache": True})
    data = json.loads(manifest.read_text())
    for spec in data["assets"]:
        if spec["id"] == "customer_metrics":
            spec.update(codeVersion="2", codeVersionSource="declared")
        if spec["id"] == "raw/orders":
            # core's default version, a hash of the compute's own text: it misses a change in a
            # helper the compute calls, so it is no cache key.
            spec.update(codeVersion="5f1ae4a6901e", codeVersionSource="compute")
    manifest.write_text(json.dumps(data))
    project = BatonProject.from_build(manifest, flow_name="shop")
    assert project.cache is True
    assert project.task("customer_metrics").cache_key_fn is not None
    assert project.task("customer_metrics").persist_result is True
    assert project.task("raw/orders").cache_policy is NO_CACHE


def test_a_range_runs_one_task_run_per_partition_named_with_it(build: Build) -> None:
    project = BatonProject.from_build(build(), flow_name="shop")
    plan = project.plan(["events"], None, "2024-01-02", "2024-01-04")
    assert plan.assets == ["events"]
    assert plan.keys == {"events": ["2024-01-02", "2024-01-03", "2024-01-04"]}
    assert plan.labels == {"events": "2024-01-02...2024-01-04"}
    assert project.task("events").task_run_name == "events"


def test_a_run_of_every_asset_without_a_partition_skips_the_partitioned_ones(
    build: Build,
) -> None:
    plan = BatonProject.from_build(build(), flow_name="shop").plan()
    assert plan.assets == ["raw/orders", "raw/customers", "customer_metrics"]
    assert list(plan.skipped) == ["events"]


def test_bad_selections_and_partitions_fail_before_any_task(build: Build) -> None:
    project = BatonProject.from_build(build(), flow_name="shop")
    with pytest.raises(BatonSelectionError, match='there is no asset "nope"'):
        project.plan(["nope"])
    with pytest.raises(BatonPartitionError, match="partition_range_end"):
        project.plan(["events"], None, "2024-01-02", None)
    with pytest.raises(BatonPartitionError):
        project.plan(["events"], "not-a-day")


def test_sensor_cursors_live_in_valid_prefect_variable_names(build: Build) -> None:
    project = BatonProject.from_build(build(), flow_name="Shop Flows")
    assert project.cursor_variable("New Files!") == "shop_flows_new_files_cursor"


def test_the_manifest_path_may_be_relative(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = build()
    monkeypatch.chdir(manifest.parent.parent)
    project = BatonProject.from_build(Path("baton/manifest.json"), flow_name="shop")
    assert project.manifest.step_entry.is_absolute()
