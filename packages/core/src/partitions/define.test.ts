import { describe, expect, it } from "vitest";
import * as partitions from "./index.js";
import {
  dailyPartitions,
  describePartitions,
  hourlyPartitions,
  monthlyPartitions,
  staticPartitions,
  validatePartitionsDefinition,
  weeklyPartitions,
} from "./define.js";
import { fileURLToPath } from "node:url";
import { caught } from "../__tests__/helpers.js";

const THIS_FILE = fileURLToPath(import.meta.url);


describe("time partition constructors", () => {
  it("fill in UTC and the usual key formats", () => {
    expect(dailyPartitions({ start: "2024-01-01" })).toEqual({ type: "time", grain: "daily", start: "2024-01-01", timezone: "UTC", format: "%Y-%m-%d" });
    expect(hourlyPartitions({ start: "2024-01-01T00:00" })).toEqual({
      type: "time",
      grain: "hourly",
      start: "2024-01-01T00:00",
      timezone: "UTC",
      format: "%Y-%m-%d-%H:%M",
    });
    expect(weeklyPartitions({ start: "2024-01-01" })).toEqual({
      type: "time",
      grain: "weekly",
      start: "2024-01-01",
      timezone: "UTC",
      format: "%Y-%m-%d",
      weekStartsOn: 1,
    });
    expect(monthlyPartitions({ start: "2024-01-01", end: "2025-01-01", timezone: "Europe/Paris" })).toEqual({
      type: "time",
      grain: "monthly",
      start: "2024-01-01",
      end: "2025-01-01",
      timezone: "Europe/Paris",
      format: "%Y-%m-%d",
    });
  });

  it("keeps an explicit format and weekStartsOn, and leaves weekStartsOn off other grains", () => {
    expect(weeklyPartitions({ start: "2023-12-31", weekStartsOn: 0, format: "%Y%m%d" })).toMatchObject({ weekStartsOn: 0, format: "%Y%m%d" });
    expect("weekStartsOn" in dailyPartitions({ start: "2024-01-01" })).toBe(false);
    expect("end" in dailyPartitions({ start: "2024-01-01" })).toBe(false);
  });

  it("rejects a timezone that is not an IANA name with INVALID_TIMEZONE", () => {
    for (const timezone of ["Mars/Olympus_Mons", "+02:00", "", "CEST"]) {
      const e = caught(() => dailyPartitions({ start: "2024-01-01", timezone }));
      expect(e.code).toBe("INVALID_TIMEZONE");
      expect(e.hint).toContain("Europe/Paris");
    }
    expect(dailyPartitions({ start: "2024-01-01", timezone: "America/New_York" }).timezone).toBe("America/New_York");
  });

  it("rejects start/end that are not ISO local dates", () => {
    for (const start of ["2024/01/01", "2024-13-01", "2023-02-29", "2024-01-01T00:00Z", "2024-01-01T00:00+01:00", "Jan 1 2024", "2024-01-01T24:00"]) {
      const e = caught(() => dailyPartitions({ start }));
      expect(e.code, start).toBe("INVALID_PARTITIONS");
      expect(e.message).toContain(JSON.stringify(start));
      expect(e.hint).toContain("2024-01-01T06:00");
    }
    expect(caught(() => dailyPartitions({ start: "2024-01-01", end: "soon" })).message).toContain('end "soon"');
  });

  it("rejects a start inside a DST gap", () => {
    const e = caught(() => hourlyPartitions({ start: "2024-03-31T02:00", timezone: "Europe/Paris" }));
    expect(e.code).toBe("INVALID_PARTITIONS");
    expect(e.message).toContain("Europe/Paris");
    expect(hourlyPartitions({ start: "2024-03-31T03:00", timezone: "Europe/Paris" }).start).toBe("2024-03-31T03:00");
  });

  it("requires end after start", () => {
    expect(caught(() => dailyPartitions({ start: "2024-01-05", end: "2024-01-05" })).message).toContain("not after start");
    expect(caught(() => dailyPartitions({ start: "2024-01-05", end: "2024-01-01" })).code).toBe("INVALID_PARTITIONS");
    expect(dailyPartitions({ start: "2024-01-05", end: "2024-01-06" }).end).toBe("2024-01-06");
  });

  it("requires start and end on window boundaries", () => {
    const cases: Array<[() => unknown, string]> = [
      [() => hourlyPartitions({ start: "2024-01-01T06:30" }), "on the hour"],
      [() => dailyPartitions({ start: "2024-01-01T06:00" }), "midnight"],
      [() => weeklyPartitions({ start: "2024-01-02" }), "Monday"], // a Tuesday
      [() => weeklyPartitions({ start: "2024-01-01", weekStartsOn: 0 }), "Sunday"], // a Monday
      [() => monthlyPartitions({ start: "2024-01-15" }), "first day of a month"],
      [() => dailyPartitions({ start: "2024-01-01", end: "2024-01-05T12:00" }), "midnight"],
    ];
    for (const [make, hint] of cases) {
      const e = caught(make);
      expect(e.code).toBe("INVALID_PARTITIONS");
      expect(e.message).toContain("window boundary");
      expect(e.hint).toContain(hint);
    }
    expect(hourlyPartitions({ start: "2024-01-01T06:00" }).start).toBe("2024-01-01T06:00");
    expect(weeklyPartitions({ start: "2023-12-31", weekStartsOn: 0 }).weekStartsOn).toBe(0);
    expect(weeklyPartitions({ start: "2024-01-06", weekStartsOn: 6 }).weekStartsOn).toBe(6); // a Saturday
  });

  it("rejects weekStartsOn outside 0..6", () => {
    for (const weekStartsOn of [7, -1, 1.5]) {
      expect(caught(() => weeklyPartitions({ start: "2024-01-01", weekStartsOn })).hint).toContain("0 (Sunday)");
    }
  });

  it("requires formats that round-trip the grain", () => {
    const bad: Array<[() => unknown, string]> = [
      [() => dailyPartitions({ start: "2024-01-01", format: "%Y-%m" }), "lacks %d"],
      [() => hourlyPartitions({ start: "2024-01-01T00:00", format: "%Y-%m-%d" }), "lacks %H"],
      [() => monthlyPartitions({ start: "2024-01-01", format: "%Y" }), "lacks %m"],
      [() => dailyPartitions({ start: "2024-01-01", format: "%Y-%m-%d-%Y" }), "%Y twice"],
      [() => dailyPartitions({ start: "2024-01-01", format: "%Y-%j" }), 'unsupported token "%j"'],
      [() => dailyPartitions({ start: "2024-01-01", format: "%Y/%m/%d" }), '"/"'],
      [() => dailyPartitions({ start: "2024-01-01", format: "%Y-%m-%d %H" }), "whitespace"],
      [() => dailyPartitions({ start: "2024-01-01", format: "" }), "non-empty"],
    ];
    for (const [make, text] of bad) {
      const e = caught(make);
      expect(e.code).toBe("INVALID_PARTITIONS");
      expect(e.message).toContain(text);
      expect(e.hint).toBeTruthy();
    }
    expect(monthlyPartitions({ start: "2024-01-01", format: "%Y-%m" }).format).toBe("%Y-%m");
    expect(dailyPartitions({ start: "2024-01-01", format: "day_%Y%m%d_100%%" }).format).toBe("day_%Y%m%d_100%%");
  });
});

