export { dbtAssets } from "./assets.js";
export { dbtExecute, toGroupSpec, toGroupResult, defaultGroupName, type DbtAssetsOptions } from "./group.js";
export { dbtProject, dbtBuild, type DbtProject, type DbtProjectOptions, type DbtBuildOptions, type DbtBuildResult, type DbtVars } from "./project.js";
export {
  manifestToSpecs,
  defaultKeyFor,
  ASSET_RESOURCE_TYPES,
  type DbtAssetSpec,
  type DbtCheckSpec,
  type DbtSpecDep,
  type DbtSpecs,
  type DbtSpecOptions,
  type DbtSourceMapping,
  type DbtAssetResourceType,
} from "./specs.js";
export { mapRunResults, readRunResults, type DbtMaterializationOutcome, type DbtCheckOutcome, type DbtRunResultsMapping, type DbtTimingOutcome } from "./run-results.js";
export { readManifest, readFreshManifest, staleReason } from "./manifest.js";
export { runDbt, resolveDbtExecutable, DBT_CORE_WANTED, DBT_EXECUTABLE_ENV, DBT_REQUIREMENTS, type DbtInvocation, type DbtLogEvent } from "./run-dbt.js";
export { DbtError, DbtNodeFailure, type DbtErrorReason } from "./errors.js";
export type * from "./artifacts.js";
