import { describe, expect, it } from "vitest";
import { cronProblem, MAX_TICKS, nextTick, prefectSchedules, previousTick, repeatsEveryHour, ticksBetween, timezoneProblem } from "./cron.js";
import { dailyPartitions } from "./partitions/define.js";
import { partitionKeys, timeWindowOf } from "./partitions/time.js";
import { caught } from "./__tests__/helpers.js";


const at = (iso: string) => new Date(iso);
const isos = (ds: Date[]) => ds.map((d) => d.toISOString());

describe("cronProblem", () => {
  it("accepts 5-field cron and the common aliases", () => {
    for (const expr of ["0 6 * * *", "*/15 * * * *", "0 0 1 * *", "0 9 * * MON-FRI", "30 2 1,15 * *", " 0 6 * * * ", "@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@DAILY"]) {
      expect(cronProblem(expr), expr).toBeUndefined();
    }
  });

  it("rejects a seconds field clearly", () => {
    expect(cronProblem("0 0 6 * * *")).toContain("has 6 fields; a leading seconds field is not supported");
  });

  it("explains other bad expressions", () => {
    expect(cronProblem("")).toContain("is empty");
    expect(cronProblem("* * * *")).toContain('cron "* * * *" has 4 fields; write exactly 5');
    expect(cronProblem("0 0 0 * * * 2024")).toContain("7 fields");
    expect(cronProblem("60 * * * *")).toContain('invalid cron "60 * * * *"');
    expect(cronProblem("0 24 * * *")).toContain("0-23");
    expect(cronProblem("0 0 30 2 *")).toContain("invalid cron");
    expect(cronProblem("every day")).toContain("2 fields");
    expect(cronProblem("@every 5m")).toContain('unknown cron alias "@every 5m"; use one of @hourly @daily @weekly @monthly @yearly');
    expect(cronProblem("@reboot")).toContain("unknown cron alias");
    expect(cronProblem("H 6 * * *")).toContain("H (hashed values)");
  });
});

describe("timezoneProblem", () => {
  it("accepts IANA names and rejects the rest", () => {
    expect(timezoneProblem("UTC")).toBeUndefined();
    expect(timezoneProblem("America/New_York")).toBeUndefined();
    expect(timezoneProblem("Mars/Olympus")).toContain('"Mars/Olympus" is not an IANA timezone');
    expect(timezoneProblem("+02:00")).toContain("not an IANA timezone");
    expect(timezoneProblem("")).toContain("Europe/Paris");
  });
});

