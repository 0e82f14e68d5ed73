"""The orchestrator-neutral Python side of Baton, shared by the adapters' Python modules.

Stdlib only. It reads the manifest (typed by ``manifest_types``, generated from core's JSON
Schema) and the build settings next to it, checks partition keys as core's TypeScript does, and
launches core's step runtime (`node <stepEntry> ...`), reading the events it prints.
"""

from .build import BuildError, BuildInfo, read_build
from .manifest import (
    ACCEPTED_MANIFEST_VERSIONS,
    Manifest,
    ManifestError,
    ManifestVersionError,
    read_manifest,
)
from .manifest_types import (
    ManifestAsset,
    ManifestData,
    ManifestResource,
    ManifestSchedule,
    ManifestSensor,
    PartitionMapping,
    PartitionsDefinition,
)
from .partitions import (
    PartitionError,
    check_key,
    check_range,
    parse_range,
    partitions_of,
)
from .plan import (
    PlanError,
    PlannedAsset,
    RunPlan,
    Skipped,
    TickPlan,
    plan_run,
    schedule_tick_plan,
)
from .step import (
    EVENT_PREFIX,
    StepResult,
    Verdict,
    node_binary,
    redactor,
    run_step,
    secret_values,
    step_command,
)

__all__ = [
    "ACCEPTED_MANIFEST_VERSIONS",
    "EVENT_PREFIX",
    "BuildError",
    "BuildInfo",
    "Manifest",
    "ManifestAsset",
    "ManifestData",
    "ManifestError",
    "ManifestResource",
    "ManifestSchedule",
    "ManifestSensor",
    "ManifestVersionError",
    "PartitionError",
    "PartitionMapping",
    "PartitionsDefinition",
    "PlanError",
    "PlannedAsset",
    "RunPlan",
    "Skipped",
    "StepResult",
    "TickPlan",
    "Verdict",
    "check_key",
    "check_range",
    "node_binary",
    "parse_range",
    "partitions_of",
    "plan_run",
    "read_build",
    "read_manifest",
    "redactor",
    "run_step",
    "schedule_tick_plan",
    "secret_values",
    "step_command",
]
