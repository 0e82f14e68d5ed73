import pl from "nodejs-polars";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import { asset } from "./asset.js";
import { definitions } from "./definitions.js";
import { materialize } from "./executor/materialize.js";
import { LocalIOStore } from "./io/store.js";
import { schedule } from "./schedule.js";
import { sensor } from "./sensor.js";
import { downstream, group, key, resolveSelection, tag, upstream, type Selection, type SelectionHelper } from "./selection.js";
import { caught, cleanupTempDirs, tempDir } from "./__tests__/helpers.js";

afterEach(cleanupTempDirs);

const frame = () => pl.DataFrame({ x: [1, 2] });
// raw/orders ─> orders ─> metrics ─> dashboard ; lonely (group other)
const rawOrders = asset({ key: "raw/orders", group: "raw", tags: { tier: "bronze" }, compute: frame });
const orders = asset({ key: "orders", group: "sales", tags: { tier: "silver" }, inputs: { rawOrders }, compute: frame });
const metrics = asset({ key: "metrics", group: "sales", tags: { tier: "gold" }, inputs: { orders }, compute: frame });
const dashboard = asset({ key: "dashboard", group: "reports", inputs: { metrics }, compute: frame });
const lonely = asset({ key: "lonely", group: "other", compute: frame });
const all = [rawOrders, orders, metrics, dashboard, lonely];
const skip = () => ({ skip: "nothing new" });

describe("selection helpers resolve to the string syntax", () => {
  it("writes each helper as its term", () => {
    expect(resolveSelection(metrics)).toBe("metrics");
    expect(resolveSelection(rawOrders)).toBe("raw/orders");
    expect(resolveSelection(upstream(metrics))).toBe("+metrics");
    expect(resolveSelection(upstream(metrics, 1))).toBe("1+metrics");
    expect(resolveSelection(downstream(orders))).toBe("orders+");
    expect(resolveSelection(downstream(orders, 2))).toBe("orders+2");
    expect(resolveSelection(downstream(upstream(metrics, 1)))).toBe("1+metrics+");
    expect(resolveSelection(upstream(group("sales")))).toBe("+group:sales");
    expect(resolveSelection(group("sales"))).toBe("group:sales");
    expect(resolveSelection(tag("tier"))).toBe("tag:tier");
    expect(resolveSelection(tag("tier", "gold"))).toBe("tag:tier=gold");
    expect(resolveSelection(key("raw/orders"))).toBe("raw/orders");
    expect(resolveSelection(key(["raw", "orders"]))).toBe("raw/orders");
    expect(resolveSelection(upstream("raw/orders", "all"))).toBe("+raw/orders");
    expect(resolveSelection(upstream(metrics, 0))).toBe("metrics");
  });

  it("joins arrays of strings, assets and helpers with spaces", () => {
    expect(resolveSelection([metrics, "group:raw", downstream(orders, 1), tag("tier", "gold")])).toBe("metrics group:raw orders+1 tag:tier=gold");
    expect(resolveSelection(["a", "b"])).toBe("a b");
    expect(resolveSelection("+metrics")).toBe("+metrics");
  });

  it("rejects what the string syntax cannot hold, naming the call", () => {
    expect(caught(() => upstream(metrics, -1))).toMatchObject({ code: "UNKNOWN_SELECTION", message: expect.stringContaining('upstream(…, -1): depth must be a whole number') });
    expect(caught(() => downstream(metrics, 1.5)).message).toContain("downstream(…, 1.5)");
    expect(caught(() => upstream(upstream(metrics))).message).toContain("upstream(+metrics): the term already reaches upstream");
    expect(caught(() => key("sales/*")).message).toContain('key("sales/*"): not an asset key');
    expect(caught(() => key("a b")).message).toContain("not an asset key");
    expect(caught(() => upstream("+metrics")).message).toContain('upstream("+metrics"): not an asset key');
    expect(caught(() => group("")).message).toContain('group(""): a group name is a non-empty string');
    expect(caught(() => group("a b")).code).toBe("UNKNOWN_SELECTION");
    expect(caught(() => tag("a=b")).message).toContain('tag("a=b")');
    expect(caught(() => tag("k", "two words")).message).toContain("cannot hold a tag value with spaces");
    expect(caught(() => resolveSelection([metrics, 42 as never])).message).toContain("a selection takes strings, assets and selection helpers, not 42");
    expect(caught(() => upstream({ kind: "check" } as never)).message).toContain('not an object (kind "check")');
  });
});

describe("schedules, sensors, materialize and definitions take asset objects and helpers", () => {
  it("resolves schedule and sensor selections, and definitions() selects them", () => {
    const nightly = schedule({ name: "nightly", cron: "0 6 * * *", selection: [upstream(metrics), lonely] });
    const watcher = sensor({ name: "watcher", selection: downstream(orders), evaluate: skip });
    expect(nightly.selection).toBe("+metrics lonely");
    expect(watcher.selection).toBe("orders+");
    const defs = definitions({ assets: all, schedules: [nightly], sensors: [watcher] });
    expect(defs.select(nightly.selection)).toEqual(["raw/orders", "orders", "metrics", "lonely"]);
    expect(defs.select(watcher.selection)).toEqual(["orders", "metrics", "dashboard"]);
    expect(defs.select(resolveSelection([group("sales"), tag("tier", "bronze")]))).toEqual(["raw/orders", "orders", "metrics"]);
  });

  it("definitions().select() takes assets, helpers and arrays as well as strings", () => {
    const defs = definitions({ assets: all });
    expect(defs.select(downstream(orders))).toEqual(["orders", "metrics", "dashboard"]);
    expect(defs.select(downstream(orders))).toEqual(defs.select("orders+"));
    expect(defs.select([upstream(orders), lonely])).toEqual(["raw/orders", "orders", "lonely"]);
    expect(defs.select(group("sales"))).toEqual(["orders", "metrics"]);
  });

  it("reports an asset object that is not in the definitions like an unknown key", () => {
    const elsewhere = asset({ key: "elsewhere", compute: frame });
    expect(() => definitions({ assets: all, schedules: [schedule({ name: "s", cron: "0 6 * * *", selection: elsewhere })] })).toThrow(/schedule "s"[\s\S]*no asset "elsewhere"/);
  });

  it("materializes an upstream() selection", async () => {
    const defs = definitions({ assets: all });
    const result = await materialize(defs, { selection: upstream(orders), store: new LocalIOStore(tempDir()), env: {} });
    expect(result.status).toBe("success");
    expect(Object.keys(result.assets)).toEqual(["raw/orders", "orders"]);
    const two = await materialize(defs, { selection: [metrics, lonely], store: new LocalIOStore(tempDir()), env: {} });
    expect(Object.keys(two.assets).sort()).toEqual(["lonely", "metrics"]);
  });
});

describe("selection types", () => {
  it("takes strings, assets, helpers and arrays of them, and nothing else", () => {
    expectTypeOf<Parameters<typeof schedule>[0]["selection"]>().toEqualTypeOf<Selection>();
    expectTypeOf<Parameters<typeof sensor>[0]["selection"]>().toEqualTypeOf<Selection>();
    expectTypeOf(upstream(metrics)).toEqualTypeOf<SelectionHelper>();
    expectTypeOf([metrics, "group:raw", group("x")] as const).toExtend<Selection>();
    const wrong = () => {
      // @ts-expect-error a number is not a selection
      resolveSelection(42);
      // @ts-expect-error a check is not a selection target
      upstream({ name: "not_empty" });
      // @ts-expect-error tag values are strings
      tag("tier", 3);
    };
    expect(typeof wrong).toBe("function");
  });
});
