"""Baton assets as Dagster multi-assets whose steps run in Node through Dagster Pipes.

Assets are grouped into subsettable multi-assets, one per Baton group, partitions definition and
retry policy (an op has one of each). Selecting any subset of a multi-asset runs it in one Node
process, which reports a materialization per asset, its checks and its logs through Pipes.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from baton_core.manifest_types import (
    ManifestAsset,
    ManifestRetry,
    PartitionsDefinition,
)

from .manifest import Manifest, asset_key_string
from .node import BatonNode
from .partitions import partition_mapping, partitions_def, partitions_label
from .resources import secret_values, step_environment
from .step import run_node_step
from .storage import STORAGE_RESOURCE_KEY, BatonStorage, storage_secrets

PIPES_RESOURCE_KEY = "pipes_subprocess_client"
# Range runs (single-run backfills) have no partition key in the Pipes context.
RANGE_EXTRA = "baton/partition_range"


@dataclass
class Bucket:
    group: str
    partitions: PartitionsDefinition | None
    retry: ManifestRetry | None
    level: int
    assets: list[ManifestAsset] = field(default_factory=list)


def _bucket_key(asset: ManifestAsset) -> str:
    return json.dumps(
        [asset["group"], asset["partitions"], asset["retry"]], sort_keys=True
    )


def plan_buckets(manifest: Manifest) -> list[Bucket]:
    """Group assets into multi-assets without creating a cycle between them.

    An asset's level grows by one across every dependency on another kind of bucket, and
    buckets are keyed by level too, so every edge between two multi-assets goes up a level.
    """
    by_id = {a["id"]: a for a in manifest["assets"]}
    levels: dict[str, int] = {}

    def level(asset: ManifestAsset) -> int:
        if asset["id"] not in levels:
            ups = [by_id[d["id"]] for d in asset["deps"] if d["id"] in by_id]
            levels[asset["id"]] = max(
                (level(u) + (_bucket_key(u) != _bucket_key(asset)) for u in ups),
                default=0,
            )
        return levels[asset["id"]]

    buckets: dict[tuple[str, int], Bucket] = {}
    for asset in manifest["assets"]:
        key = (_bucket_key(asset), level(asset))
        if key not in buckets:
            buckets[key] = Bucket(
                asset["group"], asset["partitions"], asset["retry"], key[1]
            )
        buckets[key].assets.append(asset)
    return list(buckets.values())


def _op_names(buckets: list[Bucket]) -> list[str]:
    """Readable op names: group, partitions and retry; a stage only where a split needs one."""
    kinds = [
        (b.group, json.dumps(b.partitions, sort_keys=True), json.dumps(b.retry))
        for b in buckets
    ]
    names: list[str] = []
    for bucket, kind in zip(buckets, kinds, strict=True):
        split = kinds.count(kind) > 1 and bucket.level > 0
        parts = [
            bucket.group,
            partitions_label(bucket.partitions),
            "retry" if bucket.retry else None,
        ]
        parts.append(f"stage{bucket.level}" if split else None)
        base = re.sub(r"\W", "_", "__".join(p for p in parts if p))
        name, n = base, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return names


def asset_spec(asset: ManifestAsset) -> dg.AssetSpec:
    deps = [
        dg.AssetDep(
            dg.AssetKey(d["key"]),
            partition_mapping=partition_mapping(d["partitionMapping"]),
        )
        for d in asset["deps"]
    ]
    metadata = dict(asset["metadata"])
    metadata["baton/id"] = asset["id"]
    return dg.AssetSpec(
        key=dg.AssetKey(asset["key"]),
        deps=deps,
        description=asset["description"],
        metadata=metadata,
        group_name=asset["group"],
        code_version=asset["codeVersion"],
        owners=asset["owners"],
        tags=asset["tags"],
        kinds={"typescript"},
        # A failed upstream in the same step leaves an asset unmaterialized.
        skippable=True,
    )


def check_specs(asset: ManifestAsset) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            name=c["name"],
            asset=dg.AssetKey(asset["key"]),
            description=c["description"],
            # An error-severity check that fails fails its asset and blocks its downstream
            # assets in Node: what Dagster calls a blocking check.
            blocking=c.get("severity", "error") == "error",
        )
        for c in asset["checks"]
    ]


def retry_policy(retry: ManifestRetry | None) -> dg.RetryPolicy | None:
    if retry is None:
        return None
    backoff = dg.Backoff.EXPONENTIAL if retry["backoff"] == "exponential" else None
    return dg.RetryPolicy(
        max_retries=retry["maxRetries"],
        delay=retry["delaySeconds"] or None,
        backoff=backoff,
    )


def build_assets(
    manifest: Manifest, node: BatonNode, build_storage: str | None = None
) -> list[dg.AssetsDefinition]:
    """The multi-assets; `build_storage` is the build's `--storage` (`baton/build.json`)."""
    buckets = plan_buckets(manifest)
    names = _op_names(buckets)
    return [
        _multi_asset(manifest, node, b, name, build_storage)
        for b, name in zip(buckets, names, strict=True)
    ]


