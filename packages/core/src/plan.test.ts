import { describe, expect, it } from "vitest";
import { BatonError } from "./errors.js";
import { firstInRunOrder, planRun, planScheduleTick, type PlanRequest, type RunPlan } from "./plan.js";
import { evaluateScheduleTick, evaluateSensorTick } from "./ticks.js";
import { definitions } from "./definitions.js";
import { sensor } from "./sensor.js";
import { missingInputHint } from "./io/store.js";
import { PLAN_NOW, planDefs, events, sessions, countries } from "./__tests__/plan-definitions.js";

const plan = (request: Omit<PlanRequest, "now"> & { now?: Date }): RunPlan => planRun(planDefs, { now: PLAN_NOW, ...request });

function planError(request: Omit<PlanRequest, "now"> & { now?: Date }): BatonError {
  try {
    plan(request);
  } catch (e) {
    if (e instanceof BatonError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(request)} to fail`);
}

const keysOf = (p: RunPlan) => Object.fromEntries(p.assets.map((a) => [a.id, a.partitionKeys]));
const hours = (day: string) => Array.from({ length: 24 }, (_, h) => `${day}-${String(h).padStart(2, "0")}:00`);

describe("planRun: no partition key", () => {
  it("run everything: unpartitioned assets run, partitioned ones are skipped with a reason (not a failure)", () => {
    const p = plan({});
    expect(p.assets).toEqual([
      { id: "report", partitionKeys: null, ranges: null },
      { id: "countries", partitionKeys: null, ranges: null },
    ]);
    expect(p.skipped.map((s) => s.id)).toEqual(["raw/events", "sessions", "weekly_sessions", "by_region", "enriched", "audit", "region_copy", "daily_from_week", "letters", "odd_letters", "dst/hourly", "dst/daily"]);
    expect(p.skipped[1]).toEqual({ id: "sessions", reason: "partitioned by daily partitions from 2024-03-01 to 2024-04-01 (UTC); pass a partition key or range to run it" });
    expect(p.warnings).toEqual(['"report" reads "by_region", which this run skips: it reads the partitions already materialized']);
    expect(plan({ selection: "*" })).toEqual(p);
  });

  it("an explicit selection of a partitioned asset is a deterministic error that says how to pass a key", () => {
    const e = planError({ selection: "+enriched" });
    expect(e.code).toBe("UNKNOWN_PARTITION");
    expect(e.asset).toBe("raw/events");
    expect(e.problem).toContain("partitioned by hourly partitions");
    expect(e.hint).toContain("--partition KEY");
    expect(e.hint).toContain("partition_key");
  });

  it("an explicit selection of unpartitioned assets runs them", () => {
    expect(keysOf(plan({ selection: ["countries", "report"] }))).toEqual({ report: null, countries: null });
  });

  it("selection errors keep their code", () => {
    expect(planError({ selection: "sesions" }).code).toBe("UNKNOWN_SELECTION");
  });
});

describe("planRun: a key or a range", () => {
  it("the key is the leaf's; each selected upstream gets the keys mapped through its consumers' mappings", () => {
    const p = plan({ selection: "+sessions", partitionKey: "2024-03-10" });
    expect(keysOf(p)).toEqual({ "raw/events": hours("2024-03-10"), sessions: ["2024-03-10"] });
    expect(p.assets[0]!.ranges).toEqual([{ start: "2024-03-10-00:00", end: "2024-03-10-23:00" }]);
    expect(p.warnings).toEqual([]);
  });

  it("mapped keys of several consumers are unioned, in partition order", () => {
    const p = plan({ selection: "weekly_sessions sessions", partitionKey: "2024-03-11" });
    expect(keysOf(p).sessions).toEqual(["2024-03-11", "2024-03-12", "2024-03-13", "2024-03-14", "2024-03-15", "2024-03-16", "2024-03-17"]);
    const r = plan({ selection: "+weekly_sessions", partitionRange: { start: "2024-03-04", end: "2024-03-11" } });
    expect(keysOf(r).sessions).toHaveLength(14);
    expect(keysOf(r)["raw/events"]).toHaveLength(14 * 24);
    expect(r.assets[0]!.ranges).toEqual([{ start: "2024-03-04-00:00", end: "2024-03-17-23:00" }]);
  });

  it("an allPartitions consumer runs every partition of its upstream, with a warning", () => {
    const p = plan({ selection: "+by_region", partitionKey: "eu" });
    expect(keysOf(p).sessions).toHaveLength(31);
    expect(keysOf(p)["raw/events"]).toHaveLength(31 * 24);
    expect(p.warnings).toEqual(['"sessions": all 31 partitions run, because "by_region" reads every partition of it']);
  });

  it("identity between static partitions", () => {
    expect(keysOf(plan({ selection: "by_region region_copy", partitionKey: "us" }))).toEqual({ by_region: ["us"], region_copy: ["us"] });
  });

  it("unpartitioned assets in a keyed run run once, with a warning", () => {
    const p = plan({ selection: "+enriched", partitionKey: "2024-03-10" });
    expect(keysOf(p)).toEqual({ "raw/events": hours("2024-03-10"), sessions: ["2024-03-10"], countries: null, enriched: ["2024-03-10"] });
    expect(p.warnings).toEqual(['"countries" is not partitioned: it runs once, not per partition']);
  });

  it("a key when nothing selected is partitioned is an error", () => {
    const e = planError({ selection: "countries", partitionKey: "2024-03-10" });
    expect(e.code).toBe("UNKNOWN_PARTITION");
    expect(e.problem).toBe('"countries" is not partitioned; drop --partition');
    expect(planError({ selection: "countries report", partitionRange: { start: "a", end: "b" } }).problem).toBe('"report", "countries" are not partitioned; drop --partition-range');
  });

  it("a key that fits no leaf names the asset and the valid shape, and which assets it would fit", () => {
    const e = planError({ selection: "+sessions", partitionKey: "2024-03-10-05:00" });
    expect(e.code).toBe("UNKNOWN_PARTITION");
    expect(e.asset).toBe("sessions");
    expect(e.hint).toContain('valid keys run from "2024-03-01" to "2024-03-31" (daily windows, format "%Y-%m-%d", UTC)');
    expect(e.hint).toContain('it is a key of "raw/events"');
    // An ordering-only dep does not map keys: both are leaves, and "2024-03-10" is no region.
    const d = planError({ selection: "audit sessions", partitionKey: "2024-03-10" });
    expect(d.asset).toBe("audit");
    expect(d.hint).toContain('valid keys: "eu", "us", "apac"');
  });

  it("a mapped upstream key must be complete", () => {
    const e = planError({ selection: "daily_from_week weekly_sessions", partitionKey: "2024-03-05", now: new Date("2024-03-06T00:00:00Z") });
    expect(e.asset).toBe("weekly_sessions");
    expect(e.problem).toContain('unknown partition key "2024-03-04" (its window is not complete');
    expect(e.problem).toContain('which "daily_from_week" partition "2024-03-05" reads through its timeWindow mapping');
  });

  it("a key that maps to no upstream partition is UNMAPPABLE_PARTITIONS", () => {
    const e = planError({ selection: "daily_from_week weekly_sessions", partitionKey: "2024-03-02" });
    expect(e.code).toBe("UNMAPPABLE_PARTITIONS");
    expect(e.asset).toBe("weekly_sessions");
  });

  it("rejects a key and a range together, a reversed range and an incomplete key", () => {
    expect(planError({ selection: "sessions", partitionKey: "2024-03-10", partitionRange: { start: "2024-03-10", end: "2024-03-11" } }).problem).toContain("not both");
    expect(planError({ selection: "sessions", partitionRange: { start: "2024-03-11", end: "2024-03-10" } }).hint).toBe('swap them: start "2024-03-10", end "2024-03-11"');
    expect(planError({ selection: "sessions", partitionKey: "2024-03-10", now: new Date("2024-03-10T12:00:00Z") }).problem).toContain("not complete");
  });

  it("a non-contiguous set of keys becomes several ranges", () => {
    const p = plan({ selection: "by_region region_copy", partitionRange: { start: "eu", end: "apac" } });
    expect(p.assets[0]!.ranges).toEqual([{ start: "eu", end: "apac" }]);
    const odd = plan({ selection: "+odd_letters", partitionRange: { start: "a", end: "c" } });
    expect(keysOf(odd)).toEqual({ letters: ["a", "c"], odd_letters: ["a", "c"] });
    expect(odd.assets[0]!.ranges).toEqual([
      { start: "a", end: "a" },
      { start: "c", end: "c" },
    ]);
  });
});

describe("planScheduleTick", () => {
  it("runs the last complete window", () => {
    const t = planScheduleTick(planDefs, "nightly", new Date("2024-03-11T01:00:00Z"));
    expect(t).toMatchObject({ partitionKey: "2024-03-10", runKey: "2024-03-10", skipReason: null, targets: ["sessions"] });
    expect(keysOf(t.plan!)).toEqual({ sessions: ["2024-03-10"] });
    expect(planScheduleTick(planDefs, "nightly", new Date("2024-04-01T01:00:00Z")).partitionKey).toBe("2024-03-31");
    expect(planScheduleTick(planDefs, "nightly_lagged", new Date("2024-04-02T01:00:00Z")).partitionKey).toBe("2024-03-31");
  });

  it("skips, with a reason, after the partitions end and before the first one is complete", () => {
    const after = planScheduleTick(planDefs, "nightly", new Date("2024-04-02T01:00:00Z"));
    expect(after).toMatchObject({ plan: null, partitionKey: null, skipReason: 'the partitions of "sessions" end at 2024-04-01 (UTC): the schedule has nothing left to run' });
    expect(planScheduleTick(planDefs, "nightly_lagged", new Date("2024-04-03T01:00:00Z")).skipReason).toContain("end at 2024-04-01");
    expect(planScheduleTick(planDefs, "nightly", new Date("2024-03-01T01:00:00Z")).skipReason).toBe('no partition of "sessions" is complete at 2024-03-01T01:00:00.000Z');
    const ended = evaluateScheduleTick(planDefs, "ended_schedule", new Date("2024-11-20T12:00:00Z"));
    expect(ended.runRequests).toEqual([]);
    expect(ended.skipReason).toBe('the partitions of "dst/daily" end at 2024-11-05 (America/New_York): the schedule has nothing left to run');
  });

  it("static keys and unpartitioned targets", () => {
    expect(planScheduleTick(planDefs, "eu_only", new Date("2024-03-11T02:00:00Z"))).toMatchObject({ partitionKey: "eu", runKey: "eu" });
    const r = planScheduleTick(planDefs, "reports", new Date("2024-03-11T03:00:00Z"));
    expect(r).toMatchObject({ partitionKey: null, runKey: "2024-03-11T03:00:00.000Z" });
    expect(keysOf(r.plan!)).toEqual({ report: null, countries: null });
  });
});

describe("the missing-input hint recommends commands that plan", () => {
  /** The --select and --partition of each `baton materialize` command in a hint. */
  const commands = (hint: string) =>
    [...hint.matchAll(/baton materialize --select (\S+)(?: --partition (\S+))?/g)].map((m) => ({ selection: m[1]!, ...(m[2] !== undefined ? { partitionKey: m[2].replace(/,$/, "") } : {}) }));

  it("a day missing one of its hours: the day with its upstream, or the hour alone", () => {
    const hint = missingInputHint("raw/events", "2024-03-10-05:00", { asset: "sessions", partitionKey: "2024-03-10" });
    expect(hint).toContain("baton materialize --select +sessions --partition 2024-03-10");
    const found = commands(hint);
    expect(found).toHaveLength(2);
    for (const c of found) expect(() => plan(c)).not.toThrow();
    expect(keysOf(plan(found[0]!))["raw/events"]).toEqual(hours("2024-03-10"));
  });

  it("an unpartitioned reader and input, and a reader named only by its id", () => {
    for (const c of commands(missingInputHint("countries", undefined, { asset: "countries" }))) expect(() => plan(c)).not.toThrow();
    expect(missingInputHint("raw/events", "2024-03-10-05:00", "sessions")).toBe("materialize it first: baton materialize --select raw/events --partition 2024-03-10-05:00");
    expect(missingInputHint("my key", "a b", undefined)).toBe("materialize it first: baton materialize --select 'my key' --partition 'a b'");
  });
});

describe("firstInRunOrder", () => {
  it("reports the first failed asset in run order, not in the order they finished", () => {
    const p = plan({ selection: "+enriched", partitionKey: "2024-03-10" });
    expect(firstInRunOrder(p, ["enriched", "countries", "sessions"])).toBe("sessions");
    expect(firstInRunOrder(p, ["report"])).toBeUndefined();
  });
});

describe("sensor run requests are checked by the planner", () => {
  const withSensor = (partitionKey: string, selection = "+sessions") =>
    definitions({
      assets: [events, sessions, countries],
      sensors: [sensor({ name: "arrivals", selection, evaluate: () => ({ runRequests: [{ partitionKey }] }) })],
    });

  it("a day with its upstream hours is a valid request; a key no leaf has is not", async () => {
    const ok = await evaluateSensorTick(withSensor("2024-03-10"), "arrivals", { now: PLAN_NOW, env: {} });
    expect(ok.runRequests).toEqual([{ assets: ["raw/events", "sessions"], partitionKey: "2024-03-10", runKey: null, tags: {} }]);
    const bad = await evaluateSensorTick(withSensor("2024-03-10-05:00"), "arrivals", { now: PLAN_NOW, env: {} }).catch((e: unknown) => e as BatonError);
    expect(bad).toBeInstanceOf(BatonError);
    expect((bad as BatonError).message).toMatch(/^asset "sessions": sensor "arrivals" requested unknown partition key "2024-03-10-05:00"/);
    const unpartitioned = await evaluateSensorTick(withSensor("2024-03-10", "countries"), "arrivals", { now: PLAN_NOW, env: {} }).catch((e: unknown) => e as BatonError);
    expect((unpartitioned as BatonError).problem).toBe('sensor "arrivals" requested "countries" is not partitioned; drop --partition');
  });
});
