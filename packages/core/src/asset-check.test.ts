/** Standalone checks (CHECKS-CONTRACT.md §1–2): declaration, what definitions() collects and rejects, the manifest. */
import pl from "nodejs-polars";
import { describe, expect, it } from "vitest";
import { asset, input } from "./asset.js";
import { assetCheck } from "./asset-check.js";
import { allChecksOf, definitions } from "./definitions.js";
import { toManifest } from "./manifest/build.js";
import { dailyPartitions } from "./partitions/define.js";
import { expectValidManifest, thrownSync, validationErrors } from "./__tests__/helpers.js";

const df = () => pl.DataFrame({ id: [1] });
const customers = asset({ key: "customers", compute: df });
const orders = asset({ key: "sales/orders", inputs: { customers }, compute: df, checks: [{ name: "not_empty", check: (o) => o.height > 0 }] });
const daily = dailyPartitions({ start: "2024-01-01" });
const events = asset({ key: "events", partitions: daily, compute: df });
const rollup = asset({ key: "rollup", partitions: daily, compute: df });
const HASH = `sha256:${"ab".repeat(32)}`;

const ordersHaveCustomers = assetCheck({ name: "orders_have_customers", asset: orders, inputs: { customers }, severity: "warn", description: "every order's customer exists", check: () => true });
const rollupMatches = assetCheck({ name: "rollup_matches", asset: rollup, inputs: { events: input(events, { as: "arrow" }), all: input(events, { partitionMapping: { type: "allPartitions" } }) }, check: () => true });

describe("assetCheck", () => {
  it("resolves its target and inputs", () => {
    expect(ordersHaveCustomers).toMatchObject({ kind: "assetCheck", name: "orders_have_customers", assetId: "sales/orders", severity: "warn", description: "every order's customer exists" });
    expect(ordersHaveCustomers.inputs).toEqual([{ name: "customers", key: ["customers"], as: undefined, partitionMapping: undefined }]);
    expect(ordersHaveCustomers.file).toMatch(/asset-check\.test\.ts$/);
    expect(assetCheck({ name: "plain", asset: orders, check: () => true }).severity).toBe("error");
  });

  it("rejects a target that is not an asset, a bad name and a bad severity", () => {
    expect(thrownSync(() => assetCheck({ name: "x", asset: "sales/orders" as never, check: () => true })).problem).toMatch(/check "x": asset is "sales\/orders", not an asset object/);
    expect(thrownSync(() => assetCheck({ name: "not a name", asset: orders, check: () => true })).code).toBe("INVALID_DEFINITION");
    expect(thrownSync(() => assetCheck({ name: "x", asset: orders, severity: "fatal" as never, check: () => true })).problem).toMatch(/severity "fatal"/);
  });

  it("an input that names no asset is INVALID_DEFINITION naming the check, as an unknown asset is (one code for a check's inputs)", () => {
    const e = thrownSync(() => assetCheck({ name: "keyed", asset: orders, inputs: { x: "bad key" }, check: () => true }));
    expect([e.code, e.asset]).toEqual(["INVALID_DEFINITION", "sales/orders"]);
    expect(e.problem).toMatch(/^check "keyed": input "x" does not name an asset: invalid asset key "bad key"/);
  });
});

