import type { AssetDefinition } from "./asset.js";

/** Upstream ids of each asset: data inputs first, then ordering-only deps. */
export function upstreamIds(a: AssetDefinition): string[] {
  return [...new Set([...a.inputs.map((i) => i.key.join("/")), ...a.deps.map((d) => d.join("/"))])];
}

/**
 * Topological order (stable: ties keep declaration order), or the first cycle found as a list of
 * ids that starts and ends with the same asset. A depth-first walk in O(V+E) with its own stack, so
 * a chain of 100,000 assets does not overflow the call stack.
 */
export function topoSort(ids: readonly string[], deps: ReadonlyMap<string, readonly string[]>): { order: string[] } | { cycle: string[] } {
  const state = new Map<string, "visiting" | "done">();
  const order: string[] = [];
  // The path being walked, each with the index of its next dep to visit.
  const path: string[] = [];
  const next: number[] = [];
  for (const root of ids) {
    if (state.has(root)) continue;
    state.set(root, "visiting");
    path.push(root);
    next.push(0);
    while (path.length > 0) {
      const top = path.length - 1;
      const id = path[top]!;
      const ups = deps.get(id) ?? [];
      const i = next[top]!;
      if (i >= ups.length) {
        path.pop();
        next.pop();
        state.set(id, "done");
        order.push(id);
        continue;
      }
      next[top] = i + 1;
      const up = ups[i]!;
      if (!deps.has(up)) continue;
      const s = state.get(up);
      if (s === "done") continue;
      if (s === "visiting") return { cycle: [...path.slice(path.lastIndexOf(up)), up] };
      state.set(up, "visiting");
      path.push(up);
      next.push(0);
    }
  }
  return { order };
}
