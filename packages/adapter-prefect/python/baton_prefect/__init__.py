"""Run Baton (TypeScript) asset definitions as Prefect 3 flows, tasks, assets and deployments.

The Python side reads the manifest that `baton prefect build` writes; each asset runs as a
Prefect task that launches core's step runtime in Node. See the package README.
"""

from .checks import BatonCheckFailed
from .errors import (
    BatonError,
    BatonManifestError,
    BatonPartitionError,
    BatonRunError,
    BatonSelectionError,
    BatonStepError,
    BatonStepTimeout,
)
from .keys import asset_key
from .manifest import Manifest
from .pools import pool_tag
from .project import BatonProject, RunPlan, task_runner
from .resources import BatonResource, storage_env

__all__ = [
    "BatonCheckFailed",
    "BatonError",
    "BatonManifestError",
    "BatonPartitionError",
    "BatonProject",
    "BatonResource",
    "BatonRunError",
    "BatonSelectionError",
    "BatonStepError",
    "BatonStepTimeout",
    "Manifest",
    "RunPlan",
    "asset_key",
    "pool_tag",
    "storage_env",
    "task_runner",
]
