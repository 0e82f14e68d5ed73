import { prefectSchedules, type Manifest, type PrefectSchedule } from "@baton/core";

/** One schedule of a deployment: a cron in its timezone, an RRule, or an interval (sensors). */
export type DeploymentSchedule = PrefectSchedule | { readonly intervalSeconds: number };

/**
 * Where the RDATEs of a cron's repeated autumn hours start (`prefectSchedules` lists 20 years from
 * it): a constant, so that the same definitions always build the same files.
 */
export const SCHEDULE_HORIZON_START = new Date(Date.UTC(2024, 0, 1));

/** One Prefect deployment of the generated flows, as both flows.py and prefect.yaml spell it. */
export interface DeploymentSpec {
  readonly name: string;
  /** The Python function in flows.py. */
  readonly flow: "materialize_assets" | "evaluate_sensor";
  readonly description: string;
  readonly tags: readonly string[];
  readonly parameters: Readonly<Record<string, unknown>>;
  /** Together they tick as Baton does (core's `prefectSchedules`: an every-hour cron fires in both passes of a repeated hour). */
  readonly schedules: readonly DeploymentSchedule[];
}

export const MATERIALIZE_DEPLOYMENT = "materialize";

/** The deployment a sensor's run requests start. */
export function sensorTargetName(sensor: string): string {
  return `${sensor}-runs`;
}

/**
 * Deployments for a manifest: one for ad-hoc runs, one per schedule (cron with its timezone), and
 * per sensor a polling deployment plus the deployment its run requests start. Names are checked by
 * `problems()` (problems.ts), not here.
 */
export function deploymentSpecs(manifest: Manifest, flowName: string): DeploymentSpec[] {
  const specs: DeploymentSpec[] = [
    {
      name: MATERIALIZE_DEPLOYMENT,
      flow: "materialize_assets",
      description: "Materialize any selection of Baton assets (every asset when `assets` is empty).",
      tags: ["baton"],
      parameters: {},
      schedules: [],
    },
  ];
  for (const s of manifest.schedules) {
    specs.push({
      name: s.name,
      flow: "materialize_assets",
      description: s.description ?? `Baton schedule "${s.name}": ${s.selection}`,
      tags: ["baton", "baton-schedule"],
      parameters: { assets: [...s.assets], schedule: s.name },
      schedules: prefectSchedules(s.cron, s.timezone, SCHEDULE_HORIZON_START),
    });
  }
  for (const s of manifest.sensors) {
    specs.push({
      name: s.name,
      flow: "evaluate_sensor",
      description: s.description ?? `Baton sensor "${s.name}": ${s.selection}`,
      tags: ["baton", "baton-sensor"],
      parameters: { sensor: s.name, target: `${flowName}/${sensorTargetName(s.name)}` },
      schedules: [{ intervalSeconds: s.minimumIntervalSeconds }],
    });
    specs.push({
      name: sensorTargetName(s.name),
      flow: "materialize_assets",
      description: `Runs requested by the Baton sensor "${s.name}".`,
      tags: ["baton", "baton-sensor-target"],
      parameters: { assets: [...s.assets] },
      schedules: [],
    });
  }
  return specs;
}
