"""Dagster `Definitions` from a Baton manifest."""

import os
from pathlib import Path

import dagster as dg

from baton_core.build import read_build

from .assets import PIPES_RESOURCE_KEY, build_assets
from .automation import build_schedule, build_sensor
from .manifest import load_manifest
from .node import BatonNode
from .resources import build_resources

STORAGE_ENV_VAR = "BATON_STORAGE"


def build_definitions(manifest_path: str | Path) -> dg.Definitions:
    """Read the manifest and describe its assets, checks, schedules, sensors and resources.

    Only reads JSON: Node starts when a step, sensor tick or schedule runs, never at load time.
    The steps store outputs in the worker's `BATON_STORAGE`, else in the build's `--storage`
    (`baton/build.json`), else in core's default.
    """
    manifest_path = Path(manifest_path)
    manifest = load_manifest(manifest_path)
    node = BatonNode(manifest, manifest_path)
    storage = read_build(manifest_path).storage
    step_env: dict[str, str] = {}
    if storage is not None and STORAGE_ENV_VAR not in os.environ:
        step_env[STORAGE_ENV_VAR] = storage
    return dg.Definitions(
        assets=build_assets(manifest, node),
        schedules=[build_schedule(manifest, s) for s in manifest["schedules"]],
        sensors=[build_sensor(manifest, node, s) for s in manifest["sensors"]],
        resources={
            PIPES_RESOURCE_KEY: dg.PipesSubprocessClient(env=step_env),
            **build_resources(manifest),
        },
    )
