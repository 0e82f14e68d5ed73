import pl from "nodejs-polars";
import { describe, expect, it, vi } from "vitest";
import { asset } from "./asset.js";
import { definitions } from "./definitions.js";
import { dailyPartitions, staticPartitions } from "./partitions/index.js";
import { env, resource, secret } from "./resource.js";
import { schedule } from "./schedule.js";
import { sensor, type SensorContext } from "./sensor.js";
import { evaluateScheduleTick, evaluateSensorTick } from "./ticks.js";
import { thrown, thrownSync } from "./__tests__/helpers.js";

const df = () => pl.DataFrame({ x: [1] });
const raw = asset({ key: "raw", compute: df });
const daily = asset({ key: "daily", inputs: { raw }, compute: df, partitions: dailyPartitions({ start: "2024-03-01" }) });
const parisDaily = asset({ key: "paris_daily", compute: df, partitions: dailyPartitions({ start: "2024-03-01", timezone: "Europe/Paris" }) });
const regions = asset({ key: "regions", compute: df, partitions: staticPartitions(["eu", "us"]) });

describe("evaluateScheduleTick", () => {
  const defs = definitions({
    assets: [raw, daily, parisDaily, regions],
    schedules: [
      schedule({ name: "morning", cron: "0 6 * * *", selection: "daily" }),
      schedule({ name: "day_before", cron: "0 6 * * *", selection: "daily", partition: { type: "lastComplete", offset: 1 } }),
      schedule({ name: "paris", cron: "0 6 * * *", timezone: "Europe/Paris", selection: "paris_daily" }),
      schedule({ name: "raw_quarterly", cron: "*/15 * * * *", selection: "raw" }),
      schedule({ name: "eu", cron: "@daily", selection: "regions", partition: { type: "static", key: "eu" } }),
    ],
  });

  it("runs the last complete window at the latest tick <= at", () => {
    expect(evaluateScheduleTick(defs, "morning", new Date("2024-03-10T07:30:00Z"))).toEqual({
      runRequests: [{ assets: ["daily"], partitionKey: "2024-03-09", runKey: "2024-03-09", tags: {} }],
      cursor: null,
      skipReason: null,
      tickTime: "2024-03-10T06:00:00.000Z",
    });
    // Exactly on the tick counts as that tick.
    expect(evaluateScheduleTick(defs, "morning", new Date("2024-03-10T06:00:00Z")).tickTime).toBe("2024-03-10T06:00:00.000Z");
    // Just before it, the previous day's tick.
    const before = evaluateScheduleTick(defs, "morning", new Date("2024-03-10T05:59:59Z"));
    expect(before.tickTime).toBe("2024-03-09T06:00:00.000Z");
    expect(before.runRequests[0]!.partitionKey).toBe("2024-03-08");
  });

  it("steps further back with an offset", () => {
    expect(evaluateScheduleTick(defs, "day_before", new Date("2024-03-10T07:30:00Z")).runRequests[0]!.partitionKey).toBe("2024-03-08");
  });

  it("evaluates cron and windows in the schedule's and partitions' timezone", () => {
    const t = evaluateScheduleTick(defs, "paris", new Date("2024-07-01T05:30:00Z"));
    expect(t.tickTime).toBe("2024-07-01T04:00:00.000Z");
    expect(t.runRequests[0]!.partitionKey).toBe("2024-06-30");
  });

  it("unpartitioned targets get no key and the tick time as run key; static targets get the schedule's key", () => {
    expect(evaluateScheduleTick(defs, "raw_quarterly", new Date("2024-03-10T07:31:10Z")).runRequests).toEqual([
      { assets: ["raw"], partitionKey: null, runKey: "2024-03-10T07:30:00.000Z", tags: {} },
    ]);
    expect(evaluateScheduleTick(defs, "eu", new Date("2024-03-10T07:31:10Z")).runRequests).toEqual([{ assets: ["regions"], partitionKey: "eu", runKey: "eu", tags: {} }]);
  });

  it("skips when no partition is complete yet", () => {
    const t = evaluateScheduleTick(defs, "morning", new Date("2024-03-01T12:00:00Z"));
    expect(t.runRequests).toEqual([]);
    expect(t.skipReason).toBe('no partition of "daily" is complete at 2024-03-01T06:00:00.000Z');
    expect(t.tickTime).toBe("2024-03-01T06:00:00.000Z");
  });

  it("an unknown schedule is UNKNOWN_SELECTION listing the known ones", () => {
    const e = thrownSync(() => evaluateScheduleTick(defs, "evening", new Date()));
    expect(e).toMatchObject({ code: "UNKNOWN_SELECTION" });
    expect(e.message).toContain('there is no schedule named "evening"');
    expect(e.hint).toBe("known schedules: morning, day_before, paris, raw_quarterly, eu");
  });
});

