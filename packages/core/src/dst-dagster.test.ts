import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { dailyPartitions, hourlyPartitions, monthlyPartitions, weeklyPartitions } from "./partitions/define.js";
import { upstreamKeys } from "./partitions/mapping.js";
import { hasPartitionKey, keyForTime, keysInRange, lastCompleteKey, partitionKeys, timeWindowOf, timeWindowOfKeys } from "./partitions/time.js";
import type { TimePartitionsDefinition } from "./partitions/types.js";

/*
 * Baton's time partitions are Dagster's, DST days included: the real Dagster (the venv the
 * adapter's tests use), core's TypeScript and baton_core's Python answer the same questions —
 * keys, windows, which keys exist, the key of an instant, the last complete key, key ranges and
 * hourly→daily time-window mappings — and all three must agree exactly.
 */

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const pythonDir = fileURLToPath(new URL("../python/", import.meta.url));
const driver = fileURLToPath(new URL("./__tests__/dagster_partitions.py", import.meta.url));

interface PythonEnv {
  readonly python: string;
}
/** The dagster venv exactly as adapter-dagster's tests make it (ensurePythonEnv, pinned requirements). */
async function dagsterPython(): Promise<string> {
  // @baton/testing depends on core, so core reaches its helper by path rather than as a dependency.
  const helper = new URL("../../testing/src/python-env.ts", import.meta.url).href;
  const { ensurePythonEnv } = (await import(helper)) as { ensurePythonEnv: (o: { name: string; requirements: string; root?: string }) => PythonEnv };
  const requirements = `${repo}packages/adapter-dagster/python/requirements-test.txt`;
  return ensurePythonEnv({ name: "dagster", requirements, root: process.env.BATON_VENV_ROOT ?? `${repo}.venvs` }).python;
}

const HOUR = 3_600_000;
const NOW = Date.parse("2100-01-01T00:00:00Z");

/** DST changes of 2024, as local dates: the day clocks go forward and the day they go back. */
const ZONES: Record<string, { spring: string; autumn: string }> = {
  "America/New_York": { spring: "2024-03-10", autumn: "2024-11-03" },
  "Europe/Paris": { spring: "2024-03-31", autumn: "2024-10-27" },
  "Australia/Sydney": { spring: "2024-10-06", autumn: "2024-04-07" },
  // Clocks change at midnight: a day that starts when the clocks jump, a repeated 23:00 or 00:00.
  "America/Santiago": { spring: "2024-09-08", autumn: "2024-04-07" },
  "America/Havana": { spring: "2024-03-10", autumn: "2024-11-03" },
};

function day(date: string, delta: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + delta * 24 * HOUR).toISOString().slice(0, 10);
}

interface Case {
  readonly def: TimePartitionsDefinition;
  readonly probes: string[];
  readonly instants: number[];
  readonly ranges: [string, string][];
}

/** Keys that look like this definition's (its keys with and without UTC offsets, wall hours in gaps). */
function probesFor(def: TimePartitionsDefinition, keys: readonly string[]): string[] {
  const plain = keys.filter((k) => !/[+-]\d{4}$/.test(k));
  const offsets = ["-0500", "-0400", "-0300", "+0100", "+0200", "+1000", "+1100"];
  const walls: string[] = [];
  if (def.grain === "hourly") {
    // Every wall hour of the range, including the one a spring-forward skips.
    const first = Date.parse(`${def.start.slice(0, 10)}T00:00:00Z`);
    const last = Date.parse(`${(def.end ?? def.start).slice(0, 10)}T00:00:00Z`);
    for (let t = first; t < last; t += HOUR) walls.push(new Date(t).toISOString().slice(0, 13).replace("T", "-") + ":00");
    walls.push(`${def.start.slice(0, 10)}-00:30`);
  }
  return [...new Set([...keys, ...walls, ...plain.flatMap((k) => offsets.map((o) => k + o)), "garbage", ""])];
}