describe("staticPartitions", () => {
  it("copies the keys", () => {
    const keys = ["eu", "us"];
    const def = staticPartitions(keys);
    keys.push("apac");
    expect(def).toEqual({ type: "static", keys: ["eu", "us"] });
  });

  it("rejects empty, duplicate, blank and path-like keys", () => {
    const cases: Array<[string[], string]> = [
      [[], "at least one key"],
      [["eu", "eu"], 'key "eu" is listed twice'],
      [[""], "non-empty"],
      [["   "], "non-empty"],
      [["eu/west"], '"/" or ","'],
      [["eu,us"], '"/" or ","'],
      [[" eu"], "whitespace"],
    ];
    for (const [keys, text] of cases) {
      const e = caught(() => staticPartitions(keys));
      expect(e.code).toBe("INVALID_PARTITIONS");
      expect(e.message).toContain(text);
      expect(e.hint).toBeTruthy();
    }
  });

  it("rejects keys that would name another folder, break a line or a range (issue 10, defect 4)", () => {
    const cases: Array<[string, string, string]> = [
      [".", "is reserved", "relative folder names"],
      ["..", "is reserved", "relative folder names"],
      ["__unpartitioned__", "is reserved", '"unpartitioned"'],
      ["x\ny", "control character or line break", "Dagster"],
      ["a\rb", "control character or line break", "Dagster"],
      ["tab\there", "control character or line break", "Dagster"],
      ["nul\u0000", "control character or line break", "Dagster"],
      ["del\u007f", "control character or line break", "Dagster"],
      ["nel\u0085", "control character or line break", "Dagster"],
      ["line\u2028sep", "control character or line break", "Dagster"],
      ["2024...2025", 'contains "..."', "FIRST...LAST"],
    ];
    for (const [key, text, hint] of cases) {
      const e = caught(() => staticPartitions(["eu", key]));
      expect(e.code, JSON.stringify(key)).toBe("INVALID_PARTITIONS");
      expect(e.problem).toContain(JSON.stringify(key));
      expect(e.problem).toContain(text);
      expect(e.hint).toContain(hint);
      // Thrown where the user called staticPartitions(): this file and line, not core's.
      expect(e.file).toMatch(new RegExp(`^${THIS_FILE.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+$`));
      expect(validatePartitionsDefinition({ type: "static", keys: [key] })).toContain(text);
    }
    // Dots inside a key, a key ending in "." and two dots in a row stay valid.
    expect(staticPartitions(["v1.2", "a..b", "end.", ".hidden", "__x__"]).keys).toHaveLength(5);
  });
});

