import { DateTime } from "luxon";
import { describe, expect, it } from "vitest";
import { dailyPartitions, hourlyPartitions, monthlyPartitions, staticPartitions, weeklyPartitions } from "./define.js";
import {
  assertPartitionKey,
  formatKey,
  hasPartitionKey,
  keyForTime,
  keysInRange,
  lastCompleteKey,
  parseKey,
  partitionKeys,
  sortKeys,
  timeWindowOf,
  timeWindowOfKeys,
} from "./time.js";
import type { TimeWindow } from "./types.js";
import { caught } from "../__tests__/helpers.js";


const at = (iso: string) => new Date(iso);
const iso = (w: TimeWindow) => [w.start.toISOString(), w.end.toISOString()];
const hours = (w: TimeWindow) => (w.end.getTime() - w.start.getTime()) / 3_600_000;

const daily = dailyPartitions({ start: "2024-01-01" });
const paris = "Europe/Paris";

describe("partitionKeys", () => {
  it("lists complete windows only", () => {
    expect(partitionKeys(daily, at("2024-01-04T00:00:00Z"))).toEqual(["2024-01-01", "2024-01-02", "2024-01-03"]);
    expect(partitionKeys(daily, at("2024-01-03T23:59:59.999Z"))).toEqual(["2024-01-01", "2024-01-02"]);
    expect(partitionKeys(daily, at("2024-01-01T12:00:00Z"))).toEqual([]);
    expect(partitionKeys(daily, at("2023-06-01T00:00:00Z"))).toEqual([]);
  });

  it("stops at the exclusive end", () => {
    const bounded = dailyPartitions({ start: "2024-01-01", end: "2024-01-03" });
    expect(partitionKeys(bounded, at("2030-01-01T00:00:00Z"))).toEqual(["2024-01-01", "2024-01-02"]);
  });

  it("returns static keys as declared", () => {
    expect(partitionKeys(staticPartitions(["us", "eu", "apac"]))).toEqual(["us", "eu", "apac"]);
  });

  it("counts windows in the partitions' timezone", () => {
    // Paris midnight of 2024-01-02 is 2024-01-01T23:00Z.
    const p = dailyPartitions({ start: "2024-01-01", timezone: paris });
    expect(partitionKeys(p, at("2024-01-01T23:00:00Z"))).toEqual(["2024-01-01"]);
    expect(partitionKeys(p, at("2024-01-01T22:59:59Z"))).toEqual([]);
  });

  it("skips the hour that a spring-forward removes", () => {
    const h = hourlyPartitions({ start: "2024-03-31T00:00", timezone: paris });
    // 04:00Z is 06:00 CEST; 02:00 local never happened.
    expect(partitionKeys(h, at("2024-03-31T04:00:00Z"))).toEqual(["2024-03-31-00:00", "2024-03-31-01:00", "2024-03-31-03:00", "2024-03-31-04:00", "2024-03-31-05:00"]);
  });

  it("gives each pass of the repeated fall-back hour its own key, the second with its UTC offset (as Dagster)", () => {
    const h = hourlyPartitions({ start: "2024-10-27T00:00", timezone: paris });
    expect(partitionKeys(h, at("2024-10-27T04:00:00Z"))).toEqual(["2024-10-27-00:00", "2024-10-27-01:00", "2024-10-27-02:00", "2024-10-27-02:00+0100", "2024-10-27-03:00", "2024-10-27-04:00"]);
    const ny = hourlyPartitions({ start: "2024-11-03T00:00", timezone: "America/New_York", format: "%Y%m%d%H" });
    expect(partitionKeys(ny, at("2024-11-03T08:00:00Z"))).toEqual(["2024110300", "2024110301", "2024110301-0500", "2024110302"]);
  });

  it("uses custom formats with literal text", () => {
    const p = dailyPartitions({ start: "2024-01-30", format: "day_%Y%m%d" });
    expect(partitionKeys(p, at("2024-02-02T00:00:00Z"))).toEqual(["day_20240130", "day_20240131", "day_20240201"]);
    const m = monthlyPartitions({ start: "2023-11-01", format: "%Y-%m" });
    expect(partitionKeys(m, at("2024-02-15T00:00:00Z"))).toEqual(["2023-11", "2023-12", "2024-01"]);
  });

  it("is fast enough for years of hourly partitions in a DST zone", () => {
    const h = hourlyPartitions({ start: "2020-01-01T00:00", timezone: paris });
    const started = performance.now();
    const keys = partitionKeys(h, at("2025-01-01T00:00:00Z"));
    expect(performance.now() - started).toBeLessThan(2000);
    // Elapsed hours of 1827 days (2020-2024), plus 2025-01-01 00:00 (which ends at 2025-01-01T00:00Z):
    // each spring-forward removes a wall hour, each fall-back repeats one ("02:00+0100").
    expect(keys.length).toBe(1827 * 24 + 1);
    expect(keys.filter((k) => k.endsWith("+0100"))).toHaveLength(5);
    expect(keys.at(-1)).toBe("2025-01-01-00:00");
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe("timeWindowOf", () => {
  it("gives half-open windows per grain", () => {
    expect(iso(timeWindowOf(daily, "2024-02-28"))).toEqual(["2024-02-28T00:00:00.000Z", "2024-02-29T00:00:00.000Z"]);
    expect(iso(timeWindowOf(weeklyPartitions({ start: "2024-01-01" }), "2024-01-08"))).toEqual(["2024-01-08T00:00:00.000Z", "2024-01-15T00:00:00.000Z"]);
    expect(iso(timeWindowOf(weeklyPartitions({ start: "2023-12-31", weekStartsOn: 0 }), "2024-01-07"))).toEqual([
      "2024-01-07T00:00:00.000Z",
      "2024-01-14T00:00:00.000Z",
    ]);
    expect(iso(timeWindowOf(monthlyPartitions({ start: "2024-01-01" }), "2024-02-01"))).toEqual(["2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"]);
    expect(iso(timeWindowOf(hourlyPartitions({ start: "2024-01-01T00:00" }), "2024-01-01-23:00"))).toEqual(["2024-01-01T23:00:00.000Z", "2024-01-02T00:00:00.000Z"]);
  });

  it("makes DST days 23 and 25 hours long", () => {
    const p = dailyPartitions({ start: "2024-01-01", timezone: paris });
    expect(iso(timeWindowOf(p, "2024-03-31"))).toEqual(["2024-03-30T23:00:00.000Z", "2024-03-31T22:00:00.000Z"]);
    expect(hours(timeWindowOf(p, "2024-03-31"))).toBe(23);
    expect(iso(timeWindowOf(p, "2024-10-27"))).toEqual(["2024-10-26T22:00:00.000Z", "2024-10-27T23:00:00.000Z"]);
    expect(hours(timeWindowOf(p, "2024-10-27"))).toBe(25);
    expect(hours(timeWindowOf(p, "2024-10-28"))).toBe(24);
  });

  it("makes the repeated hour two one-hour windows when clocks go back", () => {
    const h = hourlyPartitions({ start: "2024-10-27T00:00", timezone: paris });
    expect(iso(timeWindowOf(h, "2024-10-27-02:00"))).toEqual(["2024-10-27T00:00:00.000Z", "2024-10-27T01:00:00.000Z"]);
    expect(iso(timeWindowOf(h, "2024-10-27-02:00+0100"))).toEqual(["2024-10-27T01:00:00.000Z", "2024-10-27T02:00:00.000Z"]);
    expect(iso(timeWindowOf(h, "2024-10-27-03:00"))).toEqual(["2024-10-27T02:00:00.000Z", "2024-10-27T03:00:00.000Z"]);
    const ny = hourlyPartitions({ start: "2024-11-02T00:00", timezone: "America/New_York" });
    expect(iso(timeWindowOf(ny, "2024-11-03-01:00"))).toEqual(["2024-11-03T05:00:00.000Z", "2024-11-03T06:00:00.000Z"]);
    expect(iso(timeWindowOf(ny, "2024-11-03-01:00-0500"))).toEqual(["2024-11-03T06:00:00.000Z", "2024-11-03T07:00:00.000Z"]);
    // Only Dagster's exact form names the second pass: not another offset, not a wall hour that happens once.
    for (const key of ["2024-11-03-01:00-0400", "2024-11-03-01:00-05:00", "2024-11-03-02:00-0500", "2024-11-03-01:00Z", "2024-11-03-01:00 -0500"]) {
      expect(caught(() => timeWindowOf(ny, key)).code, key).toBe("UNKNOWN_PARTITION");
    }
    const daily = dailyPartitions({ start: "2024-11-01", timezone: "America/New_York" });
    expect(caught(() => timeWindowOf(daily, "2024-11-03-0500")).code).toBe("UNKNOWN_PARTITION");
  });

  it("handles monthly windows across a DST change", () => {
    const m = monthlyPartitions({ start: "2024-01-01", timezone: "America/New_York" });
    // EST (-5) at the start of March, EDT (-4) at the start of April.
    expect(iso(timeWindowOf(m, "2024-03-01"))).toEqual(["2024-03-01T05:00:00.000Z", "2024-04-01T04:00:00.000Z"]);
  });

  it("starts a day whose midnight is skipped when the clocks jump", () => {
    // Chile moved clocks from 00:00 to 01:00 on 2024-09-08.
    const p = dailyPartitions({ start: "2024-09-01", timezone: "America/Santiago" });
    expect(iso(timeWindowOf(p, "2024-09-08"))).toEqual(["2024-09-08T04:00:00.000Z", "2024-09-09T03:00:00.000Z"]);
  });

  it("rejects keys that are not window starts of the definition", () => {
    const weekly = weeklyPartitions({ start: "2024-01-01", end: "2024-03-04" });
    for (const key of ["2024-01-03", "2023-12-25", "2024-03-04", "2024-1-08", "2024-01-08x", "garbage"]) {
      const e = caught(() => timeWindowOf(weekly, key));
      expect(e.code, key).toBe("UNKNOWN_PARTITION");
      expect(e.message).toContain(JSON.stringify(key));
      expect(e.hint).toContain('from "2024-01-01" to "2024-02-26"');
    }
    const h = hourlyPartitions({ start: "2024-03-31T00:00", timezone: paris });
    expect(caught(() => timeWindowOf(h, "2024-03-31-02:00")).code).toBe("UNKNOWN_PARTITION");
    expect(caught(() => timeWindowOf(h, "2024-03-31-01:30")).code).toBe("UNKNOWN_PARTITION");
  });

  it("does not require the window to be complete", () => {
    expect(iso(timeWindowOf(daily, "2999-01-01"))).toEqual(["2999-01-01T00:00:00.000Z", "2999-01-02T00:00:00.000Z"]);
  });
});

describe("hasPartitionKey / assertPartitionKey", () => {
  const now = at("2024-01-04T06:00:00Z");

  it("accepts exactly the complete keys", () => {
    expect(hasPartitionKey(daily, "2024-01-01", now)).toBe(true);
    expect(hasPartitionKey(daily, "2024-01-03", now)).toBe(true);
    expect(hasPartitionKey(daily, "2024-01-04", now)).toBe(false); // still running
    expect(hasPartitionKey(daily, "2023-12-31", now)).toBe(false);
    expect(hasPartitionKey(daily, "2024-1-2", now)).toBe(false);
    expect(hasPartitionKey(staticPartitions(["eu"]), "eu")).toBe(true);
    expect(hasPartitionKey(staticPartitions(["eu"]), "EU")).toBe(false);
  });

  it("names the asset, the key and the valid range", () => {
    const e = caught(() => assertPartitionKey(daily, "2023-12-31", "sales/orders", now));
    expect(e.code).toBe("UNKNOWN_PARTITION");
    expect(e.asset).toBe("sales/orders");
    expect(e.message).toContain('asset "sales/orders": unknown partition key "2023-12-31"');
    expect(e.hint).toBe('valid keys run from "2024-01-01" to "2024-01-03" (daily windows, format "%Y-%m-%d", UTC)');
  });

  it("explains why a key is not valid", () => {
    expect(caught(() => assertPartitionKey(daily, "2024-01-04", "a", now)).message).toContain("not complete: it ends at 2024-01-05T00:00:00.000Z");
    expect(caught(() => assertPartitionKey(daily, "01/02/2024", "a", now)).message).toContain('not the start of a daily window in format "%Y-%m-%d"');
    expect(caught(() => assertPartitionKey(daily, "2023-01-01", "a", now)).message).toContain("outside the partitions' start and end");
    expect(caught(() => assertPartitionKey(daily, "2024-01-01", "a", at("2024-01-01T05:00:00Z"))).hint).toBe(
      'no partition is complete yet: the first, "2024-01-01", ends at 2024-01-02T00:00:00.000Z',
    );
  });

  it("lists static keys, truncated when long", () => {
    expect(caught(() => assertPartitionKey(staticPartitions(["eu", "us"]), "apac", "sales")).hint).toBe('valid keys: "eu", "us"');
    const many = staticPartitions(Array.from({ length: 25 }, (_, i) => `k${i}`));
    const hint = caught(() => assertPartitionKey(many, "zz")).hint ?? "";
    expect(hint).toContain('"k19", … (5 more)');
    expect(hint).not.toContain('"k20"');
  });

  it("passes for a valid key", () => {
    expect(() => assertPartitionKey(daily, "2024-01-02", "a", now)).not.toThrow();
  });
});

describe("keyForTime", () => {
  it("finds the window containing an instant, in the partitions' timezone", () => {
    const p = dailyPartitions({ start: "2024-01-01", timezone: paris });
    expect(keyForTime(p, at("2024-03-30T22:59:59Z"))).toBe("2024-03-30");
    expect(keyForTime(p, at("2024-03-30T23:00:00Z"))).toBe("2024-03-31");
    expect(keyForTime(weeklyPartitions({ start: "2024-01-01" }), at("2024-01-14T23:59:00Z"))).toBe("2024-01-08");
    expect(keyForTime(monthlyPartitions({ start: "2024-01-01" }), at("2024-02-29T12:00:00Z"))).toBe("2024-02-01");
  });

  it("maps each pass of a repeated hour to its own key", () => {
    const h = hourlyPartitions({ start: "2024-10-01T00:00", timezone: paris });
    expect(keyForTime(h, at("2024-10-27T00:30:00Z"))).toBe("2024-10-27-02:00"); // 02:30 CEST
    expect(keyForTime(h, at("2024-10-27T01:30:00Z"))).toBe("2024-10-27-02:00+0100"); // 02:30 CET
    expect(keyForTime(h, at("2024-10-27T02:00:00Z"))).toBe("2024-10-27-03:00");
    // Daily windows hold both passes.
    expect(keyForTime(dailyPartitions({ start: "2024-10-01", timezone: paris }), at("2024-10-27T01:30:00Z"))).toBe("2024-10-27");
  });

  it("throws outside start/end", () => {
    const bounded = dailyPartitions({ start: "2024-01-01", end: "2024-02-01" });
    expect(caught(() => keyForTime(bounded, at("2023-12-31T23:00:00Z"))).code).toBe("UNKNOWN_PARTITION");
    const e = caught(() => keyForTime(bounded, at("2024-02-01T00:00:00Z")));
    expect(e.message).toContain("no daily partition contains 2024-02-01T00:00:00.000Z");
    expect(e.hint).toContain("end before 2024-02-01");
    expect(keyForTime(bounded, at("2024-01-31T23:59:59Z"))).toBe("2024-01-31");
  });
});

describe("lastCompleteKey", () => {
  it("returns the last window that ended at or before the instant", () => {
    expect(lastCompleteKey(daily, at("2024-01-05T10:00:00Z"))).toBe("2024-01-04");
    expect(lastCompleteKey(daily, at("2024-01-05T00:00:00Z"))).toBe("2024-01-04");
    expect(lastCompleteKey(daily, at("2024-01-04T23:59:59Z"))).toBe("2024-01-03");
    expect(lastCompleteKey(weeklyPartitions({ start: "2024-01-01" }), at("2024-01-17T00:00:00Z"))).toBe("2024-01-08");
  });

  it("steps back by offset", () => {
    expect(lastCompleteKey(daily, at("2024-01-05T10:00:00Z"), 1)).toBe("2024-01-03");
    expect(lastCompleteKey(daily, at("2024-01-05T10:00:00Z"), 3)).toBe("2024-01-01");
    expect(lastCompleteKey(daily, at("2024-01-05T10:00:00Z"), 4)).toBeUndefined();
  });

  it("is undefined before the first window ends", () => {
    expect(lastCompleteKey(daily, at("2024-01-01T12:00:00Z"))).toBeUndefined();
    expect(lastCompleteKey(daily, at("2020-01-01T00:00:00Z"))).toBeUndefined();
    expect(lastCompleteKey(daily, at("2024-01-02T00:00:00Z"))).toBe("2024-01-01");
  });

  it("clamps to the end bound", () => {
    const bounded = dailyPartitions({ start: "2024-01-01", end: "2024-01-03" });
    expect(lastCompleteKey(bounded, at("2024-06-01T00:00:00Z"))).toBe("2024-01-02");
    expect(lastCompleteKey(bounded, at("2024-06-01T00:00:00Z"), 1)).toBe("2024-01-01");
  });

  it("skips the missing spring-forward hour", () => {
    const h = hourlyPartitions({ start: "2024-03-31T00:00", timezone: paris });
    // 02:30Z is 04:30 CEST: the 03:00 CEST window ended at 02:00Z.
    expect(lastCompleteKey(h, at("2024-03-31T02:30:00Z"))).toBe("2024-03-31-03:00");
    expect(lastCompleteKey(h, at("2024-03-31T02:30:00Z"), 1)).toBe("2024-03-31-01:00");
  });

  it("rejects a negative or fractional offset", () => {
    expect(caught(() => lastCompleteKey(daily, at("2024-02-01T00:00:00Z"), -1)).code).toBe("INVALID_DEFINITION");
    expect(caught(() => lastCompleteKey(daily, at("2024-02-01T00:00:00Z"), 1.5)).hint).toContain("offset 0");
  });
});

describe("keysInRange", () => {
  const now = at("2024-02-01T00:00:00Z");

  it("lists keys inclusively", () => {
    expect(keysInRange(daily, { start: "2024-01-02", end: "2024-01-04" }, now)).toEqual(["2024-01-02", "2024-01-03", "2024-01-04"]);
    expect(keysInRange(daily, { start: "2024-01-02", end: "2024-01-02" }, now)).toEqual(["2024-01-02"]);
    expect(keysInRange(staticPartitions(["a", "b", "c", "d"]), { start: "b", end: "c" })).toEqual(["b", "c"]);
  });

  it("crosses a DST gap", () => {
    const h = hourlyPartitions({ start: "2024-03-31T00:00", timezone: paris });
    expect(keysInRange(h, { start: "2024-03-31-01:00", end: "2024-03-31-04:00" }, at("2024-04-01T00:00:00Z"))).toEqual([
      "2024-03-31-01:00",
      "2024-03-31-03:00",
      "2024-03-31-04:00",
    ]);
  });

  it("rejects a reversed range with a hint to swap", () => {
    const e = caught(() => keysInRange(daily, { start: "2024-01-05", end: "2024-01-02" }, now, "sales/orders"));
    expect(e.code).toBe("UNKNOWN_PARTITION");
    expect(e.message).toContain('asset "sales/orders"');
    expect(e.hint).toBe('swap them: start "2024-01-02", end "2024-01-05"');
    expect(caught(() => keysInRange(staticPartitions(["a", "b"]), { start: "b", end: "a" })).hint).toContain("swap");
  });

  it("rejects unknown or incomplete keys", () => {
    const e = caught(() => keysInRange(daily, { start: "2024-01-02", end: "2024-02-10" }, now, "sales/orders"));
    expect(e.message).toContain('unknown partition key "2024-02-10"');
    expect(e.hint).toContain('to "2024-01-31"');
    expect(caught(() => keysInRange(staticPartitions(["a"]), { start: "a", end: "z" })).code).toBe("UNKNOWN_PARTITION");
  });
});

describe("timeWindowOfKeys", () => {
  it("spans from the earliest window's start to the latest's end", () => {
    expect(iso(timeWindowOfKeys(daily, ["2024-01-03", "2024-01-01"]))).toEqual(["2024-01-01T00:00:00.000Z", "2024-01-04T00:00:00.000Z"]);
    const p = dailyPartitions({ start: "2024-01-01", timezone: paris });
    expect(iso(timeWindowOfKeys(p, ["2024-03-30", "2024-03-31"]))).toEqual(["2024-03-29T23:00:00.000Z", "2024-03-31T22:00:00.000Z"]);
  });

  it("rejects no keys and unknown keys", () => {
    expect(caught(() => timeWindowOfKeys(daily, [])).hint).toBe("pass at least one partition key");
    expect(caught(() => timeWindowOfKeys(daily, ["2024-01-01", "nope"])).code).toBe("UNKNOWN_PARTITION");
  });
});

describe("formatKey / parseKey", () => {
  it("formats an instant's wall time in the partitions' timezone", () => {
    const p = dailyPartitions({ start: "2024-01-01", timezone: paris });
    expect(formatKey(p, at("2024-03-30T23:30:00Z"))).toBe("2024-03-31");
    expect(formatKey(dailyPartitions({ start: "2024-01-01", format: "%Y%m%d" }), at("2024-03-30T23:30:00Z"))).toBe("20240330");
    const h = hourlyPartitions({ start: "2024-01-01T00:00" });
    expect(formatKey(h, DateTime.fromISO("2024-01-01T00:30", { zone: "America/New_York" }))).toBe("2024-01-01-05:30");
  });

  it("parses a key into the instant it names", () => {
    expect(parseKey(daily, "2024-01-05").toUTC().toISO()).toBe("2024-01-05T00:00:00.000Z");
    const h = hourlyPartitions({ start: "2024-01-01T00:00", timezone: paris });
    expect(parseKey(h, "2024-10-27-02:00").toISO()).toBe("2024-10-27T02:00:00.000+02:00"); // the first 02:00
    expect(parseKey(h, "2024-07-01-12:00").zoneName).toBe(paris);
    expect(parseKey(dailyPartitions({ start: "2024-01-01", format: "%d.%m.%Y" }), "31.01.2024").toISODate()).toBe("2024-01-31");
  });

  it("rejects keys that do not match the format", () => {
    for (const key of ["2024-01", "2024-02-30", "2024-01-05 ", "x2024-01-05"]) {
      const e = caught(() => parseKey(daily, key));
      expect(e.code).toBe("UNKNOWN_PARTITION");
      expect(e.hint).toBe('write keys like "2024-01-01" (the first partition\'s key)');
    }
  });
});

describe("sortKeys", () => {
  it("orders keys chronologically and removes duplicates", () => {
    const p = dailyPartitions({ start: "2024-01-01", format: "%d.%m.%Y" });
    expect(sortKeys(p, ["02.02.2024", "31.01.2024", "02.02.2024"])).toEqual(["31.01.2024", "02.02.2024"]);
    expect(sortKeys(staticPartitions(["c", "a", "b"]), ["b", "c"])).toEqual(["c", "b"]);
  });
});
