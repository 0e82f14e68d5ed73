import { BatonError, prefectSchedules, type Manifest, type PrefectSchedule } from "@baton/core";

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

// Prefect refuses these in flow and deployment names (they would break "flow/deployment" paths).
const BANNED = /[/%&<>]/;

export function checkName(kind: string, name: string): void {
  if (name.trim() === "" || BANNED.test(name)) {
    throw new BatonError("CONFIG", `${kind} name ${JSON.stringify(name)} cannot be a Prefect name`, { hint: "Prefect names cannot be empty or contain / % & < >; rename it" });
  }
}

/**
 * Deployments for a manifest: one for ad-hoc runs, one per schedule (cron with its timezone), and
 * per sensor a polling deployment plus the deployment its run requests start.
 */
export function deploymentSpecs(manifest: Manifest, flowName: string): DeploymentSpec[] {
  checkName("flow", flowName);
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
    checkName("schedule", s.name);
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
    checkName("sensor", s.name);
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
  const seen = new Set<string>();
  for (const d of specs) {
    const key = `${d.flow}/${d.name}`;
    if (seen.has(key)) {
      throw new BatonError("CONFIG", `two Prefect deployments would be named "${d.name}"`, {
        hint: `rename the schedule or sensor: "${MATERIALIZE_DEPLOYMENT}" and "<sensor>-runs" are taken by the adapter`,
      });
    }
    seen.add(key);
  }
  return specs;
}