describe("validatePartitionsDefinition", () => {
  it("accepts definitions read back from JSON", () => {
    for (const def of [
      weeklyPartitions({ start: "2024-01-01", timezone: "Europe/Paris" }),
      hourlyPartitions({ start: "2024-01-01T00:00", end: "2024-02-01" }),
      staticPartitions(["a", "b"]),
    ]) {
      expect(validatePartitionsDefinition(JSON.parse(JSON.stringify(def)))).toBeUndefined();
    }
    // weekStartsOn may be absent from hand-written JSON: Monday.
    expect(validatePartitionsDefinition({ type: "time", grain: "weekly", start: "2024-01-01", timezone: "UTC", format: "%Y-%m-%d" })).toBeUndefined();
  });

  it("explains what is wrong and how to fix it", () => {
    const base = { type: "time", grain: "daily", start: "2024-01-01", timezone: "UTC", format: "%Y-%m-%d" };
    expect(validatePartitionsDefinition(null)).toContain("not an object");
    expect(validatePartitionsDefinition({ type: "dynamic" })).toContain('unknown partitions type "dynamic"');
    expect(validatePartitionsDefinition({ ...base, grain: "yearly" })).toContain('unknown time grain "yearly"; use one of hourly, daily, weekly, monthly');
    expect(validatePartitionsDefinition({ ...base, timezone: undefined })).toContain("not an IANA timezone");
    expect(validatePartitionsDefinition({ ...base, weekStartsOn: 1 })).toContain("only applies to weekly");
    expect(validatePartitionsDefinition({ ...base, start: 20240101 })).toContain("start 20240101");
    expect(validatePartitionsDefinition({ ...base, format: undefined })).toContain("format undefined");
    expect(validatePartitionsDefinition({ type: "static", keys: "a,b" })).toContain("at least one key");
    expect(validatePartitionsDefinition({ type: "static", keys: ["a", 1] })).toContain("key 1 is not a non-empty string");
  });
});

describe("describePartitions", () => {
  it("summarises a definition in one line", () => {
    expect(describePartitions(undefined)).toBe("unpartitioned");
    expect(describePartitions(dailyPartitions({ start: "2024-01-01" }))).toBe("daily partitions from 2024-01-01 (UTC)");
    expect(describePartitions(weeklyPartitions({ start: "2023-12-31", end: "2024-03-03", weekStartsOn: 0 }))).toBe(
      "weekly partitions from 2023-12-31 to 2024-03-03 (UTC, weeks start on Sunday)",
    );
    expect(describePartitions(staticPartitions(["a", "b", "c", "d", "e", "f", "g"]))).toBe('static partitions ["a", "b", "c", "d", "e", … 2 more]');
  });
});

describe("partitions/index", () => {
  it("re-exports the public API", () => {
    for (const name of [
      "hourlyPartitions",
      "dailyPartitions",
      "weeklyPartitions",
      "monthlyPartitions",
      "staticPartitions",
      "validatePartitionsDefinition",
      "partitionKeys",
      "hasPartitionKey",
      "assertPartitionKey",
      "timeWindowOf",
      "keyForTime",
      "lastCompleteKey",
      "keysInRange",
      "timeWindowOfKeys",
      "formatKey",
      "parseKey",
      "defaultMapping",
      "mappingProblem",
      "upstreamKeys",
    ]) {
      expect(typeof (partitions as Record<string, unknown>)[name], name).toBe("function");
    }
  });
});
