"""Dagster `Definitions` from a Baton manifest."""

import os
from pathlib import Path

import dagster as dg

from .assets import PIPES_RESOURCE_KEY, build_assets
from .automation import build_schedule, build_sensor
from .manifest import load_manifest
from .node import BatonNode
from .resources import build_resources


def build_definitions(
    manifest_path: str | Path, storage: str | Path | None = None
) -> dg.Definitions:
    """Read the manifest and describe its assets, checks, schedules, sensors and resources.

    Only reads JSON: Node starts when a step, sensor tick or schedule runs, never at load time.
    `storage` is the IO store the steps use when `BATON_STORAGE` is not set.
    """
    manifest_path = Path(manifest_path)
    manifest = load_manifest(manifest_path)
    node = BatonNode(manifest, manifest_path)
    step_env = {}
    if storage is not None and "BATON_STORAGE" not in os.environ:
        step_env["BATON_STORAGE"] = str(Path(storage).resolve())
    return dg.Definitions(
        assets=build_assets(manifest, node),
        schedules=[build_schedule(manifest, s) for s in manifest["schedules"]],
        sensors=[build_sensor(manifest, node, s) for s in manifest["sensors"]],
        resources={
            PIPES_RESOURCE_KEY: dg.PipesSubprocessClient(env=step_env),
            **build_resources(manifest),
        },
    )
