import { describe, expect, it } from "vitest";
import { assetSelector, parseSelection, selectAssets, type SelectableAsset } from "./selection.js";
import { caught } from "./__tests__/helpers.js";


const asset = (id: string, group: string, deps: string[] = [], tags: Record<string, string> = {}): SelectableAsset => ({ id, group, deps, tags });

// raw/orders ──> sales/orders ──┐
//                               ├─> analytics/customer_metrics ──> analytics/dashboard ──> reports/weekly
// raw/customers ─> sales/customers ┘                                       (external/fx) ──┘
const assets: SelectableAsset[] = [
  asset("raw/orders", "raw", [], { tier: "bronze" }),
  asset("raw/customers", "raw", [], { tier: "bronze" }),
  asset("sales/orders", "sales", ["raw/orders"], { tier: "silver", pii: "no" }),
  asset("sales/customers", "sales", ["raw/customers"], { tier: "silver", pii: "yes" }),
  asset("analytics/customer_metrics", "analytics", ["sales/orders", "sales/customers"], { tier: "gold" }),
  asset("analytics/dashboard", "analytics", ["analytics/customer_metrics"], { tier: "gold", owner: "a=b" }),
  asset("reports/weekly", "reports", ["analytics/dashboard", "external/fx"]),
];

const select = (expr: string) => selectAssets(assets, expr);

describe("selectAssets", () => {
  it("selects everything with *", () => {
    expect(select("*")).toEqual(assets.map((a) => a.id));
  });

  it("selects a key", () => {
    expect(select("sales/orders")).toEqual(["sales/orders"]);
  });

  it("selects all ancestors with a leading +", () => {
    expect(select("+analytics/customer_metrics")).toEqual(["raw/orders", "raw/customers", "sales/orders", "sales/customers", "analytics/customer_metrics"]);
  });

  it("limits ancestors with N+", () => {
    expect(select("1+analytics/customer_metrics")).toEqual(["sales/orders", "sales/customers", "analytics/customer_metrics"]);
    expect(select("2+analytics/dashboard")).toEqual(["sales/orders", "sales/customers", "analytics/customer_metrics", "analytics/dashboard"]);
  });

  it("selects all descendants with a trailing +", () => {
    expect(select("raw/orders+")).toEqual(["raw/orders", "sales/orders", "analytics/customer_metrics", "analytics/dashboard", "reports/weekly"]);
  });

  it("limits descendants with +N", () => {
    expect(select("raw/orders+2")).toEqual(["raw/orders", "sales/orders", "analytics/customer_metrics"]);
  });

  it("combines both sides", () => {
    expect(select("1+analytics/customer_metrics+1")).toEqual(["sales/orders", "sales/customers", "analytics/customer_metrics", "analytics/dashboard"]);
    expect(select("0+sales/orders+0")).toEqual(["sales/orders"]);
    expect(select("+sales/customers+")).toEqual(["raw/customers", "sales/customers", "analytics/customer_metrics", "analytics/dashboard", "reports/weekly"]);
  });

  it("selects every key under a prefix", () => {
    expect(select("sales/*")).toEqual(["sales/orders", "sales/customers"]);
    expect(select("sales/*+1")).toEqual(["sales/orders", "sales/customers", "analytics/customer_metrics"]);
  });

  it("selects groups and tags", () => {
    expect(select("group:raw")).toEqual(["raw/orders", "raw/customers"]);
    expect(select("tag:tier=gold")).toEqual(["analytics/customer_metrics", "analytics/dashboard"]);
    expect(select("tag:pii")).toEqual(["sales/orders", "sales/customers"]);
    expect(select("tag:pii=yes+")).toEqual(["sales/customers", "analytics/customer_metrics", "analytics/dashboard", "reports/weekly"]);
    expect(select("1+group:reports")).toEqual(["analytics/dashboard", "reports/weekly"]);
    expect(select("tag:owner=a=b")).toEqual(["analytics/dashboard"]);
  });

  it("unions terms separated by spaces or commas, in asset order", () => {
    expect(select("reports/weekly, raw/orders  tag:tier=gold")).toEqual(["raw/orders", "analytics/customer_metrics", "analytics/dashboard", "reports/weekly"]);
    expect(select("raw/orders,raw/orders")).toEqual(["raw/orders"]);
  });

  it("walks up and down independently from several starting points", () => {
    // a -> b -> c, b -> d; group x = {a, c}. The upstream walk from c reaches b; the downstream walk
    // from a must still go through b to d.
    const g = [asset("a", "x"), asset("b", "y", ["a"]), asset("c", "x", ["b"]), asset("d", "y", ["b"])];
    expect(selectAssets(g, "group:x+")).toEqual(["a", "b", "c", "d"]);
    expect(selectAssets(g, "+group:x+")).toEqual(["a", "b", "c", "d"]);
    expect(selectAssets(g, "group:x+1")).toEqual(["a", "b", "c"]);
  });

  it("handles diamonds and depth by shortest path", () => {
    // a -> b -> d and a -> d: d is one level below a.
    const g = [asset("a", "g"), asset("b", "g", ["a"]), asset("d", "g", ["b", "a"])];
    expect(selectAssets(g, "a+1")).toEqual(["a", "b", "d"]);
    expect(selectAssets(g, "1+d")).toEqual(["a", "b", "d"]);
  });
});

