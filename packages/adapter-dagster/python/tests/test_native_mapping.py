"""How Baton's asset fields become Dagster's own: kinds, blocking and partitioned checks,
backfill policy, pools, code references and the step's timeout backstop."""

from pathlib import Path

import dagster as dg
import pytest

from baton_core.manifest_types import ManifestData
from baton_dagster import baton_definitions
from baton_dagster.assets import _op_names, plan_buckets, step_timeout

from .conftest import DAILY, asset, dep, manifest, write_build


def load(tmp_path: Path, data: ManifestData) -> dict[str, dg.AssetsDefinition]:
    defs = baton_definitions(write_build(tmp_path, data))
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    return {a.node_def.name: a for a in assets}


@pytest.fixture
def pooled() -> ManifestData:
    return manifest(
        asset("a", group="g", pool="warehouse", timeoutSeconds=3),
        asset("b", group="g", pool="warehouse"),
        asset("c", group="g", format="ipc", source={"file": "src/c.ts", "line": 7}),
        asset("d", group="g", output="none", deps=[dep("c")]),
        asset(
            "daily",
            group="g",
            partitions=DAILY,
            checks=[
                {"name": "rows", "description": None, "severity": "error"},
                {"name": "soft", "description": None, "severity": "warn"},
            ],
        ),
    )


def test_assets_of_different_pools_never_share_an_op_and_the_op_has_the_pool(
    tmp_path: Path, pooled: ManifestData
) -> None:
    buckets = plan_buckets(pooled)
    assert [([a["id"] for a in b.assets], b.pool) for b in buckets] == [
        (["a", "b"], "warehouse"),
        (["c", "d"], None),
        (["daily"], None),
    ]
    assert _op_names(buckets) == ["g__pool_warehouse", "g", "g__daily"]
    ops = load(tmp_path, pooled)
    assert ops["g__pool_warehouse"].node_def.pools == {"warehouse"}
    assert ops["g"].node_def.pools == set()


def test_kinds_are_the_language_and_the_stored_format_and_op_tags_are_not_kinds(
    tmp_path: Path, pooled: ManifestData
) -> None:
    ops = load(tmp_path, pooled)
    specs = {s.key.to_user_string(): s for a in ops.values() for s in a.specs}
    assert specs["a"].kinds == {"typescript", "parquet"}
    assert specs["c"].kinds == {"typescript", "ipc"}
    assert specs["d"].kinds == {"typescript"}
    assert all("kind" not in (a.op.tags or {}) for a in ops.values())


def test_error_checks_block_and_warn_checks_do_not_and_partitioned_checks_are_partitioned(
    tmp_path: Path, pooled: ManifestData
) -> None:
    daily = load(tmp_path, pooled)["g__daily"]
    checks = {s.name: s for s in daily.check_specs}
    assert (checks["rows"].blocking, checks["soft"].blocking) == (True, False)
    assert checks["rows"].partitions_def == daily.partitions_def
    assert daily.backfill_policy == dg.BackfillPolicy.multi_run(1)


def test_the_source_is_a_code_reference_relative_to_a_root_or_under_a_url(
    tmp_path: Path, pooled: ManifestData, monkeypatch: pytest.MonkeyPatch
) -> None:
    def reference(folder: str) -> object:
        specs = {
            s.key.to_user_string(): s
            for a in load(tmp_path / folder, pooled).values()
            for s in a.specs
        }
        assert "dagster/code_references" not in specs["a"].metadata
        value = specs["c"].metadata["dagster/code_references"]
        assert isinstance(value, dg.CodeReferencesMetadataValue)
        return value.code_references[0]

    monkeypatch.delenv("BATON_SOURCE_URL", raising=False)
    monkeypatch.setenv("BATON_SOURCE_ROOT", "/repo/metrics")
    assert reference("local") == dg.LocalFileCodeReference(
        file_path="/repo/metrics/src/c.ts", line_number=7, label="src/c.ts:7"
    )
    monkeypatch.setenv("BATON_SOURCE_URL", "https://github.com/acme/data/blob/main/")
    assert reference("url") == dg.UrlCodeReference(
        url="https://github.com/acme/data/blob/main/src/c.ts#L7", label="src/c.ts:7"
    )


def test_the_step_timeout_is_each_assets_per_key_plus_a_grace_only_if_all_are_timed() -> (
    None
):
    timed = [asset("a", timeoutSeconds=3), asset("b", timeoutSeconds=2)]
    assert step_timeout(timed, 1) == 15
    assert step_timeout(timed, 4) == 30
    assert step_timeout([*timed, asset("c")], 1) is None
