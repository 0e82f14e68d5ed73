"""Baton assets as Dagster multi-assets whose steps run in Node through Dagster Pipes.

Assets are grouped into subsettable multi-assets, one per Baton group, partitions definition and
retry policy (an op has one of each). Selecting any subset of a multi-asset runs it in one Node
process, which reports a materialization per asset, its checks and its logs through Pipes.
"""

import json
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import dagster as dg

from baton_core.manifest_types import (
    ManifestAsset,
    ManifestCheck,
    ManifestRetry,
    PartitionsDefinition,
)

from .manifest import Manifest, asset_key_string
from .node import BatonNode
from .partitions import partition_mapping, partitions_def, partitions_label
from .resources import secret_values, step_environment
from .step import StepContext, run_node_step
from .storage import STORAGE_RESOURCE_KEY, BatonStorage, storage_secrets

PIPES_RESOURCE_KEY = "pipes_subprocess_client"
# Range runs (a run launched with a partition range) have no partition key in the Pipes context.
RANGE_EXTRA = "baton/partition_range"
# A check-only step (the UI's "Execute check"): the Pipes context selects no asset, so the Node
# step gets the assets and checks to run here (src/step.ts reads both).
CHECKS_ONLY_EXTRA = "baton/checks_only"
# Per selected asset id, the names of its selected checks, when the run names its checks.
CHECKS_EXTRA = "baton/checks"
# Where `source` (a path relative to the project root) points, decided when the code location
# loads: BATON_SOURCE_URL (e.g. https://github.com/acme/data/blob/main/examples/metrics) makes
# UrlCodeReferences to URL/<file>#L<line>; otherwise BATON_SOURCE_ROOT (the project's folder on
# this machine), joined with the path, makes LocalFileCodeReferences; without either the
# reference is the path relative to the project root.
SOURCE_URL_ENV_VAR = "BATON_SOURCE_URL"
SOURCE_ROOT_ENV_VAR = "BATON_SOURCE_ROOT"
CODE_REFERENCES_KEY = "dagster/code_references"
# Seconds the step launcher allows past the sum of a step's timeouts before it stops Node
# (contract §1: core's own limit, then Node's watchdog at +5 s, normally fire first).
TIMEOUT_GRACE_SECONDS = 10


def optional_field(asset: ManifestAsset, name: str) -> Any:
    """A manifest field added after v2's first release (timeoutSeconds, pool, source): None if absent."""
    return cast(Mapping[str, Any], asset).get(name)


@dataclass
class Bucket:
    group: str
    partitions: PartitionsDefinition | None
    retry: ManifestRetry | None
    pool: str | None
    level: int
    assets: list[ManifestAsset] = field(default_factory=list)


def _bucket_key(asset: ManifestAsset) -> str:
    # An op has one pool: assets of different pools never share one.
    kind = [asset["group"], asset["partitions"], asset["retry"]]
    pool = optional_field(asset, "pool")
    return json.dumps(kind if pool is None else [*kind, pool], sort_keys=True)


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
                asset["group"],
                asset["partitions"],
                asset["retry"],
                optional_field(asset, "pool"),
                key[1],
            )
        buckets[key].assets.append(asset)
    return list(buckets.values())


def _op_names(buckets: list[Bucket]) -> list[str]:
    """Readable op names: group, partitions, retry and pool; a stage only where a split needs one."""
    kinds = [
        (
            b.group,
            json.dumps(b.partitions, sort_keys=True),
            json.dumps(b.retry),
            b.pool,
        )
        for b in buckets
    ]
    names: list[str] = []
    for bucket, kind in zip(buckets, kinds, strict=True):
        split = kinds.count(kind) > 1 and bucket.level > 0
        parts = [
            bucket.group,
            partitions_label(bucket.partitions),
            "retry" if bucket.retry else None,
            f"pool_{bucket.pool}" if bucket.pool else None,
        ]
        parts.append(f"stage{bucket.level}" if split else None)
        base = re.sub(r"\W", "_", "__".join(p for p in parts if p))
        name, n = base, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return names


def asset_kinds(asset: ManifestAsset) -> set[str]:
    """What Dagster shows as the asset's kinds: the language, and the format it is stored in (a
    file format, or `iceberg` for a table). Whether a compute returns polars or Arrow is known
    only when it runs, so neither is claimed."""
    if asset["output"] == "none":
        return {"typescript"}
    return {"typescript", asset["format"]}


