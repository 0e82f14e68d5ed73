import { describe, expect, it } from "vitest";
import { topoSort } from "./graph.js";

const deps = (entries: [string, string[]][]) => new Map(entries);

describe("topoSort", () => {
  it("puts every asset after its upstreams; ties keep declaration order", () => {
    const g = deps([["report", ["clean", "raw"]], ["clean", ["raw"]], ["raw", []], ["alone", []]]);
    expect(topoSort(["report", "clean", "raw", "alone"], g)).toEqual({ order: ["raw", "clean", "report", "alone"] });
    expect(topoSort(["alone", "raw", "clean", "report"], g)).toEqual({ order: ["alone", "raw", "clean", "report"] });
  });

  it("ignores deps outside the graph (external sources)", () => {
    expect(topoSort(["a"], deps([["a", ["external/table"]]]))).toEqual({ order: ["a"] });
  });

  it("reports the first cycle as a path that starts and ends with the same asset", () => {
    const g = deps([["a", ["b"]], ["b", ["c"]], ["c", ["b"]], ["d", ["d"]]]);
    expect(topoSort(["a", "b", "c", "d"], g)).toEqual({ cycle: ["b", "c", "b"] });
    expect(topoSort(["d"], g)).toEqual({ cycle: ["d", "d"] });
  });

  it("walks a chain of 200,000 assets, and finds a cycle through all of them, without overflowing the call stack", () => {
    const n = 200_000;
    const ids = Array.from({ length: n }, (_, i) => `a${i}`);
    const chain = new Map(ids.map((id, i) => [id, i === 0 ? [] : [ids[i - 1]!]]));
    const sorted = topoSort([...ids].reverse(), chain);
    expect("order" in sorted && sorted.order).toEqual(ids);
    chain.set("a0", [ids[n - 1]!]);
    const cyclic = topoSort(ids, chain);
    expect("cycle" in cyclic && cyclic.cycle.length).toBe(n + 1);
    expect("cycle" in cyclic && [cyclic.cycle[0], cyclic.cycle[1], cyclic.cycle[n]]).toEqual(["a0", `a${n - 1}`, "a0"]);
  });
});
