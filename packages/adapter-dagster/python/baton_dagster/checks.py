"""Standalone checks (Baton's `assetCheck()`) as Dagster asset checks, each in an op of its own.

A standalone check has inputs of its own: the spec names them as `additional_deps`, so Dagster's
asset graph shows the check downstream of its target and of each input, and a run orders the
check's step after theirs (a failed one skips it). The op runs Node's check-only step for that
one check (the Pipes extras name its target and its name), which reads the target's stored
output and the inputs' and reports the evaluation. The check is not blocking (nothing downstream
waits on it); its step fails, after the evaluation is recorded, when an error-severity check
failed (packages/core/CHECKS-CONTRACT.md §3-4).

Run alone, as a Dagster user would: the UI's "Execute check", or a job of
`dg.AssetSelection.checks(dg.AssetCheckKey(dg.AssetKey("orders"), "orders_have_customers"))`.
"""

import warnings
from collections.abc import Iterator
from typing import Any

import dagster as dg

from baton_core.manifest_types import ManifestAsset, ManifestCheck

from .assets import (
    CHECKS_EXTRA,
    CHECKS_ONLY_EXTRA,
    PIPES_RESOURCE_KEY,
    is_standalone,
    node_step,
    optional_field,
    retry_policy,
)
from .manifest import Manifest
from .node import BatonNode
from .partitions import partition_mapping, partitions_def
from .storage import STORAGE_RESOURCE_KEY


def standalone_check_spec(
    asset: ManifestAsset, check: ManifestCheck
) -> dg.AssetCheckSpec:
    """The check's spec: its target, its inputs as additional deps (with their partition
    mappings, relative to the target's partitions), partitioned like its target."""
    deps = [
        dg.AssetDep(
            dg.AssetKey(d["key"]),
            partition_mapping=partition_mapping(d["partitionMapping"]),
        )
        for d in check.get("deps", [])
    ]
    with warnings.catch_warnings():
        # partitions_def on an AssetCheckSpec is a preview feature in 1.13 (asset_check_spec.py).
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name=check["name"],
            asset=dg.AssetKey(asset["key"]),
            description=check["description"],
            additional_deps=deps,
            # Its own step, upstream of nothing: there is nothing for it to block.
            blocking=False,
            metadata={"baton/severity": check["severity"]},
            partitions_def=partitions_def(asset["partitions"]),
        )


def check_op_name(spec: dg.AssetCheckSpec) -> str:
    """What `@dg.asset_check` names the op of a check: `<asset key>_<check name>`."""
    return spec.get_python_identifier()


def build_standalone_checks(
    manifest: Manifest, node: BatonNode, build_storage: str | None = None
) -> list[dg.AssetChecksDefinition]:
    """One AssetChecksDefinition (one op) per standalone check of the manifest, in its order."""
    return [
        _check_op(manifest, node, asset, check, build_storage)
        for asset in manifest["assets"]
        for check in asset["checks"]
        if is_standalone(check)
    ]


def _check_op(
    manifest: Manifest,
    node: BatonNode,
    asset: ManifestAsset,
    check: ManifestCheck,
    build_storage: str | None,
) -> dg.AssetChecksDefinition:
    spec = standalone_check_spec(asset, check)
    extras: dict[str, Any] = {
        CHECKS_ONLY_EXTRA: [asset["id"]],
        CHECKS_EXTRA: {asset["id"]: [check["name"]]},
    }

    # The target's retry policy and pool: the check reads what its asset wrote, with the
    # asset's resources (its context is the asset's), and holds the same pool's slot.
    @dg.multi_asset_check(
        name=check_op_name(spec),
        specs=[spec],
        description=check["description"],
        required_resource_keys={
            PIPES_RESOURCE_KEY,
            STORAGE_RESOURCE_KEY,
            *asset["resources"],
        },
        retry_policy=retry_policy(asset["retry"]),
        pool=optional_field(asset, "pool"),
    )
    def run_check_in_node(
        context: dg.AssetCheckExecutionContext,
    ) -> Iterator[Any]:
        # Evaluations as Node reports them (per partition in a range run), then the verdict.
        yield from node_step(
            context,
            manifest,
            node,
            build_storage,
            targets=[asset],
            extras=extras,
            selected=[],
            checks_only=True,
        )

    return run_check_in_node
