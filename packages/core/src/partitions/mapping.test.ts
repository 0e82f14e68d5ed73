import { describe, expect, it } from "vitest";
import { dailyPartitions, hourlyPartitions, monthlyPartitions, staticPartitions, weeklyPartitions } from "./define.js";
import { defaultMapping, mappingProblem, samePartitions, upstreamKeys } from "./mapping.js";
import type { PartitionMapping } from "./types.js";
import { caught } from "../__tests__/helpers.js";


const daily = dailyPartitions({ start: "2024-01-01" });
const weekly = weeklyPartitions({ start: "2024-01-01" });
const regions = staticPartitions(["eu", "us", "apac"]);
const identity: PartitionMapping = { type: "identity" };
const timeWindow: PartitionMapping = { type: "timeWindow" };
const all: PartitionMapping = { type: "allPartitions" };
const now = new Date("2024-03-01T00:00:00Z");

describe("samePartitions", () => {
  it("compares definitions by value", () => {
    expect(samePartitions(daily, dailyPartitions({ start: "2024-01-01" }))).toBe(true);
    expect(samePartitions(daily, dailyPartitions({ start: "2024-01-01T00:00" }))).toBe(true);
    expect(samePartitions(daily, dailyPartitions({ start: "2024-01-02" }))).toBe(false);
    expect(samePartitions(daily, dailyPartitions({ start: "2024-01-01", end: "2025-01-01" }))).toBe(false);
    expect(samePartitions(daily, dailyPartitions({ start: "2024-01-01", timezone: "Europe/Paris" }))).toBe(false);
    expect(samePartitions(daily, dailyPartitions({ start: "2024-01-01", format: "%Y%m%d" }))).toBe(false);
    expect(samePartitions(weekly, { type: "time", grain: "weekly", start: "2024-01-01", timezone: "UTC", format: "%Y-%m-%d" })).toBe(true);
    expect(samePartitions(regions, staticPartitions(["eu", "us", "apac"]))).toBe(true);
    expect(samePartitions(regions, staticPartitions(["us", "eu", "apac"]))).toBe(false);
    expect(samePartitions(regions, daily)).toBe(false);
    expect(samePartitions(undefined, undefined)).toBe(true);
    expect(samePartitions(undefined, daily)).toBe(false);
  });
});

describe("defaultMapping", () => {
  it("reads a whole unpartitioned upstream", () => {
    expect(defaultMapping(daily, undefined)).toBeUndefined();
    expect(defaultMapping(undefined, undefined)).toBeUndefined();
  });

  it("reads every partition into an unpartitioned downstream", () => {
    expect(defaultMapping(undefined, daily)).toEqual(all);
    expect(defaultMapping(undefined, regions)).toEqual(all);
  });

  it("maps equal definitions one to one", () => {
    expect(defaultMapping(daily, dailyPartitions({ start: "2024-01-01" }))).toEqual(identity);
    expect(defaultMapping(regions, staticPartitions(["eu", "us", "apac"]))).toEqual(identity);
  });

  it("maps any two time definitions by window", () => {
    expect(defaultMapping(weekly, daily)).toEqual(timeWindow);
    expect(defaultMapping(daily, dailyPartitions({ start: "2024-01-01", timezone: "Europe/Paris" }))).toEqual(timeWindow);
    expect(defaultMapping(daily, dailyPartitions({ start: "2023-01-01" }))).toEqual(timeWindow);
  });

  it("has no default between static and time or two static lists", () => {
    expect(defaultMapping(regions, daily)).toBeUndefined();
    expect(defaultMapping(daily, regions)).toBeUndefined();
    expect(defaultMapping(staticPartitions(["eu"]), regions)).toBeUndefined();
  });
});

