/**
 * `baton dagster plan`: the Dagster objects a build becomes. The multi-asset grouping mirrors
 * `baton_dagster.assets.plan_buckets` and `_op_names` (python/baton_dagster/assets.py); the
 * relocation test compares both with what Dagster loads (`dg list defs --json`).
 */
import type { Manifest, ManifestAsset } from "@baton/core";
import type { TargetPlan } from "@baton/core/build";

export interface Bucket {
  readonly name: string;
  readonly level: number;
  readonly assets: readonly ManifestAsset[];
}

// Python's json.dumps(sort_keys=True) and JSON.stringify agree for these values once keys are sorted.
function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sorted((value as Record<string, unknown>)[k])]));
  }
  return value;
}
// An op has one pool: assets of different pools never share one (older manifests have no pool).
const kindOf = (a: ManifestAsset) => JSON.stringify(sorted(a.pool ? [a.group, a.partitions, a.retry, a.pool] : [a.group, a.partitions, a.retry]));

/** One multi-asset per group, partitions definition and retry policy, split by level so no cycle forms between them. */
export function planBuckets(manifest: Manifest): Bucket[] {
  const byId = new Map(manifest.assets.map((a) => [a.id, a]));
  const levels = new Map<string, number>();
  const level = (a: ManifestAsset): number => {
    const known = levels.get(a.id);
    if (known !== undefined) return known;
    const ups = a.deps.map((d) => byId.get(d.id)).filter((u): u is ManifestAsset => u !== undefined);
    const value = Math.max(0, ...ups.map((u) => level(u) + (kindOf(u) !== kindOf(a) ? 1 : 0)));
    levels.set(a.id, value);
    return value;
  };
  const buckets = new Map<string, { level: number; assets: ManifestAsset[]; first: ManifestAsset }>();
  for (const a of manifest.assets) {
    const key = JSON.stringify([kindOf(a), level(a)]);
    const bucket = buckets.get(key) ?? { level: level(a), assets: [], first: a };
    bucket.assets.push(a);
    buckets.set(key, bucket);
  }
  const list = [...buckets.values()];
  const kinds = list.map((b) => JSON.stringify([b.first.group, JSON.stringify(sorted(b.first.partitions)), JSON.stringify(b.first.retry), b.first.pool ?? null]));
  const names: string[] = [];
  return list.map((b, i) => {
    const split = kinds.filter((k) => k === kinds[i]).length > 1 && b.level > 0;
    const p = b.first.partitions;
    const parts = [b.first.group, p === null ? null : p.type === "time" ? p.grain : "static", b.first.retry ? "retry" : null, b.first.pool ? `pool_${b.first.pool}` : null, split ? `stage${b.level}` : null];
    // Python's re.sub(r"\W", "_", …): anything but a word character becomes "_".
    const base = parts.filter((x): x is string => Boolean(x)).join("__").replace(/[^\p{L}\p{N}_]/gu, "_");
    let name = base;
    for (let n = 2; names.includes(name); n++) name = `${base}_${n}`;
    names.push(name);
    return { name, level: b.level, assets: b.assets };
  });
}

function partitionsText(a: ManifestAsset): string | null {
  const p = a.partitions;
  if (p === null) return null;
  if (p.type === "static") return `StaticPartitionsDefinition (${p.keys.length} keys)`;
  const cls = { hourly: "Hourly", daily: "Daily", weekly: "Weekly", monthly: "Monthly" }[p.grain];
  return `${cls}PartitionsDefinition from ${p.start}${p.end ? ` to ${p.end}` : ""} (${p.timezone}), a backfill is one run per partition (BackfillPolicy.multi_run(1))`;
}

/**
 * The op of a standalone check (`baton_dagster.checks.check_op_name`): what `@dg.asset_check`
 * names it, `AssetCheckSpec.get_python_identifier()` (dagster 1.13.28 asset_check_spec.py, with
 * `AssetKey.to_python_identifier`: parts joined by "__", "-" and "." as "_").
 */
export function checkOpName(asset: ManifestAsset, check: string): string {
  return `${asset.key.join("__").replace(/[-.]/g, "_")}_${check}`;
}

/** Each standalone check (`assetCheck()`) of the manifest with its op. */
export function standaloneChecks(manifest: Manifest): { asset: ManifestAsset; check: ManifestAsset["checks"][number]; op: string }[] {
  return manifest.assets.flatMap((asset) => asset.checks.filter((c) => c.standalone === true).map((check) => ({ asset, check, op: checkOpName(asset, check.name) })));
}

