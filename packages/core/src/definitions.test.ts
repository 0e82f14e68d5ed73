import pl from "nodejs-polars";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { asset, input } from "./asset.js";
import { definitions, isDefinitions } from "./definitions.js";
import { BatonError, BatonValidationError } from "./errors.js";
import { dailyPartitions, hourlyPartitions, staticPartitions, type PartitionsDefinition } from "./partitions/index.js";
import { resource, env } from "./resource.js";
import { schedule } from "./schedule.js";
import { sensor } from "./sensor.js";
import { onlyValidationError, thrownSync, validationErrors } from "./__tests__/helpers.js";

const THIS_FILE = fileURLToPath(import.meta.url);
const df = () => pl.DataFrame({ x: [1] });
const leaf = (key: string, extra: { partitions?: PartitionsDefinition; group?: string; resources?: string[] } = {}) => asset({ key, compute: df, ...extra });
const skip = () => ({ skip: "nothing new" });

/** Every definition error must say where (asset and file) and how to fix it. */
function expectLocated(e: BatonError, assetId: string | undefined): void {
  expect(e).toBeInstanceOf(BatonError);
  if (assetId !== undefined) {
    expect(e.asset).toBe(assetId);
    expect(e.message).toContain(`asset "${assetId}"`);
  }
  // The file and the line of the declaration (issue 10, defect 9), as an editor opens them.
  expect(e.file).toMatch(new RegExp(`^${THIS_FILE.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(:\\d+)?$`));
  expect(e.message).toContain(`(${e.file})`);
  expect(e.hint).toEqual(expect.any(String));
  expect(e.hint!.length).toBeGreaterThan(5);
  expect(e.message).toContain(`fix: ${e.hint}`);
}

describe("definitions(): a valid graph", () => {
  it("returns the container with assets in dependency order (ties keep declaration order)", () => {
    const orders = leaf("sales/orders");
    const customers = leaf("customers");
    const metrics = asset({ key: "customer_metrics", inputs: { orders, customers }, compute: df });
    const report = asset({ key: "report", deps: [metrics], compute: () => undefined, output: "none" });
    const defs = definitions({ assets: [report, metrics, orders, customers] });
    expect(isDefinitions(defs)).toBe(true);
    expect(isDefinitions({ kind: "assets" })).toBe(false);
    expect(defs.assets.map((a) => a.id)).toEqual(["sales/orders", "customers", "customer_metrics", "report"]);
    expect(defs.upstream("customer_metrics")).toEqual(["sales/orders", "customers"]);
    expect(defs.upstream("report")).toEqual(["customer_metrics"]);
    expect(defs.downstream("sales/orders")).toEqual(["customer_metrics"]);
    expect(defs.downstream("report")).toEqual([]);
    expect(defs.asset("customers")).toBe(customers);
    expect(defs.select("+customer_metrics")).toEqual(["sales/orders", "customers", "customer_metrics"]);
    expect(defs.resources).toEqual({});
    expect(defs.schedules).toEqual([]);
    expect(defs.sensors).toEqual([]);
  });

  it("asset(id) of an unknown id is UNKNOWN_SELECTION with a suggestion", () => {
    const defs = definitions({ assets: [leaf("orders")] });
    const e = thrownSync(() => defs.asset("ordrs"));
    expect(e).toBeInstanceOf(BatonError);
    expect(e.code).toBe("UNKNOWN_SELECTION");
    expect(e.message).toContain('"ordrs"');
    expect(e.hint).toContain('did you mean "orders"?');
  });

  it("accepts an unpartitioned reader of a partitioned asset (all partitions) and explicit mappings", () => {
    const daily = leaf("daily", { partitions: dailyPartitions({ start: "2024-01-01" }) });
    const hourly = leaf("hourly", { partitions: hourlyPartitions({ start: "2024-01-01T00:00" }) });
    const regions = leaf("regions", { partitions: staticPartitions(["eu", "us"]) });
    const total = asset({ key: "total", inputs: { daily }, compute: df });
    const rollup = asset({ key: "rollup", inputs: { hourly }, partitions: dailyPartitions({ start: "2024-01-01" }), compute: df });
    const everything = asset({
      key: "everything",
      inputs: { regions: input(regions, { partitionMapping: { type: "allPartitions" } }) },
      partitions: dailyPartitions({ start: "2024-01-01" }),
      compute: df,
    });
    expect(definitions({ assets: [daily, hourly, regions, total, rollup, everything] }).assets).toHaveLength(6);
  });
});