describe("mappingProblem", () => {
  it("has none where a default exists", () => {
    expect(mappingProblem(daily, undefined, undefined)).toBeUndefined();
    expect(mappingProblem(undefined, daily, undefined)).toBeUndefined();
    expect(mappingProblem(weekly, daily, undefined)).toBeUndefined();
  });

  it("says how to fix a missing mapping", () => {
    const p = mappingProblem(regions, daily, undefined) ?? "";
    expect(p).toContain('no default partition mapping from downstream static partitions ["eu", "us", "apac"] to upstream daily partitions from 2024-01-01 (UTC)');
    expect(p).toContain('declare partitionMapping: { type: "allPartitions" } on the input, or align the partitions');
    expect(mappingProblem(staticPartitions(["eu"]), regions, undefined)).toContain("no default partition mapping");
  });

  it("accepts allPartitions everywhere", () => {
    for (const [down, up] of [
      [regions, daily],
      [daily, regions],
      [undefined, daily],
      [daily, undefined],
    ] as const) {
      expect(mappingProblem(down, up, all)).toBeUndefined();
    }
  });

  it("checks identity", () => {
    expect(mappingProblem(daily, dailyPartitions({ start: "2024-01-01" }), identity)).toBeUndefined();
    expect(mappingProblem(staticPartitions(["us", "eu"]), regions, identity)).toBeUndefined();
    expect(mappingProblem(staticPartitions(["us", "mars", "moon"]), regions, identity)).toContain('downstream keys "mars", "moon" do not exist upstream');
    expect(mappingProblem(weekly, daily, identity)).toContain('differs from upstream daily partitions from 2024-01-01 (UTC); use partitionMapping: { type: "timeWindow" }');
    expect(mappingProblem(regions, daily, identity)).toContain("align the partitions");
    expect(mappingProblem(undefined, daily, identity)).toContain("downstream unpartitioned differs");
  });

  it("checks timeWindow", () => {
    expect(mappingProblem(weekly, daily, timeWindow)).toBeUndefined();
    expect(mappingProblem(regions, daily, timeWindow)).toContain('but downstream static partitions ["eu", "us", "apac"] is not time-partitioned');
    expect(mappingProblem(daily, regions, timeWindow)).toContain("but upstream static partitions");
    expect(mappingProblem(daily, undefined, timeWindow)).toContain("but upstream unpartitioned is not time-partitioned");
  });

  it("rejects unknown mapping types (e.g. from JSON)", () => {
    expect(mappingProblem(daily, daily, { type: "latest" } as unknown as PartitionMapping)).toContain('unknown partition mapping {"type":"latest"}');
  });
});

