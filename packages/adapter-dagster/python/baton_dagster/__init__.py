"""Baton definitions as a Dagster code location, each step run in Node through Dagster Pipes."""

from .component import BatonBuildComponent
from .definitions import build_definitions
from .manifest import ACCEPTED_MANIFEST_VERSIONS, ManifestError, load_manifest

__all__ = [
    "ACCEPTED_MANIFEST_VERSIONS",
    "BatonBuildComponent",
    "ManifestError",
    "build_definitions",
    "load_manifest",
]
