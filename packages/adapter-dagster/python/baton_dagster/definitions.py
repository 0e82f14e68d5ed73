"""Dagster `Definitions` from a Baton manifest."""

from pathlib import Path

import dagster as dg

from baton_core.build import read_build

from .assets import PIPES_RESOURCE_KEY, build_assets
from .automation import build_schedule, build_sensor
from .checks import build_standalone_checks
from .manifest import load_manifest
from .node import BatonNode
from .resources import build_resources
from .storage import STORAGE_RESOURCE_KEY, BatonStorage


def build_definitions(
    manifest_path: str | Path, storage: BatonStorage | None = None
) -> dg.Definitions:
    """Read the manifest and describe its assets, checks, schedules, sensors and resources,
    with `storage` (default `BatonStorage()`: the worker's environment decides) as `baton_storage`.

    Only reads JSON: Node starts when a step, sensor tick or schedule runs, never at load time.
    """
    defs = baton_definitions(manifest_path)
    return defs.with_resources({STORAGE_RESOURCE_KEY: storage or BatonStorage()})


def baton_definitions(manifest_path: str | Path) -> dg.Definitions:
    """The definitions without the `baton_storage` resource, which the project provides.

    Each step stores outputs where `baton_storage` says, else in the run worker's
    `BATON_STORAGE`, else in the build's `--storage` (`baton/build.json`), else in core's default,
    decided when the step runs.
    """
    manifest_path = Path(manifest_path)
    manifest = load_manifest(manifest_path)
    node = BatonNode(manifest, manifest_path)
    storage = read_build(manifest_path).storage
    return dg.Definitions(
        assets=build_assets(manifest, node, storage),
        asset_checks=build_standalone_checks(manifest, node, storage),
        schedules=[build_schedule(manifest, s) for s in manifest["schedules"]],
        sensors=[build_sensor(manifest, node, s) for s in manifest["sensors"]],
        resources={
            PIPES_RESOURCE_KEY: dg.PipesSubprocessClient(),
            **build_resources(manifest),
        },
    )