describe("nextTick / previousTick", () => {
  it("are strict after / inclusive at", () => {
    expect(nextTick("0 6 * * *", "UTC", at("2024-01-01T06:00:00Z")).toISOString()).toBe("2024-01-02T06:00:00.000Z");
    expect(nextTick("0 6 * * *", "UTC", at("2024-01-01T05:59:59.999Z")).toISOString()).toBe("2024-01-01T06:00:00.000Z");
    expect(previousTick("0 6 * * *", "UTC", at("2024-01-01T06:00:00Z")).toISOString()).toBe("2024-01-01T06:00:00.000Z");
    expect(previousTick("0 6 * * *", "UTC", at("2024-01-01T05:59:59.999Z")).toISOString()).toBe("2023-12-31T06:00:00.000Z");
    expect(previousTick("0 6 * * *", "UTC", at("2024-01-01T06:00:00.500Z")).toISOString()).toBe("2024-01-01T06:00:00.000Z");
  });

  it("expand aliases", () => {
    const monday = at("2024-01-01T00:00:00Z");
    expect(nextTick("@weekly", "UTC", monday).toISOString()).toBe("2024-01-07T00:00:00.000Z"); // Sunday
    expect(nextTick("@monthly", "UTC", monday).toISOString()).toBe("2024-02-01T00:00:00.000Z");
    expect(nextTick("@yearly", "UTC", monday).toISOString()).toBe("2025-01-01T00:00:00.000Z");
    expect(previousTick("@hourly", "UTC", at("2024-01-01T10:59:00Z")).toISOString()).toBe("2024-01-01T10:00:00.000Z");
  });

  it("follow the timezone's offset through the year", () => {
    expect(nextTick("0 6 * * *", "Europe/Paris", at("2024-01-01T00:00:00Z")).toISOString()).toBe("2024-01-01T05:00:00.000Z");
    expect(nextTick("0 6 * * *", "Europe/Paris", at("2024-07-01T00:00:00Z")).toISOString()).toBe("2024-07-01T04:00:00.000Z");
    expect(previousTick("0 6 * * *", "America/New_York", at("2024-07-01T12:00:00Z")).toISOString()).toBe("2024-07-01T10:00:00.000Z");
  });

  it("run a tick inside the spring-forward gap once, an hour late, in both directions", () => {
    // 02:30 does not exist in Paris on 2024-03-31; the tick runs at 03:30 CEST (01:30Z).
    const spring = ticksBetween("30 2 * * *", "Europe/Paris", at("2024-03-29T12:00:00Z"), at("2024-04-02T12:00:00Z"));
    expect(isos(spring)).toEqual(["2024-03-30T01:30:00.000Z", "2024-03-31T01:30:00.000Z", "2024-04-01T00:30:00.000Z", "2024-04-02T00:30:00.000Z"]);
    expect(previousTick("30 2 * * *", "Europe/Paris", at("2024-03-31T12:00:00Z")).toISOString()).toBe("2024-03-31T01:30:00.000Z");
    expect(nextTick("30 2 * * *", "Europe/Paris", at("2024-03-30T12:00:00Z")).toISOString()).toBe("2024-03-31T01:30:00.000Z");
    // New York: 02:00 on 2024-03-10 becomes 03:00 EDT (07:00Z).
    expect(nextTick("0 2 * * *", "America/New_York", at("2024-03-09T12:00:00Z")).toISOString()).toBe("2024-03-10T07:00:00.000Z");
  });

  it("run a tick in the repeated fall-back hour once, at its first occurrence", () => {
    const fall = ticksBetween("30 2 * * *", "Europe/Paris", at("2024-10-26T00:00:00Z"), at("2024-10-28T12:00:00Z"));
    expect(isos(fall)).toEqual(["2024-10-26T00:30:00.000Z", "2024-10-27T00:30:00.000Z", "2024-10-28T01:30:00.000Z"]);
    // 02:00Z is after both 02:30s (00:30Z CEST and 01:30Z CET); only the first is a tick.
    expect(previousTick("30 2 * * *", "Europe/Paris", at("2024-10-27T02:00:00Z")).toISOString()).toBe("2024-10-27T00:30:00.000Z");
    expect(nextTick("30 2 * * *", "Europe/Paris", at("2024-10-27T00:30:00Z")).toISOString()).toBe("2024-10-28T01:30:00.000Z");
  });

  it("keep every real hour of an hourly cron through fall-back", () => {
    // New York falls back at 06:00Z on 2024-11-03: 01:00 EDT (05:00Z) and 01:00 EST (06:00Z) are both hours.
    const ticks = ticksBetween("0 * * * *", "America/New_York", at("2024-11-03T04:30:00Z"), at("2024-11-03T07:30:00Z"));
    expect(isos(ticks)).toEqual(["2024-11-03T05:00:00.000Z", "2024-11-03T06:00:00.000Z", "2024-11-03T07:00:00.000Z"]);
    expect(previousTick("0 * * * *", "America/New_York", at("2024-11-03T06:30:00Z")).toISOString()).toBe("2024-11-03T06:00:00.000Z");
  });

  it("agree with ticksBetween around DST", () => {
    const tz = "Europe/Paris";
    for (const expr of ["30 2 * * *", "*/20 2 * * *", "0 3 * * *", "15 * * * *"]) {
      const ticks = ticksBetween(expr, tz, at("2024-10-25T00:00:00Z"), at("2024-10-29T00:00:00Z"));
      for (const t of ticks) {
        expect(previousTick(expr, tz, t).getTime(), expr).toBe(t.getTime());
        expect(previousTick(expr, tz, new Date(t.getTime() + 60_000)).getTime(), expr).toBe(t.getTime());
      }
    }
  });

  it("throw BatonErrors for bad input", () => {
    const e = caught(() => nextTick("0 0 6 * * *", "UTC", new Date()));
    expect(e.code).toBe("INVALID_CRON");
    expect(e.message).toBe('cron "0 0 6 * * *" has 6 fields\n  fix: a leading seconds field is not supported, drop it to keep 5 fields: minute hour day-of-month month day-of-week');
    const tz = caught(() => previousTick("0 6 * * *", "Mars/Base", new Date()));
    expect(tz.code).toBe("INVALID_TIMEZONE");
    expect(tz.message).toContain('"Mars/Base" is not an IANA timezone');
    expect(tz.hint).toContain('"Europe/Paris"');
    expect(caught(() => ticksBetween("@often", "UTC", new Date(0), new Date())).hint).toContain("use one of @hourly");
  });
});

