/**
 * `@baton/core/authoring`: the authoring API only — what a definitions file imports. It loads no CLI, build or
 * runtime machinery (no esbuild, tsx or ajv at import; authoring.test.ts checks the module graph), so a
 * definitions module imports fast wherever it is loaded. Everything here is also exported from `@baton/core`.
 */
export { BatonError } from "./errors.js";
export { toAssetKey, keyToString, type AssetKey, type AssetKeyLike } from "./keys.js";
export {
  asset,
  input,
  type AssetCheck,
  type AssetConfig,
  type AssetContext,
  type AssetDefinition,
  type AssetIO,
  type AssetOutput,
  type CatalogNameOf,
  type CheckResult,
  type CheckSeverity,
  type FrameKind,
  type InputRef,
  type InputSpec,
  type Logger,
  type MetadataValue,
  type NoOutput,
  type PartitionContext,
  type ResourcesConfig,
  type ResourcesOf,
  type RetryPolicy,
  type StoredOutput,
  type TableOutput,
} from "./asset.js";
export {
  assetGroup,
  type AssetBatch,
  type AssetGroupConfig,
  type AssetGroupDefinition,
  type AssetSpec,
  type AssetSpecCheck,
  type GroupContext,
  type GroupResult,
  type SpecAsset,
} from "./asset-group.js";
export { withMetadata, type OutputWithMetadata } from "./with-metadata.js";
export { isTableSink, type TableSink, type TableWrite, type TableCommit, type TableRead, type TableIO } from "./io/table-sink.js";
export { assetCheck, isAssetCheckDefinition, type AssetCheckConfig, type AssetCheckDefinition, type CheckedOutput, type CheckVerdict, type PartitionsOf } from "./asset-check.js";
export { resource, env, secret, type ConfigSource, type ConfigSchema, type ResourceDefinition } from "./resource.js";
export { localStorage, storageClient, type CatalogClient, type StorageClient } from "./protocols.js";
export type { PartitionsDefinition, TimePartitionsDefinition, StaticPartitionsDefinition, PartitionMapping, TimeWindow, PartitionKeyRange } from "./partitions/types.js";
export {
  hourlyPartitions,
  dailyPartitions,
  weeklyPartitions,
  monthlyPartitions,
  staticPartitions,
  type TimePartitionsOptions,
  type WeeklyPartitionsOptions,
} from "./partitions/define.js";
export { schedule, type ScheduleDefinition, type SchedulePartition, type RunRequest, type TickResult } from "./schedule.js";
export { sensor, type SensorContext, type SensorDefinition, type SensorRunRequest, type SensorTickResult } from "./sensor.js";
export { definitions, isDefinitions, type Definitions, type DefinitionsInput, type PoolDefinition } from "./definitions.js";
export {
  upstream,
  downstream,
  group,
  tag,
  key,
  resolveSelection,
  type AssetRef,
  type Depth,
  type Selection,
  type SelectionHelper,
  type SelectionPart,
  type SelectionTarget,
} from "./selection.js";
