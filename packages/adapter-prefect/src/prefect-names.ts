/** Names the Python side (baton_prefect/project.py) derives at run time, computed the same way here to check them at build time. */

/** baton_prefect.assetUri: the stable Prefect asset key of a Baton asset. */
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
