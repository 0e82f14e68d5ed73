"""The orchestrator-neutral Python side of Baton, shared by the adapters' Python modules.

Stdlib only. It reads the manifest (typed by ``manifest_types``, generated from core's JSON
Schema) and the build settings next to it, checks partition keys as core's TypeScript does, and
launches core's step runtime (`node <stepEntry> ...`, in a warm worker by default: ``worker``),
reading the events it prints.
``read_output`` reads a committed output into polars (the ``read`` and ``s3`` extras, imported
only when it is called).
"""

from .build import BuildError, BuildInfo, read_build
from .manifest import (
    ACCEPTED_MANIFEST_VERSIONS,
    Manifest,
    ManifestError,
    ManifestVersionError,
    code_reference,
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
from .storage import (
    ColumnSchema,
    MissingOutputError,
    OutputRecord,
    RecordMismatchError,
    StorageError,
    StorageUrlError,
    encode_segment,
    read_output,
    read_outputs,
    read_record,
    s3_options,
)
from .worker import StepProcess, WorkerProcess, start_step_process

__all__ = [
    "ACCEPTED_MANIFEST_VERSIONS",
    "EVENT_PREFIX",
    "BuildError",
    "BuildInfo",
    "ColumnSchema",
    "Manifest",
    "ManifestAsset",
    "ManifestData",
    "ManifestError",
    "ManifestResource",
    "ManifestSchedule",
    "ManifestSensor",
    "ManifestVersionError",
    "MissingOutputError",
    "OutputRecord",
    "PartitionError",
    "PartitionMapping",
    "PartitionsDefinition",
    "PlanError",
    "PlannedAsset",
    "RecordMismatchError",
    "RunPlan",
    "Skipped",
    "StepProcess",
    "StepResult",
    "StorageError",
    "StorageUrlError",
    "TickPlan",
    "Verdict",
    "WorkerProcess",
    "check_key",
    "check_range",
    "code_reference",
    "encode_segment",
    "node_binary",
    "parse_range",
    "partitions_of",
    "plan_run",
    "read_build",
    "read_manifest",
    "read_output",
    "read_outputs",
    "read_record",
    "redactor",
    "run_step",
    "s3_options",
    "schedule_tick_plan",
    "secret_values",
    "start_step_process",
    "step_command",
]