describe("ticksBetween", () => {
  it("excludes from and includes to", () => {
    const ticks = ticksBetween("*/15 * * * *", "UTC", at("2024-01-01T00:00:00Z"), at("2024-01-01T01:00:00Z"));
    expect(isos(ticks)).toEqual(["2024-01-01T00:15:00.000Z", "2024-01-01T00:30:00.000Z", "2024-01-01T00:45:00.000Z", "2024-01-01T01:00:00.000Z"]);
  });

  it("is empty for an empty or reversed range", () => {
    expect(ticksBetween("* * * * *", "UTC", at("2024-01-01T00:00:00Z"), at("2024-01-01T00:00:00Z"))).toEqual([]);
    expect(ticksBetween("* * * * *", "UTC", at("2024-01-02T00:00:00Z"), at("2024-01-01T00:00:00Z"))).toEqual([]);
    expect(ticksBetween("0 6 * * *", "UTC", at("2024-01-01T06:00:00Z"), at("2024-01-02T05:59:00Z"))).toEqual([]);
  });

  it(`allows ${MAX_TICKS} ticks and refuses more`, () => {
    const from = at("2024-01-01T00:00:00Z");
    expect(ticksBetween("* * * * *", "UTC", from, new Date(from.getTime() + MAX_TICKS * 60_000))).toHaveLength(MAX_TICKS);
    const e = caught(() => ticksBetween("* * * * *", "UTC", from, new Date(from.getTime() + (MAX_TICKS + 1) * 60_000)));
    expect(e.code).toBe("INVALID_CRON");
    expect(e.message).toContain("more than 10000 times");
    expect(e.hint).toContain("shorter range");
  });
});

