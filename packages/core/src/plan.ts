import type { AssetDefinition } from "./asset.js";
import type { Definitions } from "./definitions.js";
import { uniquePartitions } from "./definitions.js";
import { BatonError } from "./errors.js";
import { assertPartitionKey, defaultMapping, describePartitions, hasPartitionKey, keysInRange, lastCompleteKey, sortKeys, upstreamKeys } from "./partitions/index.js";
import type { PartitionKeyRange, PartitionMapping, PartitionsDefinition } from "./partitions/types.js";
import { parseSelection } from "./selection.js";

/*
 * What a run means, decided once (core's README, "What a run means"). baton_core/plan.py is the
 * same planner over the manifest, for the orchestrators; plan.test.ts proves they agree.
 */

/** One asset of a run: its partition keys in partition order, or null when it is unpartitioned. */
export interface PlannedAsset {
  readonly id: string;
  readonly partitionKeys: readonly string[] | null;
  /** The keys as runs of consecutive partitions: one step (--partition or --partition-range) each. */
  readonly ranges: readonly PartitionKeyRange[] | null;
}

export interface RunPlan {
  /** In dependency order. */
  readonly assets: readonly PlannedAsset[];
  readonly skipped: readonly { readonly id: string; readonly reason: string }[];
  readonly warnings: readonly string[];
}

export interface PlanRequest {
  /** A selection expression (or its terms); absent or "*" means every asset. */
  readonly selection?: string | readonly string[] | undefined;
  readonly partitionKey?: string | undefined;
  readonly partitionRange?: PartitionKeyRange | undefined;
  readonly now: Date;
}

/** What a schedule tick runs; `plan` is null and `skipReason` says why when nothing runs. */
export interface TickPlan {
  /** The tick's time (ISO, UTC). */
  readonly tickTime: string;
  readonly partitionKey: string | null;
  readonly runKey: string | null;
  readonly skipReason: string | null;
  readonly plan: RunPlan | null;
  /** The schedule's assets (its selection resolved). */
  readonly targets: readonly string[];
}

export const PARTITION_KEY_HINT =
  "pass a partition key or a range: --partition KEY or --partition-range FIRST...LAST (partition_key or partition_range in an orchestrator's run parameters)";

const quoted = (ids: readonly string[]) => ids.map((i) => `"${i}"`).join(", ");

function describeKeys(keys: readonly string[]): string {
  if (keys.length === 1) return `partition ${JSON.stringify(keys[0])}`;
  return `partitions ${JSON.stringify(keys[0])} to ${JSON.stringify(keys[keys.length - 1])} (${keys.length} keys)`;
}

function isEverything(selection: PlanRequest["selection"]): boolean {
  if (selection === undefined) return true;
  return parseSelection(typeof selection === "string" ? selection : selection.join(" ")).every((t) => t.kind === "all");
}

/**
 * Plan a run: which assets run, for which partition keys, which are skipped and why. Throws a
 * BatonError (UNKNOWN_PARTITION, UNKNOWN_SELECTION or UNMAPPABLE_PARTITIONS: deterministic) when
 * the request cannot run.
 */