describe("definitions(): concurrency pools (issue 12)", () => {
  it("keeps the declared pools; an asset may name one", () => {
    const load = asset({ key: "load", pool: "warehouse", compute: df });
    const defs = definitions({ assets: [load, leaf("free")], pools: { warehouse: { limit: 2, description: "the DWH allows 2 sessions" }, other: { limit: 1 } } });
    expect(defs.pools).toEqual({ warehouse: { limit: 2, description: "the DWH allows 2 sessions" }, other: { limit: 1 } });
    expect(defs.asset("load").pool).toBe("warehouse");
    expect(definitions({ assets: [leaf("x")] }).pools).toEqual({});
  });

  it("an asset naming an undeclared pool names the asset, the pool, and says how to declare it", () => {
    const load = asset({ key: "load", pool: "warehouse", compute: df });
    const e = onlyValidationError(() => definitions({ assets: [load], pools: { lake: { limit: 1 } } }));
    expect(e.code).toBe("INVALID_DEFINITION");
    expect(e.message).toContain('pool "warehouse" is not declared in definitions({ pools })');
    expect(e.hint).toBe("add pools: { warehouse: { limit: N } } to definitions() (declared: lake)");
    expectLocated(e, "load");
  });

  it("a pool's name and limit are checked", () => {
    const errors = validationErrors(() => definitions({ assets: [leaf("x")], pools: { "bad name": { limit: 1 }, zero: { limit: 0 }, half: { limit: 1.5 } } }));
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringContaining('pool name "bad name" is not a pool name'),
      expect.stringContaining('pool "zero" has limit 0'),
      expect.stringContaining('pool "half" has limit 1.5'),
    ]);
    for (const e of errors) expect(e.hint).toEqual(expect.any(String));
  });
});

