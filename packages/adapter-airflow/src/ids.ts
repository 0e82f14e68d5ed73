import type { Manifest } from "@baton/core";

/** Airflow id for a Baton name; the same rule as baton_airflow.manifest.airflow_id. */
export function airflowId(name: string): string {
  return name.split("/").join("__").replace(/[^A-Za-z0-9_.-]/g, "_");
}

/** Stable Airflow asset URI of a Baton asset (x- scheme: Airflow neither normalises nor validates it). */
export function assetUri(assetId: string): string {
  return `x-baton://${assetId}`;
}

/** The DAG ids baton_airflow.build_dags creates for a manifest, in creation order. */
export function dagIdsFor(manifest: Manifest, prefix = "baton"): string[] {
  return [
    `${prefix}_assets`,
    ...manifest.schedules.map((s) => `${prefix}_schedule_${airflowId(s.name)}`),
    ...manifest.sensors.map((s) => `${prefix}_sensor_${airflowId(s.name)}`),
  ];
}
