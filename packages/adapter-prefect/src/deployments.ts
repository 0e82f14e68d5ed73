import { prefectSchedules, type Manifest, type PrefectSchedule } from "@baton/core";

/**
 * One schedule of a deployment: a cron in its timezone, an RRule, or a sensor's period (an
 * interval whose schedule starts off and keeps the state the user gives it, see sensors.py).
 */
export type DeploymentSchedule = PrefectSchedule | { readonly intervalSeconds: number; readonly sensor: string };

/** baton_prefect.sensors.SENSOR_PERIOD_SECONDS: one sensor flow run polls this long, unless its interval is longer. */
export const SENSOR_PERIOD_SECONDS = 3600;

/** baton_prefect.sensors.SENSOR_ANCHOR: sensor periods start at full hours (UTC). */
export const SENSOR_ANCHOR = "2024-01-01T00:00:00+00:00";

/** baton_prefect.sensors.sensor_period: a whole number of intervals, at least an hour. */
export function sensorPeriod(minimumIntervalSeconds: number): number {
  const interval = Math.max(minimumIntervalSeconds, 1);
  return Math.ceil(Math.max(SENSOR_PERIOD_SECONDS, interval) / interval) * interval;
}

/**
 * Where the RDATEs of a cron's repeated autumn hours start (`prefectSchedules` lists 20 years from
 * it): a constant, so that the same definitions always build the same files.
 */
export const SCHEDULE_HORIZON_START = new Date(Date.UTC(2024, 0, 1));

/** One Prefect deployment of the generated flows, as both flows.py and prefect.yaml spell it. */
export interface DeploymentSpec {
  readonly name: string;
  /** The Python function in flows.py. */
  readonly flow: "materialize_assets" | "evaluate_sensor" | "check_assets";
  readonly description: string;
  readonly tags: readonly string[];
  readonly parameters: Readonly<Record<string, unknown>>;
  /** Together they tick as Baton does (core's `prefectSchedules`: an every-hour cron fires in both passes of a repeated hour). */
  readonly schedules: readonly DeploymentSchedule[];
}

export const MATERIALIZE_DEPLOYMENT = "materialize";

/** The checks flow's deployment: checks run alone against the stored outputs. */
export const CHECKS_DEPLOYMENT = "checks";

/** Whether the definitions have checks (inline or standalone): then the build has the checks flow. */
export function hasChecks(manifest: Manifest): boolean {
  return manifest.assets.some((a) => a.checks.length > 0);
}

/** The deployment a sensor's run requests start. */
export function sensorTargetName(sensor: string): string {
  return `${sensor}-runs`;
}

/**
 * Deployments for a manifest: one for ad-hoc runs, one per schedule (cron with its timezone), and
 * per sensor a polling deployment (one long-lived flow run per period, ticking every
 * minimumIntervalSeconds inside it; its schedule starts off) plus the deployment its run requests start. Names are checked by
 * `problems()` (problems.ts), not here. Definitions with checks also get the checks flow's
 * deployment `checks`, for running checks alone.
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
  if (hasChecks(manifest)) {
    specs.push({
      name: CHECKS_DEPLOYMENT,
      flow: "check_assets",
      description: "Run Baton checks alone against the stored outputs, materializing nothing (every check when `checks` is empty).",
      tags: ["baton", "baton-checks"],
      parameters: {},
      schedules: [],
    });
  }
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
      parameters: { sensor: s.name, target: `${flowName}/${sensorTargetName(s.name)}`, period_seconds: sensorPeriod(s.minimumIntervalSeconds) },
      schedules: [{ intervalSeconds: sensorPeriod(s.minimumIntervalSeconds), sensor: s.name }],
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
