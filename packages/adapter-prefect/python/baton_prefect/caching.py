"""Opt-in Prefect task caching keyed on what Baton knows decides an output.

An asset's output is a function of its code version and the data versions (content hashes) of
the inputs it reads. With the build option ``cache``, a task whose key matches a completed run's
is not run again: Prefect ends it ``Cached`` with the stored result, which is the output's
references (path, hashes, row counts; JSON), never the frame. The output itself stays in Baton's
store.

Only assets whose key says everything are cached: with a declared ``codeVersion`` (not the default
hash of the compute's own text, which misses a change in a helper it calls), a table output, no
resources (a resource reaches the outside world, which no key can see), and inputs whose
partitions the key can name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from baton_core.manifest_types import ManifestAsset
from baton_core.mapping import upstream_keys
from baton_core.storage import read_record

from .manifest import Manifest


def cacheable(spec: ManifestAsset) -> bool:
    """Whether the asset's output is decided by its code version and inputs alone."""
    return (
        spec["codeVersion"] is not None
        # The default version hashes the compute's own text, not the helpers it calls: not a cache key.
        and spec.get("codeVersionSource") != "compute"
        and spec["output"] != "none"
        and not spec["resources"]
    )


def input_keys(
    manifest: Manifest,
    spec: ManifestAsset,
    dep_id: str,
    partition_key: str | None,
    now: datetime,
) -> list[str | None] | None:
    """The upstream partitions one run of ``spec`` for ``partition_key`` reads from ``dep_id``,
    or None when the key cannot name them (a partitioned input without a mapping)."""
    up = manifest.asset(dep_id)["partitions"]
    if up is None:
        return [None]
    dep = next(d for d in spec["deps"] if d["id"] == dep_id and d["input"] is not None)
    mapping = dep["partitionMapping"]
    if mapping is None or partition_key is None:
        return None
    return list(upstream_keys(spec["partitions"], [partition_key], up, mapping, now))


def cache_key(
    manifest: Manifest,
    asset_id: str,
    partition_key: str | None,
    env: Mapping[str, str],
    now: datetime,
) -> str | None:
    """sha256 of the asset, its partition, its code version and its inputs' data versions as
    the store has them now; None (no caching) when one of them is unknown."""
    spec = manifest.asset(asset_id)
    if not cacheable(spec):
        return None
    storage = env.get("BATON_STORAGE")
    inputs: list[Any] = []
    for dep_id in dict.fromkeys(
        d["id"] for d in spec["deps"] if d["input"] is not None
    ):
        keys = input_keys(manifest, spec, dep_id, partition_key, now)
        if keys is None:
            return None
        for key in keys:
            record = read_record(manifest.asset(dep_id)["key"], key, storage, env=env)
            if record is None or record["contentHash"] is None:
                return None
            inputs.append([dep_id, key, record["contentHash"]])
    text = json.dumps(
        {
            "asset": asset_id,
            "partition": partition_key,
            "codeVersion": spec["codeVersion"],
            "format": spec["format"],
            "inputs": inputs,
        },
        sort_keys=True,
    )
    return "baton-" + hashlib.sha256(text.encode()).hexdigest()


def output_stored(
    manifest: Manifest, asset_id: str, partition_key: str | None, env: Mapping[str, str]
) -> bool:
    """Whether the store still has the asset's output: a cached reference to a missing (or
    deleted) output must not be reused, so such a task refreshes its cache entry instead."""
    record = read_record(
        manifest.asset(asset_id)["key"],
        partition_key,
        env.get("BATON_STORAGE"),
        env=env,
    )
    return record is not None