function caseFor(def: TimePartitionsDefinition, around: string[]): Case {
  const keys = partitionKeys(def, new Date(NOW));
  const instants: number[] = [];
  for (const d of around) {
    // Every 20 minutes of the local DST day and its neighbours (UTC -14h to +14h covers the zones).
    const from = Date.parse(`${day(d, -1)}T00:00:00Z`);
    for (let t = from; t < from + 3 * 24 * HOUR; t += HOUR / 3) instants.push(t);
  }
  const first = timeWindowOf(def, keys[0] as string).start.getTime();
  const end = timeWindowOf(def, keys.at(-1) as string).end.getTime();
  const inside = instants.filter((t) => t >= first && t < end);
  const ranges: [string, string][] = [];
  for (let i = 0; i + 1 < keys.length; i += Math.max(1, Math.floor(keys.length / 7))) ranges.push([keys[i] as string, keys[Math.min(keys.length - 1, i + 30)] as string]);
  return { def, probes: probesFor(def, keys), instants: inside, ranges };
}

const cases: Case[] = [];
const mappings: { down: TimePartitionsDefinition; up: TimePartitionsDefinition; keys: string[] }[] = [];
for (const [timezone, { spring, autumn }] of Object.entries(ZONES)) {
  const hourly = [spring, autumn].map((d) => hourlyPartitions({ start: day(d, -1), end: day(d, 2), timezone }));
  const daily = dailyPartitions({ start: "2024-01-01", end: "2025-01-01", timezone });
  const dailyDst = [spring, autumn].map((d) => dailyPartitions({ start: day(d, -3), end: day(d, 3), timezone }));
  const weekly = [weeklyPartitions({ start: "2024-01-01", end: "2024-12-30", timezone })];
  // Dagster 1.13 crashes (CheckError in cron_string_iterator) on Havana's Sunday weeks: one starts
  // at the repeated midnight of 2024-11-03.
  if (timezone !== "America/Havana") weekly.push(weeklyPartitions({ start: "2023-12-31", end: "2024-12-29", timezone, weekStartsOn: 0 }));
  const monthly = monthlyPartitions({ start: "2023-01-01", end: "2026-01-01", timezone });
  for (const def of [...hourly, ...dailyDst]) cases.push(caseFor(def, [spring, autumn]));
  for (const def of [daily, ...weekly, monthly]) cases.push(caseFor(def, [spring, autumn]));
  // Hourly → daily (and daily → weekly, → monthly) through a time-window mapping, on the DST days.
  for (const [i, d] of [spring, autumn].entries()) {
    mappings.push({ down: dailyDst[i] as TimePartitionsDefinition, up: hourly[i] as TimePartitionsDefinition, keys: [day(d, -1), d, day(d, 1)] });
    mappings.push({ down: dailyDst[i] as TimePartitionsDefinition, up: hourly[i] as TimePartitionsDefinition, keys: [d] });
  }
  mappings.push({ down: weekly[0] as TimePartitionsDefinition, up: daily, keys: partitionKeys(weekly[0] as TimePartitionsDefinition, new Date(NOW)).slice(8, 20) });
  mappings.push({ down: monthly, up: daily, keys: ["2024-03-01", "2024-04-01", "2024-10-01", "2024-11-01"] });
}
// (Dagster refuses a time-window mapping between two timezones, so mappings stay within one.)
const nyHourly = hourlyPartitions({ start: "2024-10-25", end: "2024-11-06", timezone: "America/New_York" });
cases.push(caseFor(nyHourly, ["2024-10-27", "2024-11-03"]));
// Custom key formats: the UTC offset goes after whatever the format writes.
cases.push(caseFor(hourlyPartitions({ start: "2024-11-02", end: "2024-11-05", timezone: "America/New_York", format: "%Y%m%d%H" }), ["2024-11-03"]));
cases.push(caseFor(hourlyPartitions({ start: "2024-10-26", end: "2024-10-29", timezone: "Europe/Paris", format: "h_%Y.%m.%d_%H%M" }), ["2024-10-27"]));

