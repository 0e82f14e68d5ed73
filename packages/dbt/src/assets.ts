import { assetGroup, type AssetGroupDefinition, type PartitionsDefinition } from "@baton/core/authoring";
import { defaultGroupName, dbtExecute, toGroupSpec, type DbtAssetsOptions } from "./group.js";
import type { DbtProject } from "./project.js";

/**
 * A dbt project as ONE Baton asset group: an asset per model, seed and snapshot (its tests as checks), all
 * materialized by one `dbt build` per step for whatever of them the step selects.
 */
export function dbtAssets<P extends PartitionsDefinition | undefined = undefined>(project: DbtProject, options: DbtAssetsOptions<P> = {}): AssetGroupDefinition<P> {
  return assetGroup({
    name: options.name ?? defaultGroupName(project),
    specs: project.specs.map(toGroupSpec),
    ...(options.description !== undefined ? { description: options.description } : {}),
    ...(options.partitions !== undefined ? { partitions: options.partitions } : {}),
    ...(options.pool !== undefined ? { pool: options.pool } : {}),
    ...(options.retry !== undefined ? { retry: options.retry } : {}),
    ...(options.timeoutSeconds !== undefined ? { timeoutSeconds: options.timeoutSeconds } : {}),
    execute: dbtExecute(project, options),
  });
}