describe("DST: one rule for every runtime (see cron.ts)", () => {
  const zones = ["America/New_York", "Europe/Paris", "Australia/Sydney", "America/Havana", "America/Santiago"];

  it("ticks a cron at a wall time that happens twice once, at its first pass, whatever the hour of the change", () => {
    // New York, 2024-11-03: 01:30 EDT (05:30Z), not 01:30 EST (06:30Z) — the case.
    expect(isos(ticksBetween("30 1 * * *", "America/New_York", at("2024-11-02T12:00:00Z"), at("2024-11-04T12:00:00Z")))).toEqual(["2024-11-03T05:30:00.000Z", "2024-11-04T06:30:00.000Z"]);
    expect(previousTick("30 1 * * *", "America/New_York", at("2024-11-03T07:00:00Z")).toISOString()).toBe("2024-11-03T05:30:00.000Z");
    expect(nextTick("30 1 * * *", "America/New_York", at("2024-11-03T05:30:00Z")).toISOString()).toBe("2024-11-04T06:30:00.000Z");
    // Sydney, 2024-04-07: 02:30 AEDT (15:30Z on the 6th).
    expect(nextTick("30 2 * * *", "Australia/Sydney", at("2024-04-06T12:00:00Z")).toISOString()).toBe("2024-04-06T15:30:00.000Z");
    // Havana repeats midnight (01:00 CDT -> 00:00 CST on 2024-11-03): the first midnight, 04:00Z.
    expect(isos(ticksBetween("0 0 * * *", "America/Havana", at("2024-11-02T12:00:00Z"), at("2024-11-04T12:00:00Z")))).toEqual(["2024-11-03T04:00:00.000Z", "2024-11-04T05:00:00.000Z"]);
    // Several minutes in the repeated hour: each once, in the first pass.
    expect(isos(ticksBetween("*/20 1 * * *", "America/New_York", at("2024-11-02T12:00:00Z"), at("2024-11-03T12:00:00Z")))).toEqual(["2024-11-03T05:00:00.000Z", "2024-11-03T05:20:00.000Z", "2024-11-03T05:40:00.000Z"]);
    expect(isos(ticksBetween("0 1-3 * * *", "America/New_York", at("2024-11-02T12:00:00Z"), at("2024-11-03T12:00:00Z")))).toEqual(["2024-11-03T05:00:00.000Z", "2024-11-03T07:00:00.000Z", "2024-11-03T08:00:00.000Z"]);
  });

  it("ticks a cron at a wall time a spring-forward skips once, that wall time read with the offset before the gap", () => {
    // New York 2024-03-10: 02:30 EST is 07:30Z (03:30 EDT).
    expect(isos(ticksBetween("30 2 * * *", "America/New_York", at("2024-03-09T12:00:00Z"), at("2024-03-11T12:00:00Z")))).toEqual(["2024-03-10T07:30:00.000Z", "2024-03-11T06:30:00.000Z"]);
    expect(isos(ticksBetween("*/20 2 * * *", "America/New_York", at("2024-03-09T12:00:00Z"), at("2024-03-10T12:00:00Z")))).toEqual(["2024-03-10T07:00:00.000Z", "2024-03-10T07:20:00.000Z", "2024-03-10T07:40:00.000Z"]);
    // 02:00 lands on 03:00, which is also a tick: one tick.
    expect(isos(ticksBetween("0 1-3 * * *", "America/New_York", at("2024-03-09T12:00:00Z"), at("2024-03-10T12:00:00Z")))).toEqual(["2024-03-10T06:00:00.000Z", "2024-03-10T07:00:00.000Z"]);
    expect(nextTick("30 2 * * *", "Australia/Sydney", at("2024-10-05T12:00:00Z")).toISOString()).toBe("2024-10-05T16:30:00.000Z");
  });

  it("ticks a cron that repeats every hour in both passes of a repeated hour and in every real hour of a gap", () => {
    expect(isos(ticksBetween("*/30 * * * *", "America/New_York", at("2024-11-03T04:45:00Z"), at("2024-11-03T07:00:00Z")))).toEqual([
      "2024-11-03T05:00:00.000Z",
      "2024-11-03T05:30:00.000Z",
      "2024-11-03T06:00:00.000Z",
      "2024-11-03T06:30:00.000Z",
      "2024-11-03T07:00:00.000Z",
    ]);
    expect(isos(ticksBetween("15 * * * *", "America/New_York", at("2024-03-10T05:00:00Z"), at("2024-03-10T08:00:00Z")))).toEqual(["2024-03-10T05:15:00.000Z", "2024-03-10T06:15:00.000Z", "2024-03-10T07:15:00.000Z"]);
    expect(repeatsEveryHour("15 * * * *")).toBe(true);
    expect(repeatsEveryHour("0 0-23 * * 1-5")).toBe(true);
    expect(repeatsEveryHour("@hourly")).toBe(true);
    expect(repeatsEveryHour("0 */2 * * *")).toBe(false);
    expect(repeatsEveryHour("30 1 * * *")).toBe(false);
  });

  it("ticks a midnight cron exactly when each day's partition window starts, every day of 2024 in five zones", () => {
    for (const tz of zones) {
      const daily = dailyPartitions({ start: "2024-01-01", end: "2025-01-01", timezone: tz });
      const starts = partitionKeys(daily, at("2030-01-01T00:00:00Z")).map((k) => timeWindowOf(daily, k).start.toISOString());
      const ticks = isos(ticksBetween("0 0 * * *", tz, new Date(Date.parse(starts[0] as string) - 1), new Date(Date.parse(starts.at(-1) as string))));
      expect(ticks, tz).toEqual(starts);
    }
  });

  it("agree between nextTick, previousTick and ticksBetween over both DST changes in five zones", () => {
    const crons = ["30 1 * * *", "30 2 * * *", "0 0 * * *", "30 23 * * *", "*/20 1-2 * * *", "15 * * * *", "0 * * * 0", "0 3 * * 0"];
    const changes: Record<string, string[]> = {
      "America/New_York": ["2024-03-10", "2024-11-03"],
      "Europe/Paris": ["2024-03-31", "2024-10-27"],
      "Australia/Sydney": ["2024-04-07", "2024-10-06"],
      "America/Havana": ["2024-03-10", "2024-11-03"],
      "America/Santiago": ["2024-04-07", "2024-09-08"],
    };
    for (const tz of zones) {
      for (const cron of crons) {
        for (const d of changes[tz] ?? []) {
          const from = new Date(Date.parse(`${d}T00:00:00Z`) - 2 * 86_400_000).toISOString();
          const to = new Date(Date.parse(`${d}T00:00:00Z`) + 2 * 86_400_000).toISOString();
          const ticks = ticksBetween(cron, tz, at(from), at(to)).map((d) => d.getTime());
          for (const [i, t] of ticks.entries()) {
            const label = `${cron} ${tz} ${new Date(t).toISOString()}`;
            if (i > 0) expect(nextTick(cron, tz, new Date(ticks[i - 1] as number)).getTime(), label).toBe(t);
            expect(previousTick(cron, tz, new Date(t)).getTime(), label).toBe(t);
            expect(previousTick(cron, tz, new Date(t + 59_000)).getTime(), label).toBe(t);
            if (i > 0) expect(previousTick(cron, tz, new Date(t - 1)).getTime(), label).toBe(ticks[i - 1]);
          }
        }
      }
    }
  });
});