interface Answers {
  keys: string[];
  windows: [number, number][];
  has: boolean[];
  keyForTime: (string | null)[];
  lastComplete: (string | null)[];
  ranges: string[][];
}

function core(c: Case): Answers {
  const now = new Date(NOW);
  const keys = partitionKeys(c.def, now);
  const key = (t: number) => {
    try {
      return keyForTime(c.def, new Date(t));
    } catch {
      return null;
    }
  };
  return {
    keys,
    windows: keys.map((k) => timeWindowOf(c.def, k)).map((w) => [w.start.getTime(), w.end.getTime()]),
    has: c.probes.map((k) => hasPartitionKey(c.def, k, now)),
    keyForTime: c.instants.map(key),
    lastComplete: c.instants.map((t) => lastCompleteKey(c.def, new Date(t)) ?? null),
    ranges: c.ranges.map(([a, b]) => keysInRange(c.def, { start: a, end: b }, now)),
  };
}

describe("time partitions on DST days: core, baton_core and the real Dagster agree", () => {
  let out: { cases: { dagster: Answers; baton_core: Answers }[]; mappings: { dagster: string[]; baton_core: string[] }[] };

  beforeAll(async () => {
    const python = await dagsterPython();
    const text = execFileSync(python, [driver, ...(process.env.BATON_DST_REQUEST ? [process.env.BATON_DST_REQUEST] : [])], {
      input: JSON.stringify({ now: NOW, cases, mappings }),
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, PYTHONPATH: pythonDir, DAGSTER_HOME: "" },
    });
    out = JSON.parse(text);
  }, 600_000);

  it("lists the same keys with the same windows, hourly to monthly, over both DST changes in five zones", () => {
    let keys = 0;
    for (const [i, c] of cases.entries()) {
      const { dagster, baton_core } = out.cases[i] as { dagster: Answers; baton_core: Answers };
      const ts = core(c);
      const label = `${c.def.grain} ${c.def.timezone} ${c.def.start}..${c.def.end}`;
      expect(ts.keys, label).toEqual(dagster.keys);
      expect(ts.windows, label).toEqual(dagster.windows);
      expect(baton_core.keys, label).toEqual(dagster.keys);
      expect(baton_core.windows, label).toEqual(dagster.windows);
      keys += dagster.keys.length;
    }
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(keys).toBeGreaterThan(3000);
  });

  it("accepts and refuses the same keys (offset-suffixed, skipped and repeated hours), and finds the same key for an instant", () => {
    for (const [i, c] of cases.entries()) {
      const { dagster, baton_core } = out.cases[i] as { dagster: Answers; baton_core: Answers };
      const ts = core(c);
      const label = `${c.def.grain} ${c.def.timezone} ${c.def.start}`;
      const accepted = (has: boolean[]) => c.probes.filter((_, j) => has[j]);
      // A key is valid when Dagster lists it. (Dagster's has_partition_key is laxer for basic hourly
      // formats: it also says yes to an hour a spring-forward skips and to "00:30", keys it never lists.)
      const listed = new Set(dagster.keys);
      expect(accepted(ts.has), label).toEqual(c.probes.filter((k) => listed.has(k)));
      expect(accepted(baton_core.has), label).toEqual(accepted(ts.has));
      const laxer = accepted(dagster.has).filter((k) => !listed.has(k));
      expect(accepted(ts.has).filter((k) => !dagster.has[c.probes.indexOf(k)]), label).toEqual([]);
      if (c.def.grain !== "hourly") expect(laxer, label).toEqual([]);
      expect(ts.keyForTime, label).toEqual(dagster.keyForTime);
      expect(baton_core.keyForTime, label).toEqual(dagster.keyForTime);
    }
  });

  it("gives the same last complete key at every 20 minutes around the DST days, and the same key ranges", () => {
    for (const [i, c] of cases.entries()) {
      const { dagster, baton_core } = out.cases[i] as { dagster: Answers; baton_core: Answers };
      const ts = core(c);
      const label = `${c.def.grain} ${c.def.timezone} ${c.def.start}`;
      expect(ts.lastComplete, label).toEqual(dagster.lastComplete);
      expect(baton_core.lastComplete, label).toEqual(dagster.lastComplete);
      expect(ts.ranges, label).toEqual(dagster.ranges);
      expect(baton_core.ranges, label).toEqual(dagster.ranges);
    }
  });

  it("maps downstream days to the same upstream hours (and weeks and months to days) through a time-window mapping", () => {
    for (const [i, m] of mappings.entries()) {
      const { dagster, baton_core } = out.mappings[i] as { dagster: string[]; baton_core: string[] };
      const label = `${m.down.grain} ${m.down.timezone} ${m.keys.join(",")} <- ${m.up.grain} ${m.up.timezone}`;
      const ts = upstreamKeys(m.down, m.keys, m.up, { type: "timeWindow" }, new Date(NOW));
      expect(ts, label).toEqual(dagster);
      expect(baton_core, label).toEqual(dagster);
    }
  });

  it("has the New York autumn figures the issue names: two one-hour 01:00 windows, a 25-hour day made of 25 hours", () => {
    const hourly = hourlyPartitions({ start: "2024-11-02", end: "2024-11-05", timezone: "America/New_York" });
    const daily = dailyPartitions({ start: "2024-11-01", end: "2024-11-05", timezone: "America/New_York" });
    const keys = partitionKeys(hourly, new Date(NOW));
    expect(keys.slice(24, 28)).toEqual(["2024-11-03-00:00", "2024-11-03-01:00", "2024-11-03-01:00-0500", "2024-11-03-02:00"]);
    expect([timeWindowOf(hourly, "2024-11-03-01:00"), timeWindowOf(hourly, "2024-11-03-01:00-0500")].map((w) => [w.start.toISOString(), w.end.toISOString()])).toEqual([
      ["2024-11-03T05:00:00.000Z", "2024-11-03T06:00:00.000Z"],
      ["2024-11-03T06:00:00.000Z", "2024-11-03T07:00:00.000Z"],
    ]);
    const day = timeWindowOf(daily, "2024-11-03");
    expect((day.end.getTime() - day.start.getTime()) / HOUR).toBe(25);
    const hours = upstreamKeys(daily, ["2024-11-03"], hourly, { type: "timeWindow" }, new Date(NOW));
    expect(hours).toHaveLength(25);
    expect(hours).toEqual(keys.filter((k) => k.startsWith("2024-11-03")));
    expect(timeWindowOfKeys(hourly, hours)).toEqual(day);
    // Each of the 25 hours belongs to that day.
    for (const h of hours) expect(keyForTime(daily, timeWindowOf(hourly, h).start)).toBe("2024-11-03");
    // The spring day: 23 hours, 02:00 missing.
    const spring = hourlyPartitions({ start: "2024-03-09", end: "2024-03-12", timezone: "America/New_York" });
    const springDay = dailyPartitions({ start: "2024-03-09", end: "2024-03-12", timezone: "America/New_York" });
    const springHours = upstreamKeys(springDay, ["2024-03-10"], spring, { type: "timeWindow" }, new Date(NOW));
    expect(springHours).toHaveLength(23);
    expect(springHours).not.toContain("2024-03-10-02:00");
    // The mapped keys are real keys: a Dagster backfill across November runs in Node.
    expect(keysInRange(hourly, { start: "2024-11-03-00:00", end: "2024-11-03-02:00" }, new Date(NOW))).toEqual(["2024-11-03-00:00", "2024-11-03-01:00", "2024-11-03-01:00-0500", "2024-11-03-02:00"]);
  });
});
