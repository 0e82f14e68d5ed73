import type { Manifest } from "@baton/core";

/** Airflow id for a Baton name; the same rule as baton_airflow.manifest.airflow_id. */
export function airflowId(name: string): string {
  return name.split("/").join("__").replace(/[^A-Za-z0-9_.-]/g, "_");
}

/** Stable Airflow asset URI of a Baton asset (x- scheme: Airflow neither normalises nor validates it). */
export function assetUri(assetId: string): string {
  return `x-baton://${assetId}`;
}

export const DEFAULT_DAG_ID_PREFIX = "baton";

export const assetsDagId = (prefix: string) => `${prefix}_assets`;
export const scheduleDagId = (prefix: string, name: string) => `${prefix}_schedule_${airflowId(name)}`;
export const sensorDagId = (prefix: string, name: string) => `${prefix}_sensor_${airflowId(name)}`;

/** Task ids every asset DAG holds besides its assets' (baton_airflow.dags / operators); `inline_checks` when it has inline checks. */
export const FIXED_TASK_IDS = ["plan", "outcome", "committed", "inline_checks"] as const;

/** The task id of a standalone check, `<asset>__<check>`; the same rule as baton_airflow.manifest.check_task_id. */
export function checkTaskId(assetId: string, check: string): string {
  return `${airflowId(assetId)}__${airflowId(check)}`;
}

/** The DAG ids baton_airflow.build_dags creates for a manifest, in creation order. */
export function dagIdsFor(manifest: Manifest, prefix = DEFAULT_DAG_ID_PREFIX): string[] {
  return [assetsDagId(prefix), ...manifest.schedules.map((s) => scheduleDagId(prefix, s.name)), ...manifest.sensors.map((s) => sensorDagId(prefix, s.name))];
}
