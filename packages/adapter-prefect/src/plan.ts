import type { Manifest, ManifestAsset, PartitionsDefinition } from "@baton/core";
import type { TargetPlan } from "@baton/core/build";
import { CHECKS_DEPLOYMENT, deploymentSpecs, MATERIALIZE_DEPLOYMENT, sensorPeriod, sensorTargetName, type DeploymentSchedule } from "./deployments.js";
import { assetUri, cacheable, checkArtifactKey, checksArtifactKey, cursorVariable, poolTag, tableArtifactKey, TIMEOUT_GRACE_SECONDS } from "./prefect-names.js";

function partitionsText(p: PartitionsDefinition | null): string | null {
  if (p === null) return null;
  if (p.type === "static") return `static (${p.keys.length} keys: ${p.keys.slice(0, 5).join(", ")}${p.keys.length > 5 ? ", …" : ""}); the flow parameter partition_key`;
  const range = p.end ? `${p.start} to ${p.end} (exclusive)` : `from ${p.start}`;
  return `${p.grain} ${range} in ${p.timezone}, keys "${p.format}"; the flow parameters partition_key or partition_range_start/end`;
}

function scheduleText(s: DeploymentSchedule): string {
  if ("cron" in s) return `cron "${s.cron}" in ${s.timezone}`;
  if ("rrule" in s) return `an RRule in ${s.timezone} (the repeated hour of a DST change)`;
  return `an interval of ${s.intervalSeconds} s`;
}

/** What `emit` produces for the manifest, in Prefect's words. */
/** What the task adds: one run per partition, retries, timeout, pool, caching. */
function taskDetails(a: ManifestAsset, cache: boolean): string {
  const parts = [
    a.partitions ? "one task run per partition (.map)" : null,
    a.retry ? `${a.retry.maxRetries} retries` : null,
    a.timeoutSeconds ? `timeout_seconds ${a.timeoutSeconds + TIMEOUT_GRACE_SECONDS}` : null,
    a.pool ? `tag "${poolTag(a.pool)}" (a tag concurrency limit)` : null,
    cache && cacheable(a) ? "cached by code version and input data versions" : null,
  ].filter((p) => p !== null);
  return parts.length ? `, ${parts.join(", ")}` : "";
}

/** Where a table output goes, and what Prefect records of each commit. */
function tableText(a: ManifestAsset): string[] {
  if (a.table === undefined) return [];
  const mode = a.table.mode === "append" ? "appended to" : a.partitions ? "replacing its partition of" : "replacing";
  return [
    `output ${mode} the Iceberg table ${a.table.name} (catalog resource "${a.table.catalog}"): the asset event's payload has table and snapshot_id; each commit in the table artifact "${tableArtifactKey(a.id)}"`,
  ];
}

/** Where an asset's checks run: inline ones in its task, each standalone one as a task of its own; all of them alone in the checks flow. */
function checksText(a: ManifestAsset, flowName: string): string[] {
  if (a.checks.length === 0) return [];
  const standalone = a.checks.filter((c) => c.standalone === true);
  const inline = a.checks.length - standalone.length;
  const lines = standalone.map((c) => {
    const reads = (c.deps ?? []).map((d) => d.id);
    const after = [a.id, ...new Set(reads)].map((id) => `"${id}"`).join(", ");
    return `task "check ${a.id}:${c.name}" (standalone check, severity ${c.severity}) in flow "${flowName}", after the task runs of ${after}${a.partitions ? ", one per partition" : ""}; verdict in the table artifact "${checkArtifactKey(a.id, c.name)}"${c.severity === "error" ? "; a failure fails the task and the flow run" : ""}`;
  });
  if (inline) lines.push(`${inline} inline check${inline === 1 ? "" : "s"} in the task of "${a.id}"`);
  lines.push(`alone: flow "${flowName}-checks" (deployment "${flowName}-checks/${CHECKS_DEPLOYMENT}", parameter checks ["${a.id}:<check>"]), a task run per check`);
  return lines;
}

export function prefectPlan(manifest: Manifest, flowName: string, workPool: string, cache = false): TargetPlan {
  // Without --flow-name the flow is named after the package, which a plan is not told.
  const specs = deploymentSpecs(manifest, flowName);
  const sensorFlow = `${flowName}-sensors`;
  return {
    target: "prefect",
    assets: manifest.assets.map((a) => ({
      id: a.id,
      becomes: [
        `task "${a.id}" in flow "${flowName}" (deployment "${flowName}/${MATERIALIZE_DEPLOYMENT}", work pool "${workPool}")${taskDetails(a, cache)}`,
        `Prefect asset <store>/${a.key.join("/")} (its folder in the store; ${assetUri(a.id)} when the store cannot be a key): a prefect.asset.materialization.succeeded event per ${a.partitions ? "partition" : "run"}${a.checks.some((c) => c.standalone !== true) ? `; inline checks as the table artifact "${checksArtifactKey(a.id)}"` : ""}`,
        ...tableText(a),
        ...checksText(a, flowName),
      ],
      partitions: partitionsText(a.partitions),
    })),
    edges: manifest.assets.flatMap((a) =>
      [...new Set(a.deps.map((d) => d.id))].map((from) => ({ from, to: a.id, via: "task wait_for + asset_deps" })),
    ),
    schedules: manifest.schedules.map((s) => {
      const spec = specs.find((d) => d.name === s.name && d.flow === "materialize_assets");
      const when = spec ? spec.schedules.map(scheduleText).join(" + ") : `cron "${s.cron}" in ${s.timezone}`;
      return { name: s.name, becomes: `deployment "${flowName}/${s.name}" on ${when}, running ${s.assets.length === 1 ? "1 asset" : `${s.assets.length} assets`}` };
    }),
    sensors: manifest.sensors.map((s) => ({
      name: s.name,
      becomes:
        `deployment "${sensorFlow}/${s.name}" (its schedule off until you turn it on): one flow run per ${sensorPeriod(s.minimumIntervalSeconds)} s, ticking every ${s.minimumIntervalSeconds} s (cursor in the Variable "${cursorVariable(flowName, s.name)}"), ` +
        `starting the deployment "${flowName}/${sensorTargetName(s.name)}" once per run key`,
    })),
    unsupported: [],
  };
}
