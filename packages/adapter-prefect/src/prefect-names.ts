/** Names the Python side (baton_prefect/project.py) derives at run time, computed the same way here to check them at build time. */

/** baton_prefect.keys.fallback_key: the Prefect asset key of an asset whose store location cannot be one. */
export function assetUri(assetId: string): string {
  return `baton://${assetId}`;
}

/** baton_prefect.project.slug. */
export function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
}

/** BatonProject.cursor_variable: the Prefect Variable that keeps a sensor's cursor. */
export function cursorVariable(flowName: string, sensor: string): string {
  return `${slug(flowName)}-${slug(sensor)}-cursor`.replaceAll("-", "_");
}

/** baton_prefect.pools.pool_tag: the task tag, and tag concurrency limit, of a Baton pool. */
export function poolTag(pool: string): string {
  return `baton-pool:${pool}`;
}

/** baton_prefect.project.TIMEOUT_GRACE_SECONDS: what a task's timeout_seconds adds to the asset's timeoutSeconds. */
export const TIMEOUT_GRACE_SECONDS = 10;

/** baton_prefect.caching.cacheable: whether the cache option caches the asset. */
export function cacheable(a: { readonly codeVersion: string | null; readonly codeVersionSource?: string | null; readonly output: string; readonly resources: readonly string[] }): boolean {
  // A default code version (a hash of the compute's own text) misses a change in a helper it calls.
  return a.codeVersion !== null && a.codeVersionSource !== "compute" && a.output !== "none" && a.resources.length === 0;
}

/** The table artifact of an asset's own (inline) checks, written by its task runs (baton_prefect.project.run_asset). */
export function checksArtifactKey(asset: string): string {
  return `${slug(asset)}-checks`;
}

/** baton_prefect.tables.table_artifact_key: the table artifact of an asset's table commits. */
export function tableArtifactKey(asset: string): string {
  return `${slug(asset)}-table`;
}

/** baton_prefect.checks.artifact_key: the table artifact of one check's task runs. */
export function checkArtifactKey(asset: string, check: string): string {
  return `${slug(asset)}-${slug(check)}-check`;
}
