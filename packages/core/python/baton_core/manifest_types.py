"""The Baton manifest's JSON as TypedDicts, for reading it with types.

Generated from packages/core/schema/manifest.schema.json by
scripts/gen-manifest-types.mjs. Do not edit: change the schema and run
`node scripts/gen-manifest-types.mjs`.
"""

from typing import Literal, NotRequired, TypedDict


class ManifestGenerator(TypedDict):
    name: str
    version: str


class ManifestRuntime(TypedDict):
    module: str
    moduleHash: str
    export: str
    stepEntry: str
    node: str


class PartitionMapping(TypedDict):
    type: Literal["identity", "timeWindow", "allPartitions"]


class ManifestDep(TypedDict):
    id: str
    key: list[str]
    input: str | None
    partitionMapping: PartitionMapping | None


class TimePartitionsDefinition(TypedDict):
    type: Literal["time"]
    grain: Literal["hourly", "daily", "weekly", "monthly"]
    start: str
    end: NotRequired[str]
    timezone: str
    format: str
    weekStartsOn: NotRequired[int]


class StaticPartitionsDefinition(TypedDict):
    type: Literal["static"]
    keys: list[str]


PartitionsDefinition = TimePartitionsDefinition | StaticPartitionsDefinition


class ManifestCheck(TypedDict):
    name: str
    description: str | None
    severity: Literal["error", "warn"]
    # assetCheck(): its own check step after its target and deps; absent: false (an
    # inline check).
    standalone: NotRequired[bool]
    # A standalone check's inputs (mappings relative to the target's partitions); [] for
    # an inline check; absent: [].
    deps: NotRequired[list[ManifestDep]]


class ManifestRetry(TypedDict):
    maxRetries: int
    delaySeconds: float
    backoff: Literal["constant", "exponential"]


class ManifestTable(TypedDict):
    """Format iceberg: the catalog resource and the table that hold the output."""

    format: Literal["iceberg"]
    catalog: str
    name: str
    partitionColumn: str | None
    mode: Literal["replace", "append"]


class ManifestSource(TypedDict):
    file: str
    line: int | None


class ManifestAsset(TypedDict):
    id: str
    key: list[str]
    deps: list[ManifestDep]
    partitions: PartitionsDefinition | None
    group: str
    description: str | None
    owners: list[str]
    tags: dict[str, str]
    codeVersion: str | None
    # declared: the asset's codeVersion; compute: the default, a hash of the compute's
    # own source text (not what it calls); absent: declared.
    codeVersionSource: NotRequired[Literal["declared", "compute"] | None]
    metadata: dict[str, object]
    checks: list[ManifestCheck]
    retry: ManifestRetry | None
    resources: list[str]
    format: Literal["parquet", "ipc", "iceberg"]
    # Format iceberg: the catalog resource and the table that hold the output.
    table: NotRequired[ManifestTable]
    output: Literal["table", "none"]
    # Seconds one attempt for one partition key may take; null: no limit.
    timeoutSeconds: NotRequired[float | None]
    # The concurrency pool, one of the manifest's pools.
    pool: NotRequired[str | None]
    # What the asset is made with, e.g. ["dbt", "duckdb"].
    kinds: NotRequired[list[str]]
    # The asset group whose one execute materializes the asset (its step name), or null.
    batch: NotRequired[str | None]
    # Where asset() was called: file relative to the project root with '/', line
    # 1-based.
    source: NotRequired[ManifestSource | None]


class ManifestResourceConfig(TypedDict):
    field: str
    env: str
    secret: bool
    default: str | None
    description: str | None


class ManifestResource(TypedDict):
    key: str
    description: str | None
    config: list[ManifestResourceConfig]


class LastCompleteSchedulePartition(TypedDict):
    type: Literal["lastComplete"]
    offset: NotRequired[int]


class StaticSchedulePartition(TypedDict):
    type: Literal["static"]
    key: str


SchedulePartition = LastCompleteSchedulePartition | StaticSchedulePartition


class ManifestSchedule(TypedDict):
    name: str
    cron: str
    timezone: str
    selection: str
    assets: list[str]
    partition: SchedulePartition | None
    partitions: PartitionsDefinition | None
    description: str | None


class ManifestSensor(TypedDict):
    name: str
    selection: str
    assets: list[str]
    minimumIntervalSeconds: float
    resources: list[str]
    description: str | None


class ManifestPool(TypedDict):
    name: str
    limit: int
    description: str | None


class ManifestData(TypedDict):
    """Baton definitions compiled for orchestrator adapters (manifestVersion 2)."""

    manifestVersion: Literal[2]
    generator: ManifestGenerator
    runtime: ManifestRuntime
    assets: list[ManifestAsset]
    resources: list[ManifestResource]
    schedules: list[ManifestSchedule]
    sensors: list[ManifestSensor]
    # Concurrency pools, sorted by name.
    pools: NotRequired[list[ManifestPool]]
