"""The multi-asset plan: what `baton dagster plan` also prints (src/plan.ts mirrors it)."""

from baton_core.manifest_types import ManifestData
from baton_dagster.assets import _op_names, plan_buckets, retry_policy
from baton_dagster.partitions import partitions_def

from .conftest import DAILY, asset, dep, manifest


def test_assets_of_one_kind_share_a_multi_asset_and_kinds_split_it(
    sales: ManifestData,
) -> None:
    buckets = plan_buckets(sales)
    assert [[a["id"] for a in b.assets] for b in buckets] == [
        ["raw/orders"],
        ["orders_daily"],
        ["report"],
    ]
    assert _op_names(buckets) == ["sales", "sales__daily", "sales__retry"]


def test_a_dependency_through_another_kind_moves_to_a_later_stage() -> None:
    # a -> p (partitioned) -> b: a and b are of one kind, but one op for both would be a cycle.
    data = manifest(
        asset("a"),
        asset("p", partitions=DAILY, deps=[dep("a")]),
        asset("b", deps=[dep("p", "allPartitions")]),
    )
    buckets = plan_buckets(data)
    assert [(b.level, [a["id"] for a in b.assets]) for b in buckets] == [
        (0, ["a"]),
        (1, ["p"]),
        (2, ["b"]),
    ]
    assert _op_names(buckets) == ["default", "default__daily", "default__stage2"]


def test_weekly_partitions_start_on_the_baton_week_start() -> None:
    weekly = {**DAILY, "grain": "weekly", "weekStartsOn": 1}
    partitions = partitions_def(weekly)  # type: ignore[arg-type]
    assert partitions is not None
    assert partitions.get_first_partition_key() == "2024-01-01"  # a Monday


def test_retry_policy_maps_backoff_and_delay() -> None:
    policy = retry_policy({"maxRetries": 3, "delaySeconds": 0, "backoff": "constant"})
    assert policy is not None
    assert (policy.max_retries, policy.delay, policy.backoff) == (3, None, None)