def table_metadata(asset: ManifestAsset) -> dict[str, str]:
    """An asset stored in a catalog's table, as Dagster's table integrations describe one in
    its definition (TableMetadataSet): the table's name, which the asset catalog shows and
    keys lineage by, and the system that stores it. Each materialization adds the snapshot."""
    table = asset.get("table")
    if not table:
        return {}
    return {
        "dagster/table_name": str(table["name"]),
        "dagster/storage_kind": str(table["format"]),
    }


def code_references(
    asset: ManifestAsset, source_url: str | None
) -> dg.CodeReferencesMetadataValue | None:
    """The asset's `.ts` source as Dagster code references (the UI's "Open source" link)."""
    source = optional_field(asset, "source")
    if not source:
        return None
    file, line = str(source["file"]), source.get("line")
    label = f"{file}:{line}" if line else file
    reference: dg.LocalFileCodeReference | dg.UrlCodeReference
    with warnings.catch_warnings():
        # Both are @beta in Dagster 1.13 (dagster/_core/definitions/metadata/source_code.py).
        warnings.simplefilter("ignore", dg.BetaWarning)
        if source_url:
            url = f"{source_url.rstrip('/')}/{file}" + (f"#L{line}" if line else "")
            reference = dg.UrlCodeReference(url=url, label=label)
        else:
            root = os.environ.get(SOURCE_ROOT_ENV_VAR)
            path = os.path.join(root, file) if root else file
            reference = dg.LocalFileCodeReference(
                file_path=path, line_number=line, label=label
            )
        return dg.CodeReferencesMetadataValue(code_references=[reference])


def asset_spec(asset: ManifestAsset, source_url: str | None = None) -> dg.AssetSpec:
    deps = [
        dg.AssetDep(
            dg.AssetKey(d["key"]),
            partition_mapping=partition_mapping(d["partitionMapping"]),
        )
        for d in asset["deps"]
    ]
    metadata = dict(asset["metadata"])
    metadata["baton/id"] = asset["id"]
    references = code_references(asset, source_url)
    if references is not None:
        metadata[CODE_REFERENCES_KEY] = references
    timeout = optional_field(asset, "timeoutSeconds")
    if timeout is not None:
        metadata["baton/timeout_seconds"] = timeout
    metadata.update(table_metadata(asset))
    return dg.AssetSpec(
        key=dg.AssetKey(asset["key"]),
        deps=deps,
        description=asset["description"],
        metadata=metadata,
        group_name=asset["group"],
        code_version=asset["codeVersion"],
        owners=asset["owners"],
        tags=asset["tags"],
        kinds=asset_kinds(asset),
        # A failed upstream in the same step leaves an asset unmaterialized.
        skippable=True,
    )


def is_standalone(check: ManifestCheck) -> bool:
    """A check declared with assetCheck(): it runs in a step of its own (CHECKS-CONTRACT.md §2)."""
    return bool(cast(Mapping[str, Any], check).get("standalone"))


def check_specs(asset: ManifestAsset) -> list[dg.AssetCheckSpec]:
    # A check of a partitioned asset is partitioned too, so each evaluation records the
    # partition it checked (AssetCheckResult.to_asset_check_evaluation uses the step's key
    # only when the spec has a partitions_def). A preview feature in 1.13.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return [
            dg.AssetCheckSpec(
                name=c["name"],
                asset=dg.AssetKey(asset["key"]),
                description=c["description"],
                # An error-severity check that fails fails its asset and blocks its downstream
                # assets in Node: what Dagster calls a blocking check. Dagster skips the steps
                # downstream of a failed blocking check; Node the assets in the same step.
                blocking=c.get("severity", "error") == "error",
                partitions_def=partitions_def(asset["partitions"]),
            )
            for c in asset["checks"]
            # A standalone check is an asset check of its own op (baton_dagster.checks).
            if not is_standalone(c)
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
    manifest: Manifest,
    node: BatonNode,
    build_storage: str | None = None,
    source_url: str | None = None,
) -> list[dg.AssetsDefinition]:
    """The multi-assets; `build_storage` is the build's `--storage` (`baton/build.json`),
    `source_url` the base URL of code references (default: BATON_SOURCE_URL)."""
    buckets = plan_buckets(manifest)
    names = _op_names(buckets)
    source_url = source_url or os.environ.get(SOURCE_URL_ENV_VAR) or None
    return [
        _multi_asset(manifest, node, b, name, build_storage, source_url)
        for b, name in zip(buckets, names, strict=True)
    ]


