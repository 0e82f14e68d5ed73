import type { AssetBatch } from "../asset-group.js";
import type { Definitions } from "../definitions.js";
import type { PlannedAsset } from "../plan.js";

export function identity(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/**
 * The step each planned asset runs in, as the position of the step's first asset (`planned` is in dependency
 * order; positions at and past `planned.length` are their own). The selected assets of one asset group with the
 * same partition ranges share a step, in topological waves: a spec that depends on the group through an asset
 * outside it (dbt -> TypeScript -> dbt) waits for a later wave, so no step waits on itself.
 */
export function groupUnits(defs: Definitions, planned: readonly PlannedAsset[], total: number): Int32Array {
  const leaderOf = identity(total);
  const batches = new Set<AssetBatch>();
  for (const p of planned) {
    const b = defs.asset(p.id).batch;
    if (b) batches.add(b);
  }
  if (batches.size === 0) return leaderOf;
  const position = new Map(planned.map((p, i) => [p.id, i]));
  for (const batch of batches) {
    // wave[i]: for a member, its wave; for another asset, the first wave that may depend on it.
    const wave = new Int32Array(planned.length);
    const leaders = new Map<string, number>();
    planned.forEach((p, i) => {
      const member = defs.asset(p.id).batch === batch;
      let w = 0;
      for (const up of defs.upstream(p.id)) {
        const u = position.get(up);
        if (u === undefined) continue;
        const upMember = defs.asset(up).batch === batch;
        // Leaving the group and coming back takes one more wave.
        w = Math.max(w, wave[u]! + (upMember && !member ? 1 : 0));
      }
      wave[i] = w;
      if (!member) return;
      const unit = `${w}\u0000${JSON.stringify(p.ranges ?? null)}`;
      const leader = leaders.get(unit);
      if (leader === undefined) leaders.set(unit, i);
      else leaderOf[i] = leader;
    });
  }
  return leaderOf;
}
