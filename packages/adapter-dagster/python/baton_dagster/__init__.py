"""Baton definitions as a Dagster code location, each step run in Node through Dagster Pipes."""

from .component import BatonBuildComponent
from .definitions import baton_definitions, build_definitions
from .io_manager import BatonInputManager
from .manifest import ACCEPTED_MANIFEST_VERSIONS, ManifestError, load_manifest
from .storage import STORAGE_RESOURCE_KEY, BatonStorage

__all__ = [
    "ACCEPTED_MANIFEST_VERSIONS",
    "STORAGE_RESOURCE_KEY",
    "BatonBuildComponent",
    "BatonInputManager",
    "BatonStorage",
    "ManifestError",
    "baton_definitions",
    "build_definitions",
    "load_manifest",
]