def step_timeout(assets: list[ManifestAsset], keys: int) -> float | None:
    """The step launcher's backstop: every selected asset's timeoutSeconds, once per partition
    key of the step, plus a grace; None when any of them has no timeout (nothing bounds it)."""
    timeouts = [optional_field(a, "timeoutSeconds") for a in assets]
    if not timeouts or any(t is None for t in timeouts):
        return None
    return float(sum(timeouts)) * max(keys, 1) + TIMEOUT_GRACE_SECONDS


def _multi_asset(
    manifest: Manifest,
    node: BatonNode,
    bucket: Bucket,
    name: str,
    build_storage: str | None,
    source_url: str | None,
) -> dg.AssetsDefinition:
    resource_keys = sorted({key for a in bucket.assets for key in a["resources"]})
    partitioned = bucket.partitions is not None
    by_key = {asset_key_string(a["key"]): a for a in bucket.assets}
    by_id = {a["id"]: a for a in bucket.assets}

    @dg.multi_asset(
        name=name,
        specs=[asset_spec(a, source_url) for a in bucket.assets],
        check_specs=[spec for a in bucket.assets for spec in check_specs(a)],
        can_subset=True,
        partitions_def=partitions_def(bucket.partitions),
        # A backfill is one run per partition: they run in parallel (as the run queue allows),
        # a bad day fails only its own run, and each materialization and check evaluation is
        # Dagster's own record for its partition: a row count, data version and partition of
        # its own. (In a range run, Pipes results are one per asset for the whole range.)
        backfill_policy=(
            dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
            if partitioned
            else None
        ),
        retry_policy=retry_policy(bucket.retry),
        required_resource_keys={
            PIPES_RESOURCE_KEY,
            STORAGE_RESOURCE_KEY,
            *resource_keys,
        },
        # At most the instance's limit for this pool of such steps run at once, in every run.
        pool=bucket.pool,
    )
    def run_in_node(
        context: dg.AssetExecutionContext,
    ) -> Iterator[dg.MaterializeResult[Any] | dg.AssetCheckResult]:
        selected = sorted(key.to_user_string() for key in context.selected_asset_keys)
        checks: dict[str, list[str]] = {}
        for check_key in context.selected_asset_check_keys:
            asset = by_key[check_key.asset_key.to_user_string()]
            checks.setdefault(asset["id"], []).append(check_key.name)
        extras: dict[str, Any] = {}
        # A run that names its checks (the UI's launchpad, a backfill, "Execute check") runs
        # those only. One that names none (a GraphQL launchRun without assetCheckSelection, which
        # Dagster subsets to no check) runs every check of its assets, as Baton's materialize does.
        # Checks alone (the UI's "Execute check", a job of AssetSelection.checks(...)): Node
        # runs the selected ones, and only those, on the stored outputs.
        checks_only = not selected
        if context.run.asset_check_selection is not None or checks_only:
            extras[CHECKS_EXTRA] = {a: sorted(n) for a, n in sorted(checks.items())}
        if checks_only:
            extras[CHECKS_ONLY_EXTRA] = sorted(checks)
        targets = [by_key[k] for k in selected] or [by_id[a] for a in sorted(checks)]
        yield from node_step(
            context,
            manifest,
            node,
            build_storage,
            targets=targets,
            extras=extras,
            selected=selected,
            checks_only=checks_only,
        )

    return run_in_node


def node_step(
    context: StepContext,
    manifest: Manifest,
    node: BatonNode,
    build_storage: str | None,
    *,
    targets: list[ManifestAsset],
    extras: dict[str, Any],
    selected: list[str],
    checks_only: bool,
) -> Iterator[dg.MaterializeResult[Any] | dg.AssetCheckResult]:
    """One Node step for `targets` (a multi-asset's selected assets, or the assets whose stored
    outputs a check step checks): the run's partitions, resources and store, then its results."""
    keys = sorted({k for a in targets for k in a["resources"]})
    partitioned = any(a["partitions"] is not None for a in targets)
    extras = dict(extras)
    if (
        partitioned
        and context.has_partition_key_range
        and not context.has_partition_key
    ):
        keys_range = context.partition_key_range
        extras[RANGE_EXTRA] = {"start": keys_range.start, "end": keys_range.end}
    partition_keys = len(context.partition_keys) if partitioned else 1
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
        checks_only=checks_only,
        timeout_seconds=step_timeout(targets, partition_keys),
        secrets=[
            *secret_values(manifest, context.resources),
            *storage_secrets(storage_env),
        ],
    )
