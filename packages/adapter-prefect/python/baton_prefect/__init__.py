"""Run Baton (TypeScript) asset definitions as Prefect 3 flows, tasks, assets and deployments.

The Python side reads the manifest that `baton prefect build` writes; each asset runs as a
Prefect task that launches core's step runtime in Node. See the package README.
"""

from .errors import (
    BatonError,
    BatonManifestError,
    BatonPartitionError,
    BatonRunError,
    BatonSelectionError,
    BatonStepError,
)
from .manifest import Manifest
from .project import BatonProject, RunPlan, asset_uri
from .resources import BatonResource, storage_env

__all__ = [
    "BatonError",
    "BatonManifestError",
    "BatonPartitionError",
    "BatonProject",
    "BatonResource",
    "BatonRunError",
    "BatonSelectionError",
    "BatonStepError",
    "Manifest",
    "RunPlan",
    "asset_uri",
    "storage_env",
]
