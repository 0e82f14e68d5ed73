import { BatonError } from "../errors.js";
import { describePartitions } from "./define.js";
import { keysOverlapping, partitionKeys, parseLocalIso, sortKeys, timeWindowOf } from "./time.js";
import type { PartitionMapping, PartitionsDefinition, TimePartitionsDefinition } from "./types.js";

/** Start/end compare as instants so "2024-01-01" equals "2024-01-01T00:00". */
function sameBound(a: string | undefined, b: string | undefined, zone: string): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a === b || (parseLocalIso(a, zone) ?? NaN) === parseLocalIso(b, zone);
}

/** Deep equality of two definitions (a missing weekStartsOn means Monday). */
export function samePartitions(a: PartitionsDefinition | undefined, b: PartitionsDefinition | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.type === "static" || b.type === "static") {
    return a.type === "static" && b.type === "static" && a.keys.length === b.keys.length && a.keys.every((k, i) => k === b.keys[i]);
  }
  return (
    a.grain === b.grain &&
    a.timezone === b.timezone &&
    a.format === b.format &&
    sameBound(a.start, b.start, a.timezone) &&
    sameBound(a.end, b.end, a.timezone) &&
    (a.grain !== "weekly" || (a.weekStartsOn ?? 1) === (b.weekStartsOn ?? 1))
  );
}

/** The mapping used when an input declares none; undefined when none applies (see mappingProblem). */
export function defaultMapping(down: PartitionsDefinition | undefined, up: PartitionsDefinition | undefined): PartitionMapping | undefined {
  if (up === undefined) return undefined; // the whole unpartitioned upstream is read
  if (down === undefined) return { type: "allPartitions" };
  if (samePartitions(down, up)) return { type: "identity" };
  if (down.type === "time" && up.type === "time") return { type: "timeWindow" };
  return undefined;
}

const FIX = 'declare partitionMapping: { type: "allPartitions" } on the input, or align the partitions';

/** Why `mapping` (or the default, when undefined) cannot map downstream partitions to upstream ones. */
export function mappingProblem(
  down: PartitionsDefinition | undefined,
  up: PartitionsDefinition | undefined,
  mapping: PartitionMapping | undefined,
): string | undefined {
  const from = `downstream ${describePartitions(down)}`;
  const to = `upstream ${describePartitions(up)}`;
  if (mapping === undefined) {
    if (up === undefined || defaultMapping(down, up) !== undefined) return undefined;
    return `no default partition mapping from ${from} to ${to}; ${FIX}`;
  }
  switch (mapping.type) {
    case "allPartitions":
      return undefined;
    case "identity": {
      if (samePartitions(down, up)) return undefined;
      if (down?.type === "static" && up?.type === "static") {
        const missing = down.keys.filter((k) => !up.keys.includes(k));
        if (missing.length === 0) return undefined;
        return `identity mapping: downstream keys ${missing.map((k) => JSON.stringify(k)).join(", ")} do not exist upstream (${to}); add them upstream or ${FIX}`;
      }
      const alt = down?.type === "time" && up?.type === "time" ? 'use partitionMapping: { type: "timeWindow" }' : FIX;
      return `identity mapping needs the same partitions on both sides, but ${from} differs from ${to}; ${alt}`;
    }
    case "timeWindow": {
      if (down?.type === "time" && up?.type === "time") return undefined;
      const side = down?.type !== "time" ? from : to;
      return `timeWindow mapping needs time partitions on both sides, but ${side} is not time-partitioned; ${FIX}`;
    }
    default:
      return `unknown partition mapping ${JSON.stringify(mapping)}; use { type: "identity" }, { type: "timeWindow" } or { type: "allPartitions" }`;
  }
}

/**
 * The upstream keys that the downstream keys read, in upstream partition order. timeWindow keeps
 * keys within the upstream start/end even if their window is not complete yet, so a downstream
 * window that needs a not-yet-finished upstream one sees it as missing rather than silently empty.
 */
export function upstreamKeys(
  down: PartitionsDefinition | undefined,
  downKeys: readonly string[],
  up: PartitionsDefinition,
  mapping: PartitionMapping,
  now: Date = new Date(),
): string[] {
  const problem = mappingProblem(down, up, mapping);
  if (problem) {
    const cut = problem.indexOf("; ");
    throw new BatonError("UNMAPPABLE_PARTITIONS", problem.slice(0, cut), { hint: problem.slice(cut + 2) });
  }
  if (down !== undefined) for (const k of downKeys) checkKey(down, k);
  switch (mapping.type) {
    case "allPartitions":
      return partitionKeys(up, now);
    case "identity":
      return sortKeys(up, downKeys);
    case "timeWindow": {
      const d = down as TimePartitionsDefinition;
      const u = up as TimePartitionsDefinition;
      return sortKeys(u, downKeys.flatMap((k) => keysOverlapping(u, timeWindowOf(d, k))));
    }
  }
}

/** A downstream key must belong to its definition (completeness is the caller's concern). */
function checkKey(def: PartitionsDefinition, key: string): void {
  if (def.type === "time") {
    timeWindowOf(def, key);
  } else if (!def.keys.includes(key)) {
    throw new BatonError("UNKNOWN_PARTITION", `unknown partition key ${JSON.stringify(key)}`, {
      hint: `the downstream has ${describePartitions(def)}`,
    });
  }
}