describe("prefectSchedules", () => {
  const from = at("2024-01-01T00:00:00Z");

  it("passes crons that do not repeat every hour through: Prefect's CronSchedule already ticks by Baton's rule", () => {
    expect(prefectSchedules("30 1 * * *", "America/New_York", from)).toEqual([{ cron: "30 1 * * *", timezone: "America/New_York" }]);
    expect(prefectSchedules("@daily", "Europe/Paris", from)).toEqual([{ cron: "0 0 * * *", timezone: "Europe/Paris" }]);
  });

  it("gives an every-hour cron in UTC (Prefect's own skips the second pass of a repeated hour), minutes moved by a sub-hour offset", () => {
    expect(prefectSchedules("15 * * * *", "America/New_York", from)).toEqual([{ cron: "15 * * * *", timezone: "UTC" }]);
    expect(prefectSchedules("*/20 * * * *", "Europe/Paris", from)).toEqual([{ cron: "0,20,40 * * * *", timezone: "UTC" }]);
    expect(prefectSchedules("0 * * * *", "Asia/Kolkata", from)).toEqual([{ cron: "30 * * * *", timezone: "UTC" }]);
    expect(prefectSchedules("0 * * * *", "Australia/Adelaide", from)).toEqual([{ cron: "30 * * * *", timezone: "UTC" }]);
  });

  it("adds the second-pass ticks as RDATEs when the cron cannot be written in UTC", () => {
    const [cron, extra] = prefectSchedules("0 * * * 0", "America/New_York", from, 3);
    expect(cron).toEqual({ cron: "0 * * * 0", timezone: "America/New_York" });
    expect(extra).toEqual({ rrule: "RDATE:20241103T060000Z,20251102T060000Z,20261101T060000Z", timezone: "UTC" });
    const long = prefectSchedules("* * * * 0", "America/New_York", from, 50)[1] as { rrule: string };
    expect(long.rrule.length).toBeLessThanOrEqual(6500);
  });
});