export function planRun(defs: Definitions, request: PlanRequest): RunPlan {
  const { partitionKey, partitionRange, now } = request;
  if (partitionKey !== undefined && partitionRange !== undefined) {
    throw new BatonError("UNKNOWN_PARTITION", "give either a partition key or a partition range, not both", { hint: "drop one of --partition and --partition-range" });
  }
  const everything = isEverything(request.selection);
  const ids = everything ? defs.assets.map((a) => a.id) : defs.select(typeof request.selection === "string" ? request.selection : (request.selection ?? []).join(" "));
  const byId = new Map(ids.map((id) => [id, defs.asset(id)]));
  const parts = (id: string) => byId.get(id)!.partitions;
  const partitioned = ids.filter((id) => parts(id) !== undefined);

  if (partitionKey === undefined && partitionRange === undefined) {
    if (partitioned.length > 0 && !everything) {
      const first = partitioned[0]!;
      throw new BatonError("UNKNOWN_PARTITION", `partitioned by ${describePartitions(parts(first))}, but no partition key was given`, { asset: first, hint: PARTITION_KEY_HINT });
    }
    const gone = new Set(partitioned);
    const warnings: string[] = [];
    const assets: PlannedAsset[] = [];
    for (const id of ids) {
      if (gone.has(id)) continue;
      assets.push({ id, partitionKeys: null, ranges: null });
      if (gone.size === 0) continue;
      const reads = [...new Set(byId.get(id)!.inputs.map((i) => i.key.join("/")).filter((u) => gone.has(u)))];
      if (reads.length > 0) warnings.push(`"${id}" reads ${quoted(reads)}, which this run skips: it reads the partitions already materialized`);
    }
    const skipped = partitioned.map((id) => ({ id, reason: `partitioned by ${describePartitions(parts(id))}; pass a partition key or range to run it` }));
    return { assets, skipped, warnings };
  }

  const flag = partitionKey !== undefined ? "--partition" : "--partition-range";
  if (partitioned.length === 0) {
    const one = ids.length === 1;
    throw new BatonError("UNKNOWN_PARTITION", `${quoted(ids)} ${one ? "is" : "are"} not partitioned; drop ${flag}`, {
      hint: one ? "run it without a partition key or range" : "run them without a partition key or range",
    });
  }

  // Which selected, partitioned consumers read each asset, and through which mapping.
  const consumers = new Map<string, { consumer: string; mapping: PartitionMapping }[]>(ids.map((id) => [id, []]));
  for (const c of ids) {
    const a = byId.get(c)!;
    if (!a.partitions) continue;
    for (const input of a.inputs) {
      const up = input.key.join("/");
      const upParts = byId.get(up)?.partitions;
      if (!upParts) continue;
      const mapping = input.partitionMapping ?? defaultMapping(a.partitions, upParts);
      if (mapping) consumers.get(up)!.push({ consumer: c, mapping });
    }
  }

  const keys = new Map<string, string[]>();
  const expanded = new Map<string, string>();
  for (const id of [...ids].reverse()) {
    const def = parts(id);
    if (!def) continue;
    const pins = consumers.get(id)!;
    if (pins.length === 0) {
      keys.set(id, leafKeys(id, def, request, ids, byId));
      continue;
    }
    const found = new Map<string, { consumer: string; kind: string }>();
    const whole: string[] = [];
    for (const { consumer, mapping } of pins) {
      for (const k of upstreamKeys(parts(consumer), keys.get(consumer)!, def, mapping, now)) if (!found.has(k)) found.set(k, { consumer, kind: mapping.type });
      if (mapping.type === "allPartitions" && !whole.includes(consumer)) whole.push(consumer);
    }
    if (found.size === 0) {
      const readers = pins.map(({ consumer }) => `"${consumer}" ${describeKeys(keys.get(consumer)!)}`).join("; ");
      throw new BatonError("UNMAPPABLE_PARTITIONS", `no partition of it is read by ${readers}`, {
        asset: id,
        hint: `select "${id}" on its own with a key of its ${describePartitions(def)}, or pick partitions of its downstream that its partitions cover`,
      });
    }
    const ordered = sortKeys(def, found.keys());
    for (const k of ordered) {
      if (hasPartitionKey(def, k, now)) continue;
      const { consumer, kind } = found.get(k)!;
      const inner = keyError(() => assertPartitionKey(def, k, id, now));
      throw new BatonError("UNKNOWN_PARTITION", `${inner.problem}, which "${consumer}" ${describeKeys(keys.get(consumer)!)} reads through its ${kind} mapping`, { asset: id, hint: inner.hint });
    }
    if (whole.length > 0) expanded.set(id, `"${id}": all ${ordered.length} partitions run, because ${quoted(whole)} ${whole.length === 1 ? "reads" : "read"} every partition of it`);
    keys.set(id, ordered);
  }

  const warnings: string[] = [];
  const assets = ids.map((id): PlannedAsset => {
    const def = parts(id);
    if (!def) {
      warnings.push(`"${id}" is not partitioned: it runs once, not per partition`);
      return { id, partitionKeys: null, ranges: null };
    }
    const w = expanded.get(id);
    if (w !== undefined) warnings.push(w);
    const ks = keys.get(id)!;
    return { id, partitionKeys: ks, ranges: contiguous(def, ks, now) };
  });
  return { assets, skipped: [], warnings };
}

function keyError(run: () => void): BatonError {
  try {
    run();
  } catch (e) {
    if (e instanceof BatonError) return e;
    throw e;
  }
  throw new Error("expected a partition key error");
}

