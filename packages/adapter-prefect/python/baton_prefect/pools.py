"""Baton concurrency pools as Prefect tag-based concurrency limits.

Each asset of a pool runs as a task tagged ``baton-pool:<pool>``; a tag concurrency limit of the
pool's ``limit`` on that tag makes Prefect hold every task run with the tag until a slot is free,
across all flow runs (prefect/task_engine.py takes a slot of ``tag:<tag>`` for each tag).
"""

from __future__ import annotations

from prefect.client.orchestration import get_client

from .manifest import Manifest

POOL_TAG_PREFIX = "baton-pool:"


def pool_tag(pool: str) -> str:
    """The task tag (and tag concurrency limit) of a Baton pool."""
    return POOL_TAG_PREFIX + pool


def create_pool_limits(manifest: Manifest) -> dict[str, int]:
    """Create or update one tag concurrency limit per pool of the manifest; returns tag -> limit."""
    return create_tag_limits(
        {pool_tag(name): p["limit"] for name, p in manifest.pools.items()}
    )


def create_tag_limits(limits: dict[str, int]) -> dict[str, int]:
    """Create or update tag concurrency limits (tag -> limit); also prefect.yaml's build step.

    The server upserts a limit by its tag (prefect/server/api/concurrency_limits.py), so this is
    safe to repeat on every deploy, like ``prefect concurrency-limit create TAG LIMIT``.
    """
    if limits:
        with get_client(sync_client=True) as client:
            for tag, limit in limits.items():
                client.create_concurrency_limit(tag=tag, concurrency_limit=limit)
    return dict(limits)
