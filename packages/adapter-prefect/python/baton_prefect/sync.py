"""Prefect's dual sync/async APIs (``@async_dispatch``) typed as what sync code gets back."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from .errors import BatonError

T = TypeVar("T")


def sync_result(value: T | Coroutine[Any, Any, T]) -> T:
    """The result of a dispatching Prefect call made from sync code (tasks and flows here are
    sync), where Prefect returns the value itself, never a coroutine."""
    if isinstance(value, Coroutine):
        value.close()
        raise BatonError(
            "a Prefect API returned a coroutine: baton_prefect's flows and tasks are sync;"
            " call them from sync code"
        )
    return value
