"""Standalone checks: an asset check in an op of its own, after its target and its inputs."""

from pathlib import Path

import dagster as dg

from baton_core import testing
from baton_core.manifest_types import ManifestCheck, ManifestData, ManifestDep
from baton_dagster import build_definitions
from baton_dagster.assets import check_specs
from baton_dagster.step import Redactor, step_failure

from .conftest import DAILY, asset, manifest, write_build


def standalone(
    name: str, severity: str = "error", deps: list[ManifestDep] | None = None
) -> ManifestCheck:
    return {
        "name": name,
        "description": f"{name}'s description",
        "severity": severity,  # type: ignore[typeddict-item]
        "standalone": True,
        "deps": deps or [],
    }


INLINE: ManifestCheck = {
    "name": "positive",
    "description": None,
    "severity": "error",
    "standalone": False,
    "deps": [],
}


def checked() -> ManifestData:
    return manifest(
        asset("customers", group="sales"),
        asset("rates", group="sales", partitions=DAILY),
        asset(
            "orders",
            group="sales",
            retry={"maxRetries": 2, "delaySeconds": 1, "backoff": "constant"},
            resources=["warehouse"],
            checks=[
                INLINE,
                standalone("has_customers", deps=[testing.dep("customers")]),
                standalone("soft", severity="warn"),
            ],
        ),
        asset(
            "daily",
            group="sales",
            partitions=DAILY,
            checks=[
                standalone(
                    "rates_known",
                    deps=[testing.dep("rates", "timeWindow")],
                )
            ],
        ),
        resources=[{"key": "warehouse", "description": None, "config": []}],
    )


def ops_by_check(defs: dg.Definitions) -> dict[str, dg.OpDefinition]:
    """Each check's op: its multi-asset's, or its own."""
    found: dict[str, dg.OpDefinition] = {}
    for d in [*(defs.assets or []), *(defs.asset_checks or [])]:
        assert isinstance(d, dg.AssetsDefinition)
        for key in d.check_keys:
            assert isinstance(d.node_def, dg.OpDefinition)
            found[key.to_user_string()] = d.node_def
    return found


def load(tmp_path: Path) -> dg.Definitions:
    defs = build_definitions(write_build(tmp_path, checked()))
    dg.Definitions.validate_loadable(defs)
    return defs


def test_the_multi_asset_keeps_only_inline_checks() -> None:
    orders = checked()["assets"][2]
    assert [(s.name, s.blocking) for s in check_specs(orders)] == [("positive", True)]


def test_each_standalone_check_is_an_op_of_its_own_with_its_inputs_as_deps(
    tmp_path: Path,
) -> None:
    defs = load(tmp_path)
    graph = defs.resolve_asset_graph()
    assert sorted(k.to_user_string() for k in graph.asset_check_keys) == [
        "daily:rates_known",
        "orders:has_customers",
        "orders:positive",
        "orders:soft",
    ]
    key = dg.AssetCheckKey(dg.AssetKey("orders"), "has_customers")
    spec = graph.get_check_spec(key)
    # Dagster's lineage: the check hangs off its target and its input.
    assert graph.get(key).parent_entity_keys == {
        dg.AssetKey("orders"),
        dg.AssetKey("customers"),
    }
    assert (spec.blocking, spec.description) == (False, "has_customers's description")
    ops = {check: op.name for check, op in ops_by_check(defs).items()}
    assert ops == {
        "daily:rates_known": "daily_rates_known",
        "orders:has_customers": "orders_has_customers",
        "orders:positive": ops["orders:positive"],
        "orders:soft": "orders_soft",
    }
    assert ops["orders:positive"] not in {"orders_has_customers", "orders_soft"}


def test_a_standalone_check_takes_its_targets_partitions_retry_and_resources(
    tmp_path: Path,
) -> None:
    defs = load(tmp_path)
    graph = defs.resolve_asset_graph()
    daily = dg.AssetCheckKey(dg.AssetKey("daily"), "rates_known")
    spec = graph.get_check_spec(daily)
    assert isinstance(spec.partitions_def, dg.DailyPartitionsDefinition)
    [rates] = spec.additional_deps
    assert isinstance(rates.partition_mapping, dg.TimeWindowPartitionMapping)
    op = ops_by_check(defs)["orders:has_customers"]
    assert op.retry_policy is not None and op.retry_policy.max_retries == 2
    assert "warehouse" in op.required_resource_keys


def test_a_check_step_fails_on_nodes_check_failed_and_is_not_retried() -> None:
    # Node's check-only step reported every evaluation, then failed the step (exit 3).
    summary = {
        "failures": [
            {
                "asset": "orders",
                "partitionKey": None,
                "error": {
                    "name": "BatonError",
                    "message": 'error-severity check "has_customers" failed',
                    "code": "CHECK_FAILED",
                },
            }
        ],
        "skipped": {},
        "finished": True,
        "retryable": False,
    }
    failure = step_failure(3, summary, [], [], Redactor([]))
    assert failure is not None
    assert failure.allow_retries is False
    assert failure.description is not None
    assert failure.description.startswith("orders: BatonError:")


def test_a_check_step_whose_failed_checks_are_warnings_passes() -> None:
    summary = {"failures": [], "skipped": {}, "finished": True, "retryable": True}
    assert step_failure(0, summary, [], [], Redactor([])) is None
