import { asset } from "../asset.js";
import { definitions } from "../definitions.js";
import { dailyPartitions, hourlyPartitions, staticPartitions, weeklyPartitions } from "../partitions/index.js";
import { schedule } from "../schedule.js";

/*
 * Definitions shaped like @baton/testing's fixtures (hourly -> daily -> static -> unpartitioned,
 * a weekly rollup, DST days, schedules that end), for the planner's tests in TypeScript and Python.
 */

const notRun = () => {
  throw new Error("the planner's tests never run compute");
};

const hourly = hourlyPartitions({ start: "2024-03-01", end: "2024-04-01" });
const daily = dailyPartitions({ start: "2024-03-01", end: "2024-04-01" });
const weekly = weeklyPartitions({ start: "2024-03-04", end: "2024-04-01" });
const regions = staticPartitions(["eu", "us", "apac"]);
const DST = "America/New_York";

export const events = asset({ key: "raw/events", partitions: hourly, group: "raw", compute: notRun });
export const sessions = asset({ key: "sessions", partitions: daily, inputs: { events }, compute: notRun });
export const weeklySessions = asset({ key: "weekly_sessions", partitions: weekly, inputs: { sessions }, compute: notRun });
export const byRegion = asset({
  key: "by_region",
  partitions: regions,
  inputs: { sessions: { asset: sessions, partitionMapping: { type: "allPartitions" } } },
  compute: notRun,
});
export const report = asset({ key: "report", inputs: { byRegion }, compute: notRun });
export const countries = asset({ key: "countries", group: "raw", compute: notRun });
export const enriched = asset({ key: "enriched", partitions: daily, inputs: { sessions, countries }, compute: notRun });
export const audit = asset({ key: "audit", partitions: regions, deps: [sessions], compute: notRun });
export const regionCopy = asset({ key: "region_copy", partitions: regions, inputs: { byRegion }, compute: notRun });
export const dailyFromWeek = asset({
  key: "daily_from_week",
  partitions: daily,
  inputs: { week: { asset: weeklySessions, partitionMapping: { type: "timeWindow" } } },
  compute: notRun,
});
export const letters = asset({ key: "letters", partitions: staticPartitions(["a", "b", "c"]), compute: notRun });
export const oddLetters = asset({
  key: "odd_letters",
  partitions: staticPartitions(["a", "c"]),
  inputs: { letters: { asset: letters, partitionMapping: { type: "identity" } } },
  compute: notRun,
});
export const dstHourly = asset({ key: "dst/hourly", partitions: hourlyPartitions({ start: "2024-11-02", end: "2024-11-05", timezone: DST }), compute: notRun });
export const dstDaily = asset({
  key: "dst/daily",
  partitions: dailyPartitions({ start: "2024-11-02", end: "2024-11-05", timezone: DST }),
  inputs: { hours: { asset: dstHourly, partitionMapping: { type: "timeWindow" } } },
  compute: notRun,
});

export const planDefs = definitions({
  assets: [events, sessions, weeklySessions, byRegion, report, countries, enriched, audit, regionCopy, dailyFromWeek, letters, oddLetters, dstHourly, dstDaily],
  schedules: [
    schedule({ name: "nightly", cron: "0 1 * * *", selection: "sessions" }),
    schedule({ name: "nightly_lagged", cron: "0 1 * * *", selection: "sessions", partition: { type: "lastComplete", offset: 1 } }),
    schedule({ name: "ended_schedule", cron: "0 6 * * *", timezone: DST, selection: "dst/daily" }),
    schedule({ name: "eu_only", cron: "0 2 * * *", selection: "by_region", partition: { type: "static", key: "eu" } }),
    schedule({ name: "reports", cron: "0 3 * * *", selection: "report countries" }),
    schedule({ name: "ambiguous", cron: "30 1 * * *", timezone: DST, selection: "dst/daily" }),
  ],
});

export const PLAN_NOW = new Date("2024-12-01T00:00:00Z");