describe("definitions({ checks })", () => {
  it("collects the checks with their target and input assets", () => {
    const defs = definitions({ assets: [], checks: [ordersHaveCustomers, rollupMatches, ordersHaveCustomers] });
    expect(defs.assets.map((a) => a.id).sort()).toEqual(["customers", "events", "rollup", "sales/orders"]);
    expect(defs.checks.map((c) => c.name)).toEqual(expect.arrayContaining(["orders_have_customers", "rollup_matches"]));
    expect(defs.checks).toHaveLength(2);
    expect(defs.checksOf("sales/orders")).toEqual([ordersHaveCustomers]);
    expect(defs.checksOf("customers")).toEqual([]);
    // Every check of an asset, inline then standalone: the one list the manifest, the CLI and the steps use.
    expect(allChecksOf(defs, "sales/orders").map((c) => [c.name, c.severity, c.standalone, c.inputs.map((i) => i.name)])).toEqual([
      ["not_empty", "error", false, []],
      ["orders_have_customers", "warn", true, ["customers"]],
    ]);
    expect(allChecksOf(defs, "customers")).toEqual([]);
    // A check adds no edge to the asset graph: it blocks nothing.
    expect(defs.downstream("sales/orders")).toEqual([]);
  });

  it("a name used twice on one asset, inline or standalone, is DUPLICATE_KEY naming both", () => {
    const again = assetCheck({ name: "orders_have_customers", asset: orders, check: () => true });
    const inline = assetCheck({ name: "not_empty", asset: orders, check: () => true });
    const errors = validationErrors(() => definitions({ assets: [orders], checks: [ordersHaveCustomers, again, inline] }));
    expect(errors.map((e) => [e.code, e.asset, e.problem])).toEqual([
      ["DUPLICATE_KEY", "sales/orders", 'asset "sales/orders" has two checks named "orders_have_customers"'],
      ["DUPLICATE_KEY", "sales/orders", 'asset "sales/orders" has two checks named "not_empty"'],
    ]);
  });

  it("an input that is its own target, an unknown asset or a side-effect asset is INVALID_DEFINITION", () => {
    const notify = asset({ key: "notify", output: "none", compute: () => undefined });
    const checks = [
      assetCheck({ name: "itself", asset: orders, inputs: { orders }, check: () => true }),
      assetCheck({ name: "unknown", asset: orders, inputs: { x: "sales/ordres" }, check: () => true }),
      assetCheck({ name: "side", asset: orders, inputs: { notify }, check: () => true }),
    ];
    const errors = validationErrors(() => definitions({ assets: [orders], checks }));
    expect(errors.map((e) => [e.code, e.problem])).toEqual([
      ["INVALID_DEFINITION", 'check "itself": input "orders" is its own target "sales/orders"'],
      ["INVALID_DEFINITION", 'check "unknown": input "x" names "sales/ordres", which is not an asset in these definitions'],
      ["INVALID_DEFINITION", 'check "side": input "notify" reads "notify", which is declared output: "none"'],
    ]);
    expect(errors[1]!.hint).toMatch(/did you mean "sales\/orders"/);
  });

  it("each error is located at the check's declaration, not its target's", () => {
    const unknown = assetCheck({ name: "unknown", asset: orders, inputs: { x: "sales/ordres" }, check: () => true });
    const [e] = validationErrors(() => definitions({ assets: [orders], checks: [unknown] }));
    expect(e!.file).toBe(`${unknown.file}:${unknown.line}`);
  });

  it("an input whose partitions cannot map to the target's is UNMAPPABLE_PARTITIONS", () => {
    const plain = asset({ key: "plain", inputs: { events: input(events, { partitionMapping: { type: "allPartitions" } }) }, compute: df });
    const bad = assetCheck({ name: "bad", asset: plain, inputs: { events: input(events, { partitionMapping: { type: "timeWindow" } }) }, check: () => true });
    expect(validationErrors(() => definitions({ assets: [plain], checks: [bad] })).map((e) => e.code)).toEqual(["UNMAPPABLE_PARTITIONS"]);
  });
});

describe("the manifest's checks", () => {
  it("lists inline checks (standalone false, no deps), then standalone ones with their deps relative to the target", () => {
    const defs = definitions({ assets: [orders], checks: [ordersHaveCustomers, rollupMatches] });
    const m = expectValidManifest(toManifest(defs, { module: "/p/d.mjs", moduleHash: HASH, manifestDir: "/p" }));
    const byId = Object.fromEntries(m.assets.map((a) => [a.id, a]));
    expect(byId["sales/orders"]!.checks).toEqual([
      { name: "not_empty", description: null, severity: "error", standalone: false, deps: [] },
      { name: "orders_have_customers", description: "every order's customer exists", severity: "warn", standalone: true, deps: [{ id: "customers", key: ["customers"], input: "customers", partitionMapping: null }] },
    ]);
    expect(byId.rollup!.checks).toEqual([
      {
        name: "rollup_matches",
        description: null,
        severity: "error",
        standalone: true,
        deps: [
          { id: "events", key: ["events"], input: "events", partitionMapping: { type: "identity" } },
          { id: "events", key: ["events"], input: "all", partitionMapping: { type: "allPartitions" } },
        ],
      },
    ]);
    // The target is not among its check's deps, and the asset's own deps are unchanged.
    expect(byId.rollup!.deps).toEqual([]);
  });
});
