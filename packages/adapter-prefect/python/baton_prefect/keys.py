"""Prefect asset keys for Baton assets: where the output lives.

Prefect keys an asset by a URI and groups its asset graph by the URI's scheme (``s3://``,
``file://``, ...), so a Baton asset's key is its folder in Baton's store, as core lays it out
(packages/core/STORAGE-CONTRACT.md): ``<store>/<key part>/...``, e.g. ``s3://bucket/prefix/sales/orders``
or ``file:///srv/baton/sales/orders``. Its partitions and data files are below that folder.

When the store is unknown (no build storage and no BATON_STORAGE) or the location is not a valid
Prefect asset key (a character Prefect forbids such as a space or ``%``, or longer than 512
characters: prefect/types/names.py ``validate_valid_asset_key``), the key is ``baton://<asset id>``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from prefect.types.names import validate_valid_asset_key

from baton_core.storage import encode_segment

URI_SCHEME = "baton://"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def fallback_key(asset_id: str) -> str:
    """The key of an asset whose store location cannot be one: ``baton://<asset id>``."""
    return URI_SCHEME + asset_id


def store_root(storage: str | None) -> str | None:
    """The store as a URI prefix: ``s3://bucket/prefix`` or ``file:///absolute/folder``."""
    if not storage:
        return None
    scheme = _SCHEME.match(storage)
    if scheme is None:
        return "file://" + Path(storage).resolve().as_posix()
    name = scheme.group(1).lower()
    if name in ("s3", "file"):
        return name + storage[len(scheme.group(1)) :].rstrip("/")
    return None


def asset_key(asset_id: str, key: Sequence[str], storage: str | None) -> str:
    """The Prefect asset key of a Baton asset whose outputs are in ``storage``."""
    root = store_root(storage)
    if root is not None:
        candidate = "/".join([root, *(encode_segment(p) for p in key)])
        try:
            return validate_valid_asset_key(candidate)
        except ValueError:
            pass
    return fallback_key(asset_id)