describe("evaluateSensorTick", () => {
  const NOW = new Date("2024-03-10T12:00:00Z");

  it("passes cursor, now and resources, and resolves the run requests", async () => {
    const calls: string[] = [];
    const files = resource({
      config: { root: env("FILES_ROOT") },
      create: ({ root }) => (calls.push("create"), { list: () => [`${root}/a.csv`, `${root}/b.csv`] }),
      teardown: () => void calls.push("teardown"),
    });
    let seen: SensorContext | undefined;
    const s = sensor({
      name: "new_files",
      selection: "daily",
      resources: ["files"],
      evaluate: (ctx) => {
        seen = ctx;
        calls.push("evaluate");
        const listed = (ctx.resources.files as { list: () => string[] }).list();
        return {
          runRequests: [
            { partitionKey: "2024-03-09", runKey: listed[0], tags: { source: "files" } },
            { selection: "+daily", partitionKey: "2024-03-08", runKey: listed[1] },
          ],
          cursor: "b.csv",
        };
      },
    });
    const defs = definitions({ assets: [raw, daily], resources: { files }, sensors: [s] });
    const t = await evaluateSensorTick(defs, "new_files", { cursor: "a.csv", now: NOW, env: { FILES_ROOT: "/in" } });
    expect(seen!.cursor).toBe("a.csv");
    expect(seen!.now).toBe(NOW);
    expect(calls).toEqual(["create", "evaluate", "teardown"]);
    expect(t).toEqual({
      runRequests: [
        { assets: ["daily"], partitionKey: "2024-03-09", runKey: "/in/a.csv", tags: { source: "files" } },
        { assets: ["raw", "daily"], partitionKey: "2024-03-08", runKey: "/in/b.csv", tags: {} },
      ],
      cursor: "b.csv",
      skipReason: null,
      tickTime: null,
    });
  });

  it("a skip keeps the previous cursor unless a new one is returned", async () => {
    const defs = definitions({
      assets: [raw],
      sensors: [
        sensor({ name: "quiet", selection: "raw", evaluate: () => ({ skip: "nothing new" }) }),
        sensor({ name: "moves", selection: "raw", evaluate: (ctx) => ({ skip: "nothing new", cursor: `${ctx.cursor ?? ""}+` }) }),
      ],
    });
    expect(await evaluateSensorTick(defs, "quiet", { cursor: "c1", now: NOW })).toEqual({ runRequests: [], cursor: "c1", skipReason: "nothing new", tickTime: null });
    expect((await evaluateSensorTick(defs, "quiet", { now: NOW })).cursor).toBeNull();
    expect((await evaluateSensorTick(defs, "moves", { cursor: "c1", now: NOW })).cursor).toBe("c1+");
  });

  it("a run request for an unknown partition key is UNKNOWN_PARTITION naming the sensor and the asset", async () => {
    const defs = definitions({ assets: [raw, daily], sensors: [sensor({ name: "bad", selection: "daily", evaluate: () => ({ runRequests: [{ partitionKey: "2024-99-01" }] }) })] });
    const e = await thrown(() => evaluateSensorTick(defs, "bad", { now: NOW }));
    expect(e).toMatchObject({ code: "UNKNOWN_PARTITION", asset: "daily" });
    expect(e.message.split("\n")[0]).toBe('asset "daily": sensor "bad" requested unknown partition key "2024-99-01" (not the start of a daily window in format "%Y-%m-%d")');
    expect(e.hint).toBe('valid keys run from "2024-03-01" to "2024-03-09" (daily windows, format "%Y-%m-%d", UTC)');
  });

  it("a run request for an unknown selection is UNKNOWN_SELECTION", async () => {
    const defs = definitions({ assets: [raw], sensors: [sensor({ name: "bad", selection: "raw", evaluate: () => ({ runRequests: [{ selection: "rwa" }] }) })] });
    expect(await thrown(() => evaluateSensorTick(defs, "bad", { now: NOW }))).toMatchObject({ code: "UNKNOWN_SELECTION" });
  });

  it("a missing environment variable is MISSING_ENV naming the variable and the resource", async () => {
    const evaluate = vi.fn(() => ({ skip: "x" }));
    const files = resource({ config: { root: env("FILES_ROOT") }, create: () => ({}) });
    const defs = definitions({ assets: [raw], resources: { files }, sensors: [sensor({ name: "s", selection: "raw", resources: ["files"], evaluate })] });
    const e = await thrown(() => evaluateSensorTick(defs, "s", { now: NOW, env: {} }));
    expect(e).toMatchObject({ code: "MISSING_ENV" });
    expect(e.message).toContain('resource "files" needs environment variable FILES_ROOT');
    expect(evaluate).not.toHaveBeenCalled();
  });

  it("redacts the sensor's secrets from its log and its errors", async () => {
    const token = "tok-7a7a-secret";
    const api = resource({ config: { token: secret("API_TOKEN") }, create: ({ token }) => ({ token }) });
    const lines: string[] = [];
    const log = { debug: (m: string) => lines.push(m), info: (m: string) => lines.push(m), warning: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
    const defs = definitions({
      assets: [raw],
      resources: { api },
      sensors: [
        sensor({
          name: "leaky",
          selection: "raw",
          resources: ["api"],
          evaluate: (ctx) => {
            const t = (ctx.resources.api as { token: string }).token;
            ctx.log.info(`calling with ${t}`);
            throw new Error(`401 for token ${t}`);
          },
        }),
      ],
    });
    const e = await thrown(() => evaluateSensorTick(defs, "leaky", { now: NOW, env: { API_TOKEN: token }, log }));
    expect(lines).toEqual(["calling with ***"]);
    expect(e.message).toBe("401 for token ***");
    expect(e.stack).not.toContain(token);
  });

  it("an unknown sensor is UNKNOWN_SELECTION", async () => {
    const defs = definitions({ assets: [raw] });
    const e = await thrown(() => evaluateSensorTick(defs, "nope"));
    expect(e).toMatchObject({ code: "UNKNOWN_SELECTION" });
    expect(e.hint).toBe("declare one in definitions({ sensors })");
  });
});