describe("upstreamKeys", () => {
  it("maps identity to the same keys", () => {
    expect(upstreamKeys(daily, ["2024-01-03", "2024-01-02"], daily, identity, now)).toEqual(["2024-01-02", "2024-01-03"]);
    expect(upstreamKeys(staticPartitions(["apac", "eu"]), ["apac", "eu"], regions, identity)).toEqual(["eu", "apac"]);
  });

  it("reads the seven days of a week", () => {
    expect(upstreamKeys(weekly, ["2024-01-01"], daily, timeWindow, now)).toEqual([
      "2024-01-01",
      "2024-01-02",
      "2024-01-03",
      "2024-01-04",
      "2024-01-05",
      "2024-01-06",
      "2024-01-07",
    ]);
  });

  it("reads the enclosing week of a day", () => {
    expect(upstreamKeys(daily, ["2024-01-03"], weekly, timeWindow, now)).toEqual(["2024-01-01"]);
    expect(upstreamKeys(daily, ["2024-01-07"], weekly, timeWindow, now)).toEqual(["2024-01-01"]);
    expect(upstreamKeys(daily, ["2024-01-08"], weekly, timeWindow, now)).toEqual(["2024-01-08"]);
    expect(upstreamKeys(daily, ["2024-01-09", "2024-01-02", "2024-01-03"], weekly, timeWindow, now)).toEqual(["2024-01-01", "2024-01-08"]);
  });

  it("reads every week a month touches", () => {
    expect(upstreamKeys(monthlyPartitions({ start: "2024-01-01" }), ["2024-02-01"], weekly, timeWindow, now)).toEqual([
      "2024-01-29",
      "2024-02-05",
      "2024-02-12",
      "2024-02-19",
      "2024-02-26",
    ]);
  });

  it("reads 24 hours of a day", () => {
    const keys = upstreamKeys(daily, ["2024-01-02"], hourlyPartitions({ start: "2024-01-01T00:00" }), timeWindow, now);
    expect(keys).toHaveLength(24);
    expect(keys[0]).toBe("2024-01-02-00:00");
    expect(keys.at(-1)).toBe("2024-01-02-23:00");
  });

  it("reads 23 hours of a Paris spring-forward day", () => {
    const tz = "Europe/Paris";
    const keys = upstreamKeys(dailyPartitions({ start: "2024-01-01", timezone: tz }), ["2024-03-31"], hourlyPartitions({ start: "2024-01-01T00:00", timezone: tz }), timeWindow, now);
    expect(keys).toHaveLength(23);
    expect(keys).not.toContain("2024-03-31-02:00");
  });

  it("compares windows across timezones", () => {
    // UTC day 2024-01-02 = [01-02T00Z, 01-03T00Z) overlaps Paris 01-02 [01-01T23Z, 01-02T23Z) and Paris 01-03.
    const parisDaily = dailyPartitions({ start: "2024-01-01", timezone: "Europe/Paris" });
    expect(upstreamKeys(daily, ["2024-01-02"], parisDaily, timeWindow, now)).toEqual(["2024-01-02", "2024-01-03"]);
    // and back: Paris day 2024-01-02 overlaps UTC 01-01 (its last hour) and UTC 01-02.
    expect(upstreamKeys(parisDaily, ["2024-01-02"], daily, timeWindow, now)).toEqual(["2024-01-01", "2024-01-02"]);
  });

  it("keeps to the upstream start and end", () => {
    expect(upstreamKeys(weekly, ["2024-01-01"], dailyPartitions({ start: "2024-01-03" }), timeWindow, now)).toEqual([
      "2024-01-03",
      "2024-01-04",
      "2024-01-05",
      "2024-01-06",
      "2024-01-07",
    ]);
    expect(upstreamKeys(weekly, ["2024-01-01"], dailyPartitions({ start: "2023-12-01", end: "2024-01-03" }), timeWindow, now)).toEqual([
      "2024-01-01",
      "2024-01-02",
    ]);
    expect(upstreamKeys(weekly, ["2024-01-01"], dailyPartitions({ start: "2024-02-01" }), timeWindow, now)).toEqual([]);
  });

  it("reads every complete upstream partition for allPartitions", () => {
    expect(upstreamKeys(undefined, [], daily, all, new Date("2024-01-03T12:00:00Z"))).toEqual(["2024-01-01", "2024-01-02"]);
    expect(upstreamKeys(daily, ["2024-01-01"], regions, all)).toEqual(["eu", "us", "apac"]);
  });

  it("throws UNMAPPABLE_PARTITIONS with a fix for an impossible mapping", () => {
    const e = caught(() => upstreamKeys(regions, ["eu"], daily, identity, now));
    expect(e.code).toBe("UNMAPPABLE_PARTITIONS");
    expect(e.message).toContain("identity mapping needs the same partitions on both sides");
    expect(e.hint).toBe('declare partitionMapping: { type: "allPartitions" } on the input, or align the partitions');
    expect(caught(() => upstreamKeys(regions, ["eu"], daily, timeWindow, now)).code).toBe("UNMAPPABLE_PARTITIONS");
  });

  it("rejects downstream keys that do not exist", () => {
    expect(caught(() => upstreamKeys(weekly, ["2024-01-03"], daily, timeWindow, now)).code).toBe("UNKNOWN_PARTITION");
    const e = caught(() => upstreamKeys(regions, ["mars"], regions, identity));
    expect(e.code).toBe("UNKNOWN_PARTITION");
    expect(e.hint).toContain('"eu", "us", "apac"');
  });
});