def _multi_asset(
    manifest: Manifest,
    node: BatonNode,
    bucket: Bucket,
    name: str,
    build_storage: str | None,
) -> dg.AssetsDefinition:
    resource_keys = sorted({key for a in bucket.assets for key in a["resources"]})
    resources_by_key = {
        asset_key_string(a["key"]): a["resources"] for a in bucket.assets
    }
    partitioned = bucket.partitions is not None

    @dg.multi_asset(
        name=name,
        specs=[asset_spec(a) for a in bucket.assets],
        check_specs=[spec for a in bucket.assets for spec in check_specs(a)],
        can_subset=True,
        partitions_def=partitions_def(bucket.partitions),
        # Node runs every key of a range in one process: one step per range, not per key.
        backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None,
        retry_policy=retry_policy(bucket.retry),
        required_resource_keys={
            PIPES_RESOURCE_KEY,
            STORAGE_RESOURCE_KEY,
            *resource_keys,
        },
        op_tags={"kind": "typescript"},
    )
    def run_in_node(
        context: dg.AssetExecutionContext,
    ) -> Iterator[dg.MaterializeResult[Any] | dg.AssetCheckResult]:
        selected = sorted(key.to_user_string() for key in context.selected_asset_keys)
        if not selected:
            # Checks alone (the UI's "Execute check"): Baton checks run on the output as the
            # asset computes it, in the same step; there is no stored-output mode.
            checks = ", ".join(
                sorted(k.to_user_string() for k in context.selected_asset_check_keys)
            )
            raise dg.Failure(
                description=(
                    f"Baton runs checks with their asset's materialization: select the asset to "
                    f"run {checks or 'its checks'}"
                ),
                allow_retries=False,
            )
        keys = sorted({k for a in selected for k in resources_by_key.get(a, [])})
        extras: dict[str, Any] = {}
        if (
            partitioned
            and context.has_partition_key_range
            and not context.has_partition_key
        ):
            keys_range = context.partition_key_range
            extras[RANGE_EXTRA] = {"start": keys_range.start, "end": keys_range.end}
        # Decided here, in the run: the storage resource (EnvVar resolved now), else the worker.
        storage: BatonStorage = getattr(context.resources, STORAGE_RESOURCE_KEY)
        storage_env = storage.step_environment(build_storage)
        yield from run_node_step(
            context,
            getattr(context.resources, PIPES_RESOURCE_KEY),
            node.command("run"),
            env={**step_environment(manifest, keys, context.resources), **storage_env},
            extras=extras,
            selected=selected,
            secrets=[
                *secret_values(manifest, context.resources),
                *storage_secrets(storage_env),
            ],
        )

    return run_in_node