describe("definitions(): every validation error names the asset and file and carries a hint", () => {
  it("a dependency cycle prints the cycle", () => {
    const a = asset({ key: "a", inputs: { c: "c" }, compute: df });
    const b = asset({ key: "b", inputs: { a: "a" }, compute: df });
    const c = asset({ key: "c", inputs: { b }, compute: df });
    const e = onlyValidationError(() => definitions({ assets: [a, b, c] }));
    expect(e.code).toBe("CYCLE");
    expect(e.message).toContain("dependency cycle: a -> c -> b -> a");
    expectLocated(e, "a");
  });

  it("a self-dependency (through deps) is a cycle of one", () => {
    const self = asset({ key: "self", deps: ["self"], compute: df });
    const e = onlyValidationError(() => definitions({ assets: [self] }));
    expect(e.code).toBe("CYCLE");
    expect(e.message).toContain("dependency cycle: self -> self");
    expectLocated(e, "self");
  });

  it("an unknown input names the asset and the input and suggests the close key", () => {
    const orders = leaf("sales/orders");
    const metrics = asset({ key: "metrics", inputs: { orders: "sales/ordrs" }, compute: df });
    const e = onlyValidationError(() => definitions({ assets: [orders, metrics] }));
    expect(e.code).toBe("UNKNOWN_INPUT");
    expect(e.message).toContain('input "orders" names "sales/ordrs", which is not an asset in these definitions');
    expect(e.hint).toBe('did you mean "sales/orders"?');
    expectLocated(e, "metrics");
  });

  it("an unknown input with no close key lists the known assets; a key without its prefix is suggested", () => {
    const orders = leaf("sales/orders");
    const other = asset({ key: "other", inputs: { x: "warehouse_inventory" }, compute: df });
    const prefixless = asset({ key: "prefixless", inputs: { o: "orders" }, compute: df });
    const [e1, e2] = validationErrors(() => definitions({ assets: [orders, other, prefixless] }));
    expect(e1!.code).toBe("UNKNOWN_INPUT");
    expect(e1!.hint).toContain("known: sales/orders, other, prefixless");
    expectLocated(e1!, "other");
    expect(e2!.hint).toBe('did you mean "sales/orders"?');
    expectLocated(e2!, "prefixless");
  });

  it("an unknown ordering dep is reported like an unknown input", () => {
    const late = asset({ key: "late", deps: ["early"], compute: df });
    const e = onlyValidationError(() => definitions({ assets: [late] }));
    expect(e.code).toBe("UNKNOWN_INPUT");
    expect(e.message).toContain('dep names "early"');
    expectLocated(e, "late");
  });

  it("reading a side-effect asset as an input is refused, with deps as the fix", () => {
    const notify = asset({ key: "notify", compute: () => undefined, output: "none" });
    const reader = asset({ key: "reader", inputs: { n: notify }, compute: df });
    const e = onlyValidationError(() => definitions({ assets: [notify, reader] }));
    expect(e.code).toBe("UNKNOWN_INPUT");
    expect(e.message).toContain('declared output: "none"');
    expect(e.hint).toContain('list "notify" in deps');
    expectLocated(e, "reader");
  });

  it("a side-effect input is reported once: no partition mapping is checked against data that does not exist", () => {
    const notify = asset({ key: "notify", partitions: dailyPartitions({ start: "2024-01-01" }), compute: () => undefined, output: "none" });
    const reader = asset({ key: "reader", partitions: staticPartitions(["a"]), inputs: { n: notify }, compute: df });
    expect(validationErrors(() => definitions({ assets: [notify, reader] })).map((e) => e.code)).toEqual(["UNKNOWN_INPUT"]);
  });

  it("a duplicate key names the asset", () => {
    const e = onlyValidationError(() => definitions({ assets: [leaf("orders"), leaf("orders")] }));
    expect(e.code).toBe("DUPLICATE_KEY");
    expect(e.message).toContain("the key is declared twice");
    expectLocated(e, "orders");
  });

  it("a duplicate key names the file and line of both declarations (issue 10, defect 9)", () => {
    const first = asset({ key: "orders", compute: df });
    const second = asset({ key: "orders", compute: df });
    expect(first.file).toBe(THIS_FILE);
    expect(first.line).toEqual(expect.any(Number));
    expect(second.line).toBeGreaterThan(first.line!);
    const e = onlyValidationError(() => definitions({ assets: [first, second] }));
    expect(e.file).toBe(`${THIS_FILE}:${second.line}`);
    expect(e.message).toContain(`asset "orders" (${THIS_FILE}:${second.line}): the key is declared twice (also at ${THIS_FILE}:${first.line})`);
  });

  it("partitions that cannot be mapped (static upstream, daily downstream, no mapping)", () => {
    const regions = leaf("regions", { partitions: staticPartitions(["eu", "us"]) });
    const daily = asset({ key: "daily_report", inputs: { regions }, partitions: dailyPartitions({ start: "2024-01-01" }), compute: df });
    const e = onlyValidationError(() => definitions({ assets: [regions, daily] }));
    expect(e.code).toBe("UNMAPPABLE_PARTITIONS");
    expect(e.message).toContain('input "regions" from "regions"');
    expect(e.message).toMatch(/static/);
    expect(e.message).toMatch(/daily/);
    expect(e.hint).toContain("partitionMapping");
    expectLocated(e, "daily_report");
  });

  it("an explicit mapping that does not fit (identity between daily and hourly) is also unmappable", () => {
    const hourly = leaf("hourly", { partitions: hourlyPartitions({ start: "2024-01-01T00:00" }) });
    const daily = asset({
      key: "daily",
      inputs: { hourly: input(hourly, { partitionMapping: { type: "identity" } }) },
      partitions: dailyPartitions({ start: "2024-01-01" }),
      compute: df,
    });
    const e = onlyValidationError(() => definitions({ assets: [hourly, daily] }));
    expect(e.code).toBe("UNMAPPABLE_PARTITIONS");
    expectLocated(e, "daily");
  });

  it("an invalid partitions definition (not built with the helpers) names the asset", () => {
    const bad = leaf("bad", { partitions: { type: "time", grain: "daily", start: "2024-01-01T05:00", timezone: "UTC", format: "%Y-%m-%d" } });
    const e = onlyValidationError(() => definitions({ assets: [bad] }));
    expect(e.code).toBe("INVALID_PARTITIONS");
    expect(e.message).toContain("not on a daily window boundary");
    expectLocated(e, "bad");
  });

  it("hostile static keys written by hand (not through staticPartitions()) name the asset, the file and a fix", () => {
    // The audit's reproduction: "ns" with key "." and "ns/child" with key ".." shared one folder.
    const ns = leaf("ns", { partitions: { type: "static", keys: ["."] } });
    const child = leaf("ns/child", { partitions: { type: "static", keys: [".."] } });
    const reserved = leaf("reserved", { partitions: { type: "static", keys: ["__unpartitioned__"] } });
    const newline = leaf("newline", { partitions: { type: "static", keys: ["x\ny"] } });
    const errors = validationErrors(() => definitions({ assets: [ns, child, reserved, newline] }));
    expect(errors.map((e) => e.asset)).toEqual(["ns", "ns/child", "reserved", "newline"]);
    for (const e of errors) {
      expect(e.code).toBe("INVALID_PARTITIONS");
      expectLocated(e, e.asset);
    }
    expect(errors[0]!.message).toContain('partitions: static partition key "." is reserved');
    expect(errors[1]!.message).toContain('static partition key ".." is reserved');
    expect(errors[3]!.message).toContain("control character or line break");
    expect(errors[3]!.hint).toContain("Dagster");
  });

  it("schedule and sensor errors name the file:line of their declaration (issue 10, defect 9)", () => {
    const s = schedule({ name: "bad cron", cron: "@daily", selection: "x" });
    const t = sensor({ name: "watcher", selection: "x", evaluate: skip, minimumIntervalSeconds: 0 });
    expect(s.file).toBe(THIS_FILE);
    expect(t.line).toBeGreaterThan(s.line!);
    const errors = validationErrors(() => definitions({ assets: [leaf("x")], schedules: [s], sensors: [t] }));
    expect(errors.map((e) => e.file)).toEqual([`${THIS_FILE}:${s.line}`, `${THIS_FILE}:${t.line}`]);
  });

  it("a resource an asset needs but nobody provides", () => {
    const warehouse = resource({ config: { url: env("WAREHOUSE_URL") }, create: ({ url }) => ({ url }) });
    const a = leaf("loads", { resources: ["warehouse", "s3"] });
    const e = onlyValidationError(() => definitions({ assets: [a], resources: { warehouse } }));
    expect(e.code).toBe("MISSING_RESOURCE");
    expect(e.message).toContain('asset "loads" needs resource "s3", which nobody provides');
    expect(e.hint).toContain("add s3: resource({...}) to definitions({ resources }) (provided: warehouse)");
    expectLocated(e, "loads");
  });

  it("a resource a sensor needs but nobody provides names the sensor and its file", () => {
    const s = sensor({ name: "new_files", selection: "orders", resources: ["bucket"], evaluate: skip });
    const e = onlyValidationError(() => definitions({ assets: [leaf("orders")], sensors: [s] }));
    expect(e.code).toBe("MISSING_RESOURCE");
    expect(e.message).toContain('sensor "new_files" needs resource "bucket"');
    expectLocated(e, undefined);
  });

  it("an invalid cron names the schedule", () => {
    const s = schedule({ name: "nightly", cron: "61 * * * *", selection: "orders" });
    const e = onlyValidationError(() => definitions({ assets: [leaf("orders")], schedules: [s] }));
    expect(e.code).toBe("INVALID_CRON");
    expect(e.message).toContain('schedule "nightly"');
    expect(e.message).toContain("61 * * * *");
    expectLocated(e, undefined);
  });

  it("an invalid timezone names the schedule", () => {
    const s = schedule({ name: "nightly", cron: "0 6 * * *", timezone: "Mars/Olympus_Mons", selection: "orders" });
    const e = onlyValidationError(() => definitions({ assets: [leaf("orders")], schedules: [s] }));
    expect(e.code).toBe("INVALID_TIMEZONE");
    expect(e.message).toContain('schedule "nightly"');
    expect(e.message).toContain("Mars/Olympus_Mons");
    expectLocated(e, undefined);
  });

  it("an unknown selection in a schedule or a sensor", () => {
    const s = schedule({ name: "nightly", cron: "@daily", selection: "ordres" });
    const t = sensor({ name: "watch", selection: "group:nope", evaluate: skip });
    const [e1, e2] = validationErrors(() => definitions({ assets: [leaf("orders")], schedules: [s], sensors: [t] }));
    expect(e1!.code).toBe("UNKNOWN_SELECTION");
    expect(e1!.message).toContain('schedule "nightly"');
    expect(e1!.message).toContain('"ordres"');
    expect(e1!.hint).toContain('"orders"');
    expectLocated(e1!, undefined);
    expect(e2!.code).toBe("UNKNOWN_SELECTION");
    expect(e2!.message).toContain('sensor "watch"');
    expectLocated(e2!, undefined);
  });

  it("duplicate schedule and sensor names (one namespace)", () => {
    const s1 = schedule({ name: "nightly", cron: "@daily", selection: "orders" });
    const s2 = schedule({ name: "nightly", cron: "@hourly", selection: "orders" });
    const t = sensor({ name: "nightly", selection: "orders", evaluate: skip });
    const errors = validationErrors(() => definitions({ assets: [leaf("orders")], schedules: [s1, s2], sensors: [t] }));
    expect(errors.map((e) => e.code)).toEqual(["DUPLICATE_KEY", "DUPLICATE_KEY"]);
    expect(errors[0]!.message).toContain('schedule name "nightly" is used twice');
    expect(errors[1]!.message).toContain('sensor name "nightly" is used twice');
    for (const e of errors) expectLocated(e, undefined);
  });

  it("schedule and sensor names must be identifiers; a sensor interval must be positive", () => {
    const s = schedule({ name: "nightly-run", cron: "@daily", selection: "orders" });
    const t = sensor({ name: "watch", selection: "orders", minimumIntervalSeconds: 0, evaluate: skip });
    const errors = validationErrors(() => definitions({ assets: [leaf("orders")], schedules: [s], sensors: [t] }));
    expect(errors.map((e) => e.code)).toEqual(["INVALID_DEFINITION", "INVALID_DEFINITION"]);
    expect(errors[0]!.message).toContain('"nightly-run" is not an identifier');
    expect(errors[1]!.message).toContain("minimumIntervalSeconds must be > 0");
    for (const e of errors) expectLocated(e, undefined);
  });

  it("a schedule's targets must agree on their partitions, and static partitions need a key", () => {
    const daily = leaf("daily", { partitions: dailyPartitions({ start: "2024-01-01" }), group: "mixed" });
    const hourly = leaf("hourly", { partitions: hourlyPartitions({ start: "2024-01-01T00:00" }), group: "mixed" });
    const regions = leaf("regions", { partitions: staticPartitions(["eu", "us"]) });
    const plain = leaf("plain");
    const mixed = schedule({ name: "mixed", cron: "@daily", selection: "group:mixed" });
    const noKey = schedule({ name: "no_key", cron: "@daily", selection: "regions" });
    const badKey = schedule({ name: "bad_key", cron: "@daily", selection: "regions", partition: { type: "static", key: "asia" } });
    const needless = schedule({ name: "needless", cron: "@daily", selection: "plain", partition: { type: "lastComplete" } });
    const errors = validationErrors(() => definitions({ assets: [daily, hourly, regions, plain], schedules: [mixed, noKey, badKey, needless] }));
    expect(errors.map((e) => e.code)).toEqual(["UNMAPPABLE_PARTITIONS", "INVALID_DEFINITION", "UNKNOWN_PARTITION", "INVALID_DEFINITION"]);
    expect(errors[0]!.message).toContain('schedule "mixed" targets assets with different partitions');
    expect(errors[1]!.message).toContain('schedule "no_key" targets static partitions but names no key');
    expect(errors[2]!.message).toContain('unknown partition "asia"');
    expect(errors[2]!.hint).toContain("eu, us");
    expect(errors[3]!.message).toContain('schedule "needless" sets a partition but none of its assets is partitioned');
    for (const e of errors) expectLocated(e, undefined);
  });

  it("collects every problem in one error whose message lists them all", () => {
    const a = asset({ key: "a", inputs: { x: "missing" }, resources: ["nope"], compute: df });
    const err = thrownSync(() => definitions({ assets: [a, leaf("a")] }));
    expect(err).toBeInstanceOf(BatonValidationError);
    const errors = (err as unknown as BatonValidationError).errors;
    expect(errors.map((e) => e.code)).toEqual(["DUPLICATE_KEY", "UNKNOWN_INPUT", "MISSING_RESOURCE"]);
    expect(err.message.startsWith("3 problems in the Baton definitions:\n- ")).toBe(true);
    for (const e of errors) expect(err.message).toContain(e.message.split("\n")[0]!);
  });
});