/** The named asset job a schedule or sensor runs (baton_dagster.automation.job_name). */
export const automationJobName = (automation: string) => `${automation}_job`;

export function dagsterPlan(manifest: Manifest): TargetPlan {
  const buckets = planBuckets(manifest);
  const opOf = new Map(buckets.flatMap((b) => b.assets.map((a) => [a.id, b.name] as const)));
  const keyOf = new Map(manifest.assets.map((a) => [a.id, a.key.join("/")]));
  const ids = (list: readonly string[]) => list.map((id) => keyOf.get(id) ?? id).join(", ");
  return {
    target: "dagster",
    assets: manifest.assets.map((a) => ({
      id: a.id,
      becomes: [
        `asset ${a.key.join("/")}`,
        `op ${opOf.get(a.id)!} in multi-asset ${opOf.get(a.id)!} (a Node step through Dagster Pipes)`,
        ...a.checks.map((c) =>
          c.standalone === true
            ? `asset check ${a.key.join("/")}:${c.name} in op ${checkOpName(a, c.name)} of its own (standalone, not blocking; after ${[a.key.join("/"), ...(c.deps ?? []).map((d) => d.key.join("/"))].join(", ")}; its step fails when it fails${c.severity === "warn" ? ", never: severity warn" : ""})`
            : `asset check ${a.key.join("/")}:${c.name}${c.severity === "error" ? " (blocking)" : ""}`,
        ),
        ...(a.table ? [tableText(a.table)] : []),
        ...(a.pool ? [`pool ${a.pool} (the op's pool=; its limit is the instance's)`] : []),
        ...(a.timeoutSeconds ? [`timeout ${a.timeoutSeconds}s per partition key (core, then the step launcher stops Node)`] : []),
        ...(a.retry ? [`RetryPolicy max_retries=${a.retry.maxRetries}, delay=${a.retry.delaySeconds}s, ${a.retry.backoff}`] : []),
        ...a.resources.map((r) => `resource ${r}`),
      ],
      partitions: partitionsText(a),
    })),
    edges: [
      ...manifest.assets.flatMap((a) =>
        a.deps.map((d) => ({
          from: d.key.join("/"),
          to: a.key.join("/"),
          via: `AssetDep${d.partitionMapping ? ` with ${mappingName(d.partitionMapping.type)}` : ""}${opOf.get(d.id) === opOf.get(a.id) ? " (same op)" : ""}`,
        })),
      ),
      // A standalone check's inputs: the check spec's additional_deps, drawn in Dagster's asset graph.
      ...standaloneChecks(manifest).flatMap(({ asset, check }) =>
        (check.deps ?? []).map((d) => ({
          from: d.key.join("/"),
          to: `${asset.key.join("/")}:${check.name}`,
          via: `AssetCheckSpec additional_deps${d.partitionMapping ? ` with ${mappingName(d.partitionMapping.type)}` : ""}`,
        })),
      ),
    ],
    schedules: manifest.schedules.map((s) => ({
      name: s.name,
      becomes: `ScheduleDefinition ${s.name} (${s.cron}, ${s.timezone}) running job ${automationJobName(s.name)} on ${ids(s.assets)}${s.partition ? `, partition ${s.partition.type === "static" ? JSON.stringify(s.partition.key) : "the last complete window"}` : ""}`,
    })),
    sensors: manifest.sensors.map((s) => ({
      name: s.name,
      becomes: `SensorDefinition ${s.name} (every ${s.minimumIntervalSeconds}s, evaluated in Node) running job ${automationJobName(s.name)} on ${ids(s.assets)}`,
    })),
    unsupported: [],
  };
}

/** A table output (baton_dagster.assets.table_metadata, src/reports.ts tableMetadata). */
function tableText(table: NonNullable<ManifestAsset["table"]>): string {
  const write = table.mode === "append" ? "append" : table.partitionColumn ? `replace of its partition (column ${table.partitionColumn})` : "replace";
  return `Iceberg table ${table.name} (catalog resource ${table.catalog}, ${write}): kind iceberg, dagster/table_name on the asset and each materialization, with iceberg/snapshot_id (the snapshot its record pins)`;
}

function mappingName(type: string): string {
  return { identity: "IdentityPartitionMapping", timeWindow: "TimeWindowPartitionMapping", allPartitions: "AllPartitionMapping" }[type] ?? type;
}