describe("selection errors", () => {
  it("suggests close keys for an unknown key", () => {
    const e = caught(() => select("+sales/order"));
    expect(e.code).toBe("UNKNOWN_SELECTION");
    expect(e.message).toBe('selection term "+sales/order": no asset "sales/order"\n  fix: did you mean "sales/orders"?');
    // Case is ignored when comparing; the closest comes first.
    expect(caught(() => select("Sales/Orders")).hint).toBe('did you mean "sales/orders", "raw/orders"?');
  });

  it("suggests keys under a path that is only a prefix", () => {
    expect(caught(() => select("sales")).hint).toBe('did you mean "sales/orders", "sales/customers"?');
  });

  it("lists what exists when nothing is close", () => {
    const e = caught(() => select("group:zzzzzzzzzz"));
    expect(e.message).toContain('no asset is in group "zzzzzzzzzz"');
    expect(e.hint).toBe('available groups: "raw", "sales", "analytics", "reports"');
    expect(caught(() => select("group:analytic")).hint).toBe('did you mean "analytics"?');
    expect(caught(() => select("nothing/like/this/at/all")).hint).toContain('available asset keys: "raw/orders"');
  });

  it("reports unknown prefixes and tags", () => {
    expect(caught(() => select("finance/*")).message).toContain('no asset key starts with "finance/"');
    const e = caught(() => select("tag:tier=platinum"));
    expect(e.message).toContain("no asset has tag tier=platinum");
    expect(e.hint).toContain('"tier=bronze"');
    expect(caught(() => select("tag:teir")).hint).toBe('did you mean "tier"?');
  });

  it("rejects malformed terms with the grammar in the hint", () => {
    const cases: Array<[string, string]> = [
      ["", "the asset selection is empty"],
      [" , ", "the asset selection is empty"],
      ["+*", '"*" already selects every asset'],
      ["a+b", '"+" may only appear at the start or the end'],
      ["++a", '"+" may only appear'],
      ["+", "nothing to select"],
      ["sales/orders!", "is not an asset key"],
      ["/orders", "is not an asset key"],
      ["group:", "missing group name"],
      ["tag:=x", "missing tag name"],
    ];
    for (const [expr, text] of cases) {
      const e = caught(() => select(expr));
      expect(e.code, expr).toBe("UNKNOWN_SELECTION");
      expect(e.message, expr).toContain(text);
      expect(e.hint).toContain('"group:NAME"');
    }
  });

  it("fails when nothing matches", () => {
    expect(caught(() => selectAssets([], "*")).message).toContain('selection "*" matches no assets');
    expect(caught(() => selectAssets([], "a")).hint).toBe("there are no asset keys");
  });
});

describe("parseSelection", () => {
  it("returns the parsed terms", () => {
    expect(parseSelection("1+a/b+2, group:g tag:k=v tag:k * x/* +c")).toEqual([
      { text: "1+a/b+2", kind: "key", key: "a/b", upstream: 1, downstream: 2 },
      { text: "group:g", kind: "group", group: "g", upstream: 0, downstream: 0 },
      { text: "tag:k=v", kind: "tag", tag: "k", value: "v", upstream: 0, downstream: 0 },
      { text: "tag:k", kind: "tag", tag: "k", value: undefined, upstream: 0, downstream: 0 },
      { text: "*", kind: "all" },
      { text: "x/*", kind: "prefix", prefix: "x", upstream: 0, downstream: 0 },
      { text: "+c", kind: "key", key: "c", upstream: "all", downstream: 0 },
    ]);
  });

  it("reads multi-digit depths", () => {
    expect(parseSelection("12+a+10")).toEqual([{ text: "12+a+10", kind: "key", key: "a", upstream: 12, downstream: 10 }]);
  });
});

describe("assetSelector", () => {
  it("resolves every expression over one graph built once: a hub with 100,000 consumers, their downstream and upstream", () => {
    const n = 100_000;
    const assets: SelectableAsset[] = [{ id: "hub", group: "core", tags: {}, deps: [] }];
    for (let i = 0; i < n; i++) assets.push({ id: `c${i}`, group: i % 2 ? "odd" : "even", tags: {}, deps: ["hub"] });
    const select = assetSelector(assets);
    const below = select("hub+");
    expect(below).toHaveLength(n + 1);
    expect([below[0], below[1], below[n]]).toEqual(["hub", "c0", `c${n - 1}`]);
    expect(select("+c99999")).toEqual(["hub", "c99999"]);
    expect(select("group:odd")).toHaveLength(n / 2);
    expect(select("c5 c7")).toEqual(selectAssets(assets, "c7, c5"));
  });
});