/** The keys the run's key or range gives a leaf: a partitioned asset no selected consumer maps to. */
function leafKeys(id: string, def: PartitionsDefinition, request: PlanRequest, ids: readonly string[], byId: ReadonlyMap<string, AssetDefinition>): string[] {
  const { partitionKey, partitionRange, now } = request;
  const wanted = partitionKey !== undefined ? [partitionKey] : [partitionRange!.start, partitionRange!.end];
  try {
    if (partitionRange !== undefined) return keysInRange(def, partitionRange, now, id);
    assertPartitionKey(def, partitionKey!, id, now);
    return [partitionKey!];
  } catch (e) {
    if (!(e instanceof BatonError)) throw e;
    let hint = e.hint ?? "";
    const fits = ids.filter((other) => {
      const p = byId.get(other)!.partitions;
      return other !== id && p !== undefined && wanted.every((k) => hasPartitionKey(p, k, now));
    });
    if (fits.length > 0) {
      hint +=
        `; ${wanted.length === 1 ? "it is a key" : "they are keys"} of ${quoted(fits)}, ` +
        `but a key names partitions of the selection's leaves, such as "${id}": their upstream partitions follow through the partition mappings`;
    }
    throw new BatonError("UNKNOWN_PARTITION", e.problem, { asset: id, hint });
  }
}

/** Runs of consecutive partitions in `keys` (sorted, valid keys of `def`). */
function contiguous(def: PartitionsDefinition, keys: readonly string[], now: Date): PartitionKeyRange[] {
  if (keys.length === 0) return [];
  const span = keysInRange(def, { start: keys[0]!, end: keys[keys.length - 1]! }, now);
  const wanted = new Set(keys);
  const out: PartitionKeyRange[] = [];
  let start: string | undefined;
  let prev: string | undefined;
  for (const k of span) {
    if (wanted.has(k)) {
      start ??= k;
      prev = k;
    } else if (start !== undefined && prev !== undefined) {
      out.push({ start, end: prev });
      start = undefined;
    }
  }
  if (start !== undefined && prev !== undefined) out.push({ start, end: prev });
  return out;
}

/**
 * The failure a run reports when several assets failed: the first of `failed` in run order (the
 * plan's dependency order), whatever order they finished in. Undefined when none of them is planned.
 */
export function firstInRunOrder(plan: RunPlan, failed: Iterable<string>): string | undefined {
  const set = new Set(failed);
  return plan.assets.find((a) => set.has(a.id))?.id;
}

/**
 * What the tick of schedule `name` at `tickTime` (a cron time of the schedule) runs: a static key,
 * or the last window complete at the tick (`offset` windows back). Nothing, with a reason, before
 * the first window is complete or once the partitions have ended.
 */
export function planScheduleTick(defs: Definitions, name: string, tickTime: Date): TickPlan {
  const s = defs.schedules.find((x) => x.name === name);
  if (!s) {
    const known = defs.schedules.map((x) => x.name);
    throw new BatonError("UNKNOWN_SELECTION", `there is no schedule named "${name}"`, { hint: known.length ? `known schedules: ${known.join(", ")}` : "declare one in definitions({ schedules })" });
  }
  const tick = tickTime.toISOString();
  const targets = defs.select(s.selection);
  const def = uniquePartitions(targets.map((id) => defs.asset(id)))[0];
  let partitionKey: string | undefined;
  if (def) {
    const policy = s.partition ?? { type: "lastComplete" as const };
    if (policy.type === "static") partitionKey = policy.key;
    else if (def.type === "time") {
      const first = targets[0] ?? name;
      const { end: _end, ...openEnded } = def;
      partitionKey = lastCompleteKey(openEnded, tickTime, policy.offset ?? 0);
      let skipReason: string | undefined;
      if (partitionKey === undefined) skipReason = `no partition of "${first}" is complete at ${tick}`;
      else if (!hasPartitionKey(def, partitionKey, tickTime)) skipReason = `the partitions of "${first}" end at ${def.end} (${def.timezone}): the schedule has nothing left to run`;
      if (skipReason !== undefined) return { tickTime: tick, partitionKey: null, runKey: null, skipReason, plan: null, targets };
    }
  }
  const plan = planRun(defs, { selection: s.selection, partitionKey, now: tickTime });
  return { tickTime: tick, partitionKey: partitionKey ?? null, runKey: partitionKey ?? tick, skipReason: null, plan, targets };
}
