import type { AssetDefinition } from "./asset.js";

/** Upstream ids of each asset: data inputs first, then ordering-only deps. */
export function upstreamIds(a: AssetDefinition): string[] {
  return [...new Set([...a.inputs.map((i) => i.key.join("/")), ...a.deps.map((d) => d.join("/"))])];
}

/**
 * Topological order (stable: ties keep declaration order), or the first cycle found as a list of
 * ids that starts and ends with the same asset.
 */
export function topoSort(ids: readonly string[], deps: ReadonlyMap<string, readonly string[]>): { order: string[] } | { cycle: string[] } {
  const state = new Map<string, "visiting" | "done">();
  const order: string[] = [];
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const s = state.get(id);
    if (s === "done") return undefined;
    if (s === "visiting") return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, "visiting");
    stack.push(id);
    for (const up of deps.get(id) ?? []) {
      if (!deps.has(up)) continue;
      const cycle = visit(up);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(id, "done");
    order.push(id);
    return undefined;
  };
  for (const id of ids) {
    const cycle = visit(id);
    if (cycle) return { cycle };
  }
  return { order };
}
