export { BatonError, BatonValidationError, StepCancelled, isRetryable, DETERMINISTIC_CODES, type BatonErrorCode } from "./errors.js";
// The authoring API (asset, input, withMetadata, keys, resources, partitions, schedules, sensors, selection
// helpers): one list, in authoring.ts; what follows is the runtime beside it.
export * from "./authoring.js";
export { resolveConfig } from "./resource.js";
export { isAssetGroupDefinition } from "./asset-group.js";
export { LocalStorageClient, S3StorageClient, openStorageClient } from "./protocols.js";
export * from "./partitions/index.js";
export { selectAssets, parseSelection, type SelectableAsset } from "./selection.js";
export { cronProblem, timezoneProblem, previousTick, nextTick, prefectSchedules, repeatsEveryHour, type PrefectSchedule } from "./cron.js";
export { evaluateScheduleTick, evaluateSensorTick, type EvaluatedTick, type ResolvedRunRequest } from "./ticks.js";
export { planRun, planScheduleTick, firstInRunOrder, PARTITION_KEY_HINT, type PlannedAsset, type PlanRequest, type RunPlan, type TickPlan } from "./plan.js";
export { LocalIOStore, BackendIOStore, BatonStorageError, defaultStorageRoot, encodeSegment, type IOStore, type OutputRecord, type WriteArgs, type WriteResult } from "./io/store.js";
export { tableResolver, type AssetTable, type RecordTable, type TableResolver } from "./io/table-sink.js";
export type { TableTarget } from "./io/store.js";
export { openStore, storageSecrets, type OpenStoreOptions } from "./io/open.js";
export type { S3StoreOptions } from "./io/s3-backend.js";
export { isBatonError, isBatonValidationError, isExplainedError } from "./is-baton-error.js";
export { enableSourceMaps, type CallerLocation } from "./source.js";
export { contentHash, toArrow, toPolars, type ColumnSchema } from "./io/frames.js";
export { materialize, type MaterializeOptions, type MaterializeResult, type AssetRunResult, type CheckStepResult } from "./executor/materialize.js";
export { toManifest, manifestToJson, stepEntryPath, type ManifestOptions } from "./manifest/build.js";
export { readManifest, manifestProblems } from "./manifest/read.js";
export { moduleHashOf } from "./manifest/hash.js";
export { verifyModule } from "./step/verify.js";
export { MANIFEST_VERSION, ACCEPTED_MANIFEST_VERSIONS, type Manifest, type ManifestAsset, type ManifestResource, type ManifestSchedule, type ManifestSensor, type ManifestDep, type ManifestCheck, type ManifestTable, type ManifestSource, type ManifestPool } from "./manifest/types.js";
export { loadDefinitions } from "./load.js";
export { corePythonWheel, shippedWheel } from "./python.js";
