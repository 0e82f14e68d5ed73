"""Baton checks as Prefect tasks: which checks a run has, what their tasks are called, and what
their verdicts mean (CHECKS-CONTRACT.md).

A standalone check (``assetCheck()``, ``standalone: true`` in the manifest) runs in a check step
of its own (``baton-step check --asset T --check NAME``), as a Prefect task named
``check <asset>:<name>`` that waits for its target's task run and those of its inputs in the
same flow run. Inline checks run inside their asset's task; run alone (the checks flow) every
check, inline or standalone, is a task of that name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from baton_core.manifest_types import ManifestAsset, ManifestCheck, ManifestDep

from .errors import BatonSelectionError, BatonStepError
from .manifest import Manifest


class BatonCheckFailed(BatonStepError):
    """An error-severity check failed: its task fails (never retried, the data would not change)."""

    def __init__(self, asset: str, message: str) -> None:
        super().__init__(asset, message, retryable=False)


def standalone(check: ManifestCheck) -> bool:
    """Whether a check runs in a step of its own (``assetCheck()``), not inside its asset's."""
    return check.get("standalone", False)


def check_deps(check: ManifestCheck) -> list[ManifestDep]:
    """The assets a standalone check reads besides its target (manifests before issue 14 have none)."""
    return list(check.get("deps", []))


def standalone_checks(spec: ManifestAsset) -> list[ManifestCheck]:
    return [c for c in spec["checks"] if standalone(c)]


def task_name(asset: str, check: str) -> str:
    """The Prefect task (and task run) name of a check: ``check <asset>:<name>``."""
    return f"check {asset}:{check}"


def artifact_key(asset: str, check: str) -> str:
    """The table artifact of one check's task runs (an asset's own checks are ``<asset>-checks``)."""
    return f"{_slug(asset)}-{_slug(check)}-check"


def select_checks(
    manifest: Manifest, selection: Sequence[str] | None
) -> dict[str, list[str]]:
    """The checks a checks flow run asked for, by target asset in manifest order.

    Each entry is ``"<asset>:<check>"`` or ``"<asset>"`` (all of its checks); none means every
    check of every asset. Unknown assets and checks fail before anything runs, naming what exists.
    """
    wanted: dict[str, set[str] | None] = {}
    for entry in selection or []:
        # Asset ids have no ":" (core's keys.ts), check names neither.
        asset, sep, check = entry.partition(":")
        spec = manifest.asset(asset)  # an unknown id fails with the nearest name
        names = [c["name"] for c in spec["checks"]]
        if not names:
            raise BatonSelectionError(f'asset "{asset}" has no checks')
        if not sep:
            wanted[asset] = None
            continue
        if check not in names:
            raise BatonSelectionError(
                f'asset "{asset}" has no check "{check}"; its checks: {", ".join(names)}'
            )
        chosen = wanted.setdefault(asset, set())
        if chosen is not None:
            chosen.add(check)
    out: dict[str, list[str]] = {}
    for asset, spec in manifest.assets.items():
        if selection and asset not in wanted:
            continue
        chosen = wanted.get(asset)
        names = [
            c["name"] for c in spec["checks"] if chosen is None or c["name"] in chosen
        ]
        if names:
            out[asset] = names
    if not out:
        raise BatonSelectionError("the definitions have no checks to run")
    return out


def failed_error_checks(events: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The check events of failed error-severity checks: each one fails its task."""
    return [e for e in events if not e["passed"] and e["severity"] == "error"]


def check_row(event: Mapping[str, Any], asset: str) -> dict[str, Any]:
    """One row of a checks table artifact (and of the flow's result)."""
    return {
        "asset": asset,
        "check": event["check"],
        "passed": event["passed"],
        "severity": event["severity"],
        "partition_key": event["partitionKey"],
        "description": event["description"],
        "metadata": event.get("metadata") or {},
    }


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
