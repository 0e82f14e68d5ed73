import pl from "nodejs-polars";
import { readdirSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { asset, input, type AssetContext, type AssetDefinition } from "../asset.js";
import { assetCheck } from "../asset-check.js";
import { definitions } from "../definitions.js";
import { BackendIOStore, LocalIOStore } from "../io/store.js";
import type { StoreBackend } from "../io/backend.js";
import { dailyPartitions, hourlyPartitions } from "../partitions/index.js";
import { env, resource } from "../resource.js";
import type { StepEvent } from "../step/events.js";
import { materialize, type MaterializeOptions } from "./materialize.js";
import { cleanupTempDirs, tempDir, thrown } from "../__tests__/helpers.js";

afterEach(cleanupTempDirs);

const NOW = new Date("2024-06-01T00:00:00Z");
const tick = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const frame = (n = 2) => pl.DataFrame({ x: Array.from({ length: n }, (_, i) => i) });

function run(defs: ReturnType<typeof definitions>, options: MaterializeOptions = {}) {
  const store = options.store ?? new LocalIOStore(tempDir());
  const events: StepEvent[] = [];
  const sleep = vi.fn(async (_ms: number) => undefined);
  const result = materialize(defs, { store, now: NOW, runId: "run-42", sleep, onEvent: (e) => events.push(e), env: {}, ...options });
  return { result, events, sleep, store };
}

/** Assets that record when they start and finish, and how many run at once. */
function tracked() {
  const log: string[] = [];
  let now = 0;
  let max = 0;
  const make = (key: string, deps: string[] = [], ms = 25) =>
    asset({
      key,
      deps,
      compute: async () => {
        log.push(`start ${key}`);
        max = Math.max(max, ++now);
        await tick(ms);
        now--;
        log.push(`end ${key}`);
        return frame();
      },
    });
  return { log, make, max: () => max };
}

describe("materialize", () => {
  it("runs in dependency order and returns per-asset status, timings and metadata", async () => {
    const t = tracked();
    const raw = t.make("raw");
    const clean = t.make("clean", ["raw"]);
    const report = t.make("report", ["clean", "raw"]);
    const defs = definitions({ assets: [report, clean, raw] });
    const { result } = run(defs);
    const r = await result;
    expect(t.log).toEqual(["start raw", "end raw", "start clean", "end clean", "start report", "end report"]);
    expect(r.runId).toBe("run-42");
    expect(r.status).toBe("success");
    expect(Object.keys(r.assets)).toEqual(["raw", "clean", "report"]);
    for (const id of ["raw", "clean", "report"]) {
      const a = r.assets[id]!;
      expect(a.status).toBe("success");
      expect(a.attempts).toBe(1);
      expect(a.error).toBeNull();
      expect(a.durationMs).toBeGreaterThanOrEqual(20);
      expect(a.materializations).toHaveLength(1);
      expect(a.materializations[0]!.metadata.rowCount).toBe(2);
      expect(a.materializations[0]!.dataVersion).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(r.durationMs).toBeGreaterThanOrEqual(r.assets.raw!.durationMs + r.assets.clean!.durationMs + r.assets.report!.durationMs - 1);
  });

  it("runs independent assets concurrently, never more than the limit at once", async () => {
    for (const limit of [1, 2, 3]) {
      const t = tracked();
      const assets = ["a", "b", "c", "d", "e", "f"].map((k) => t.make(k, [], 60));
      const { result } = run(definitions({ assets }), { concurrency: limit });
      expect((await result).status).toBe("success");
      expect(t.max()).toBe(limit);
    }
  });

  it("a pool of limit 1 keeps its assets from overlapping; the same assets without the pool overlap (issue 12)", async () => {
    const spans = new Map<string, { start: number; end: number }>();
    const timed = (key: string, pool?: string) =>
      asset({
        key,
        ...(pool !== undefined ? { pool } : {}),
        compute: async () => {
          const start = performance.now();
          await tick(150);
          spans.set(key, { start, end: performance.now() });
          return frame();
        },
      });
    const overlap = (x: string, y: string) => spans.get(x)!.start < spans.get(y)!.end && spans.get(y)!.start < spans.get(x)!.end;

    const pooled = definitions({ assets: [timed("a", "warehouse"), timed("b", "warehouse"), timed("free")], pools: { warehouse: { limit: 1 } } });
    expect((await run(pooled, { concurrency: 4 }).result).status).toBe("success");
    expect(overlap("a", "b"), "two assets of a limit-1 pool ran at once").toBe(false);
    // The pool holds back only its own assets: the free one ran beside them.
    expect(overlap("free", "a") || overlap("free", "b")).toBe(true);

    spans.clear();
    const unpooled = definitions({ assets: [timed("a"), timed("b"), timed("free")] });
    expect((await run(unpooled, { concurrency: 4 }).result).status).toBe("success");
    expect(overlap("a", "b"), "without the pool the same two assets should overlap").toBe(true);
  });

  it("a downstream asset waits for all its upstreams even when others could overlap", async () => {
    const t = tracked();
    const a = t.make("a", [], 400);
    const b = t.make("b", [], 10);
    const c = t.make("c", ["a", "b"], 10);
    const d = t.make("d", ["b"], 10);
    await run(definitions({ assets: [a, b, c, d] }), { concurrency: 4 }).result;
    expect(t.log.indexOf("start c")).toBeGreaterThan(t.log.indexOf("end a"));
    expect(t.log.indexOf("start d")).toBeGreaterThan(t.log.indexOf("end b"));
    expect(t.log.indexOf("start d")).toBeLessThan(t.log.indexOf("end a")); // d did not wait for a
    expect(t.max()).toBeGreaterThanOrEqual(2);
  });

  it("skips everything downstream of a failure and still runs the independent assets", async () => {
    const compute = vi.fn(() => frame());
    const bad = asset({
      key: "bad",
      compute: () => {
        throw new Error("source is down");
      },
    });
    const mid = asset({ key: "mid", inputs: { bad }, compute });
    const last = asset({ key: "last", inputs: { mid }, compute });
    const alone = asset({ key: "alone", compute: () => frame(3) });
    const { result, events } = run(definitions({ assets: [bad, mid, last, alone] }));
    const r = await result;
    expect(r.status).toBe("failure");
    expect(compute).not.toHaveBeenCalled();
    expect(r.assets.bad).toMatchObject({ status: "failure", attempts: 1, materializations: [] });
    expect(r.assets.bad!.error).toMatchObject({ name: "Error", message: "source is down" });
    expect(r.assets.mid).toEqual({ status: "skipped", attempts: 0, durationMs: 0, materializations: [], checks: [], error: null });
    expect(r.assets.last!.status).toBe("skipped");
    expect(r.assets.alone!.status).toBe("success");
    expect(events.filter((e) => e.type === "asset_skipped")).toEqual([
      { type: "asset_skipped", asset: "mid", reason: 'upstream "bad" did not succeed' },
      { type: "asset_skipped", asset: "last", reason: 'upstream "mid" did not succeed' },
    ]);
  });

  it("honours a retry policy: attempts counted, exponential backoff delays passed to sleep", async () => {
    const retries: number[] = [];
    let calls = 0;
    const flaky = asset({
      key: "flaky",
      retry: { maxRetries: 3, delaySeconds: 2, backoff: "exponential" },
      compute: (_i, ctx: AssetContext) => {
        retries.push(ctx.retryNumber);
        if (++calls < 4) throw new Error(`attempt ${calls} failed`);
        return frame();
      },
    });
    const { result, sleep, events } = run(definitions({ assets: [flaky] }));
    const r = await result;
    expect(r.status).toBe("success");
    expect(r.assets.flaky).toMatchObject({ status: "success", attempts: 4, error: null });
    expect(r.assets.flaky!.materializations).toHaveLength(1);
    expect(retries).toEqual([0, 1, 2, 3]);
    expect(sleep.mock.calls.map((c) => c[0])).toEqual([2000, 4000, 8000]);
    expect(events.filter((e) => e.type === "step_start").map((e) => (e as { retryNumber: number }).retryNumber)).toEqual([0, 1, 2, 3]);
  });

  it("retries a timed-out attempt under the retry policy (TIMEOUT is retryable)", async () => {
    const hangsOnce = asset({
      key: "hangs_once",
      timeoutSeconds: 0.2,
      retry: { maxRetries: 1 },
      compute: (_i, ctx) => (ctx.retryNumber === 0 ? new Promise<never>(() => undefined) : frame()),
    });
    const { result, events } = run(definitions({ assets: [hangsOnce] }));
    const r = await result;
    expect(r.assets.hangs_once).toMatchObject({ status: "success", attempts: 2, error: null });
    const failures = events.filter((e) => e.type === "asset_failure");
    expect(failures).toMatchObject([{ asset: "hangs_once", error: { code: "TIMEOUT", retryable: true } }]);
    expect(r.assets.hangs_once!.materializations).toHaveLength(1);
  });

  it("constant backoff waits the same delay; exhausted retries fail with the last error", async () => {
    let calls = 0;
    const never = asset({
      key: "never",
      retry: { maxRetries: 2, delaySeconds: 1.5 },
      compute: () => {
        throw new Error(`failure ${++calls}`);
      },
    });
    const down = asset({ key: "down", deps: [never], compute: () => frame() });
    const { result, sleep } = run(definitions({ assets: [never, down] }));
    const r = await result;
    expect(r.assets.never).toMatchObject({ status: "failure", attempts: 3 });
    expect(r.assets.never!.error!.message).toBe("failure 3");
    expect(sleep.mock.calls.map((c) => c[0])).toEqual([1500, 1500]);
    expect(r.assets.down!.status).toBe("skipped");
  });

  it("without a retry policy an asset runs once and nothing sleeps", async () => {
    const once = asset({ key: "once", compute: () => { throw new Error("no"); } });
    const { result, sleep } = run(definitions({ assets: [once] }));
    expect((await result).assets.once!.attempts).toBe(1);
    expect(sleep).not.toHaveBeenCalled();
  });

  it("reports check results per asset", async () => {
    const checked = asset({
      key: "checked",
      compute: () => frame(),
      checks: [
        { name: "rows", check: (df) => df.height === 2 },
        { name: "soft", severity: "warn", check: () => false },
      ],
    });
    const r = await run(definitions({ assets: [checked] })).result;
    expect(r.status).toBe("success");
    expect(r.assets.checked!.checks).toEqual([
      { check: "rows", partitionKey: null, passed: true, severity: "error" },
      { check: "soft", partitionKey: null, passed: false, severity: "warn" },
    ]);
  });

  it("an invalid partition key fails before any asset runs", async () => {
    const compute = vi.fn(() => frame());
    const plain = asset({ key: "plain", compute });
    const daily = asset({ key: "daily", deps: [plain], partitions: dailyPartitions({ start: "2024-01-01" }), compute });
    const { result, store, events } = run(definitions({ assets: [plain, daily] }), { partition: "2024-02-30" });
    const e = await thrown(() => result);
    expect(e).toMatchObject({ code: "UNKNOWN_PARTITION", asset: "daily" });
    expect(e.message).toContain('unknown partition key "2024-02-30"');
    expect(compute).not.toHaveBeenCalled();
    expect(events).toEqual([]);
    expect(readdirSync(store.url)).toEqual([]);
  });

  it("a range that ends before it starts, or a key after the last complete window, fails up front too", async () => {
    const compute = vi.fn(() => frame());
    const daily = asset({ key: "daily", partitions: dailyPartitions({ start: "2024-01-01" }), compute });
    const defs = definitions({ assets: [daily] });
    expect(await thrown(() => run(defs, { partitionRange: { start: "2024-01-05", end: "2024-01-01" } }).result)).toMatchObject({ code: "UNKNOWN_PARTITION" });
    expect(await thrown(() => run(defs, { partition: "2024-06-01" }).result)).toMatchObject({ code: "UNKNOWN_PARTITION" });
    expect(compute).not.toHaveBeenCalled();
  });

  it("an unknown selection is UNKNOWN_SELECTION", async () => {
    const defs = definitions({ assets: [asset({ key: "orders", compute: () => frame() })] });
    const e = await thrown(() => run(defs, { selection: "ordres" }).result);
    expect(e).toMatchObject({ code: "UNKNOWN_SELECTION" });
    expect(e.hint).toContain('"orders"');
  });

  it("runs only the selection, with its upstream when asked (+key)", async () => {
    const t = tracked();
    const defs = definitions({ assets: [t.make("a"), t.make("b", ["a"]), t.make("c", ["b"]), t.make("other")] });
    const only = await run(defs, { selection: "b" }).result;
    expect(Object.keys(only.assets)).toEqual(["b"]);
    expect(t.log).toEqual(["start b", "end b"]);
    t.log.length = 0;
    const up = await run(defs, { selection: "+b" }).result;
    expect(Object.keys(up.assets)).toEqual(["a", "b"]);
    expect(t.log).toEqual(["start a", "end a", "start b", "end b"]);
  });

  it("a partition range gives one materialization per key", async () => {
    const daily = asset({ key: "daily", partitions: dailyPartitions({ start: "2024-01-01" }), compute: (_i, ctx) => pl.DataFrame({ d: [ctx.partitionKey!] }) });
    const r = await run(definitions({ assets: [daily] }), { partitionRange: { start: "2024-01-01", end: "2024-01-04" } }).result;
    expect(r.assets.daily!.materializations.map((m) => m.partitionKey)).toEqual(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]);
  });

  it("passes environment and ready-made resources to the steps", async () => {
    const warehouse = resource({ config: { url: env("WAREHOUSE_URL") }, create: ({ url }) => ({ url }) });
    let url = "";
    const a = asset({ key: "a", resources: ["warehouse"], compute: (_i, ctx) => ((url = (ctx.resources.warehouse as { url: string }).url), frame()) });
    const defs = definitions({ assets: [a], resources: { warehouse } });
    expect((await run(defs, { env: { WAREHOUSE_URL: "pg://one" } }).result).status).toBe("success");
    expect(url).toBe("pg://one");
    expect((await run(defs, { resources: { warehouse: { url: "fake://" } } }).result).status).toBe("success");
    expect(url).toBe("fake://");
    const missing = await run(defs, { env: {} }).result;
    expect(missing.assets.a!.error).toMatchObject({ code: "MISSING_ENV" });
    expect(missing.assets.a!.error!.message).toContain("WAREHOUSE_URL");
  });
});

describe("materialize: standalone checks and checks alone (CHECKS-CONTRACT.md §3)", () => {
  const graph = () => {
    const order: string[] = [];
    const make = (key: string, n: number, deps: AssetDefinition<any, any>[] = [], fail = false) =>
      asset({
        key,
        inputs: Object.fromEntries(deps.map((d) => [d.id, d])),
        compute: () => {
          order.push(key);
          if (fail) throw new Error(`${key} failed`);
          return frame(n);
        },
      });
    const customers = make("customers", 2);
    const orders = make("orders", 2, [customers]);
    const report = make("report", 1, [orders]);
    const broken = make("broken", 1, [], true);
    const seen: string[] = [];
    const sameSize = assetCheck({
      name: "same_size",
      asset: orders,
      inputs: { customers: input(customers, { as: "arrow" }) },
      check: (o, { customers }) => (seen.push(`same_size saw ${order.join(",")}`), o.height === customers.numRows),
    });
    const tooBig = assetCheck({ name: "too_big", asset: orders, check: (o) => o.height < 2 });
    const soft = assetCheck({ name: "soft", asset: orders, severity: "warn", check: () => false });
    const onBroken = assetCheck({ name: "on_broken", asset: broken, check: () => true });
    const readsBroken = assetCheck({ name: "reads_broken", asset: customers, inputs: { broken }, check: () => true });
    const defs = definitions({ assets: [report], checks: [sameSize, tooBig, soft, onBroken, readsBroken] });
    return { defs, order, seen };
  };

  it("runs each standalone check as its own step after its target and in-run inputs, blocking nothing; the run fails iff an error check failed", async () => {
    const { defs, seen } = graph();
    const { result, events } = run(defs, { selection: "customers,orders,report", checks: ["same_size", "too_big", "soft", "reads_broken"] });
    const r = await result;
    expect(r.status).toBe("failure");
    expect(r.assets.report!.status).toBe("success"); // a failed check blocks nothing downstream
    expect(r.assets.orders!.status).toBe("success");
    expect(seen).toEqual([expect.stringMatching(/^same_size saw customers,orders/)]);
    expect(r.checkSteps.map((c) => [c.asset, c.check, c.status, c.error?.code ?? null])).toEqual([
      ["customers", "reads_broken", "failure", "MISSING_OUTPUT"], // broken is not in the run, nor stored
      ["orders", "same_size", "success", null],
      ["orders", "too_big", "failure", "CHECK_FAILED"],
      ["orders", "soft", "success", null],
    ]);
    expect(r.failure).toMatchObject({ asset: "customers", check: "reads_broken", error: { code: "MISSING_OUTPUT" } });
    expect(r.assets.orders!.checks).toEqual([
      { check: "same_size", partitionKey: null, passed: true, severity: "error" },
      { check: "too_big", partitionKey: null, passed: false, severity: "error" },
      { check: "soft", partitionKey: null, passed: false, severity: "warn" },
    ]);
    expect(r.assets.orders!.materializations).toHaveLength(1);
    // No check runs inside the asset's own step.
    const orderSteps = events.filter((e) => e.type === "step_start" && e.assets.includes("orders"));
    expect(orderSteps).toHaveLength(4);
  });

  it("a check step is skipped when its target or an in-run input failed", async () => {
    const { defs } = graph();
    const r = await run(defs, { selection: "broken,customers", checks: ["on_broken", "reads_broken"] }).result;
    expect(r.checkSteps.map((c) => [c.asset, c.check, c.status])).toEqual([
      ["customers", "reads_broken", "skipped"],
      ["broken", "on_broken", "skipped"],
    ]);
    expect(r.failure).toMatchObject({ asset: "broken" });
    const passing = await run(defs, { selection: "customers,orders", checks: ["same_size", "soft"] }).result;
    expect(passing.status).toBe("success"); // a failed warn check does not fail the run
    expect(passing.checkSteps.map((c) => c.status)).toEqual(["success", "success"]);
  });

  it("checksOnly runs the chosen checks against stored outputs: nothing computed, no materializations", async () => {
    const { defs, order } = graph();
    const first = run(defs, { selection: "customers,orders,report" });
    await first.result;
    order.length = 0;
    const r = await run(defs, { store: first.store, checksOnly: true, checks: ["same_size", "soft"] }).result;
    expect(order).toEqual([]);
    expect(r.status).toBe("success");
    expect(Object.keys(r.assets)).toEqual(["orders"]);
    expect(r.assets.orders).toMatchObject({ status: "success", materializations: [], checks: [{ check: "same_size", passed: true }, { check: "soft", passed: false }] });
    expect(r.checkSteps).toEqual([]);
    const failing = await run(defs, { store: first.store, checksOnly: true, selection: "orders" }).result;
    expect(failing).toMatchObject({ status: "failure", failure: { asset: "orders", error: { code: "CHECK_FAILED" } } });
    expect(failing.assets.orders!.checks.map((c) => c.check)).toEqual(["same_size", "too_big", "soft"]);
    // A missing output (broken was never written) fails that asset only.
    const missing = await run(defs, { store: first.store, checksOnly: true, checks: ["on_broken", "same_size"] }).result;
    expect(missing.assets.broken).toMatchObject({ status: "failure", error: { code: "MISSING_OUTPUT" } });
    expect(missing.assets.orders!.status).toBe("success");
    const typo = await thrown(() => run(defs, { checksOnly: true, checks: ["same_sise"] }).result);
    expect(typo).toMatchObject({ code: "INVALID_DEFINITION" });
    expect(typo.message).toContain('no check named "same_sise" on the selected assets');
  });
});

describe("materialize: retries by failure class (issue 10)", () => {
  it("does not retry a deterministic failure; retries a transient one per policy", async () => {
    let calls = 0;
    const needs = resource({ config: { url: env("NEVER_SET_URL") }, create: ({ url }) => url });
    const missing = asset({ key: "missing", resources: ["needs"], retry: { maxRetries: 2 }, compute: () => frame() });
    const wrong = asset({ key: "wrong", retry: { maxRetries: 2 }, compute: () => 42 as never });
    const flaky = asset({ key: "flaky", retry: { maxRetries: 2 }, compute: () => { throw new Error(`try ${++calls}`); } });
    const { result, sleep } = run(definitions({ assets: [missing, wrong, flaky], resources: { needs } }));
    const r = await result;
    expect(r.assets.missing).toMatchObject({ status: "failure", attempts: 1, error: { code: "MISSING_ENV", retryable: false } });
    expect(r.assets.wrong).toMatchObject({ status: "failure", attempts: 1, error: { code: "WRONG_OUTPUT_TYPE", retryable: false } });
    expect(r.assets.flaky).toMatchObject({ status: "failure", attempts: 3, error: { message: "try 3", retryable: true } });
    expect(sleep).toHaveBeenCalledTimes(2);
  });
});

describe("materialize: one planner (planRun, issue 10)", () => {
  const hourlyAndDaily = (timezone = "UTC") => {
    const hours: string[][] = [];
    const raw = asset({
      key: ["raw", "events"],
      partitions: hourlyPartitions({ start: "2024-01-01T00:00", timezone }),
      compute: (_i, ctx) => pl.DataFrame({ hour: ctx.partitionKeys.length ? [ctx.partitionKey!] : [] }),
    });
    const sessions = asset({
      key: "sessions",
      inputs: { raw },
      partitions: dailyPartitions({ start: "2024-01-01", timezone }),
      compute: ({ raw }) => (hours.push(raw.getColumn("hour").toArray() as string[]), pl.DataFrame({ n: [raw.height] })),
    });
    const plain = asset({ key: "plain", compute: () => frame() });
    return { defs: definitions({ assets: [raw, sessions, plain] }), hours };
  };

  it("run everything without a key: partitioned assets are skipped with the reason, the rest runs, the run succeeds", async () => {
    const { defs } = hourlyAndDaily();
    const { result, events } = run(defs);
    const r = await result;
    expect(r.status).toBe("success");
    expect(Object.keys(r.assets)).toEqual(["raw/events", "sessions", "plain"]);
    expect(r.assets.plain!.status).toBe("success");
    for (const id of ["raw/events", "sessions"]) expect(r.assets[id]).toEqual({ status: "skipped", attempts: 0, durationMs: 0, materializations: [], checks: [], error: null });
    const skips = events.filter((e) => e.type === "asset_skipped");
    expect(skips.map((e) => e.asset)).toEqual(["raw/events", "sessions"]);
    for (const e of skips) expect(e.reason).toMatch(/^partitioned by .+; pass a partition key or range to run it$/);
    expect(r.plan.skipped.map((x) => x.id)).toEqual(["raw/events", "sessions"]);
    expect(r.failure).toBeNull();
    expect(events.filter((e) => e.type === "step_start").map((e) => e.assets)).toEqual([["plain"]]);
  });

  it("an unpartitioned reader of a skipped asset runs, with a warning log event", async () => {
    const daily = asset({ key: "daily", partitions: dailyPartitions({ start: "2024-01-01" }), compute: () => frame() });
    const summary = asset({ key: "summary", inputs: { daily }, compute: ({ daily }) => pl.DataFrame({ n: [daily.height] }) });
    const store = new LocalIOStore(tempDir());
    await run(definitions({ assets: [daily, summary] }), { store, selection: "daily", partition: "2024-01-02" }).result;
    const { result, events } = run(definitions({ assets: [daily, summary] }), { store });
    const r = await result;
    expect(r.status).toBe("success");
    expect(r.assets.summary!.materializations[0]!.metadata.rowCount).toBe(1);
    const warnings = events.filter((e): e is Extract<StepEvent, { type: "log" }> => e.type === "log" && e.level === "warning");
    expect(warnings).toEqual([{ type: "log", level: "warning", message: '"summary" reads "daily", which this run skips: it reads the partitions already materialized', asset: null }]);
    expect(r.plan.warnings).toEqual([warnings[0]!.message]);
  });

  it("--select +X --partition DAY with an hourly upstream runs the day's 24 hours (one step), then the day", async () => {
    const { defs, hours } = hourlyAndDaily();
    const { result, events } = run(defs, { selection: "+sessions", partition: "2024-03-10" });
    const r = await result;
    expect(r.status).toBe("success");
    expect(Object.keys(r.assets)).toEqual(["raw/events", "sessions"]);
    const keys = r.assets["raw/events"]!.materializations.map((m) => m.partitionKey);
    expect(keys).toHaveLength(24);
    expect([keys[0], keys[23]]).toEqual(["2024-03-10-00:00", "2024-03-10-23:00"]);
    expect(r.assets.sessions!.materializations.map((m) => m.partitionKey)).toEqual(["2024-03-10"]);
    expect(hours).toEqual([keys]);
    // One step for the range of hours, then one for the day.
    const starts = events.filter((e) => e.type === "step_start");
    expect(starts.map((e) => [e.assets, e.partitionKeys.length])).toEqual([[["raw/events"], 24], [["sessions"], 1]]);
  });

  it.each([
    ["the autumn change (25 hours)", "2024-11-03", 25],
    ["the spring change (23 hours)", "2024-03-10", 23],
  ])("on %s in New York, a day runs its upstream hours", async (_what, day, n) => {
    const { defs, hours } = hourlyAndDaily("America/New_York");
    const r = await run(defs, { selection: "+sessions", partition: day, now: new Date("2025-01-01T00:00:00Z") }).result;
    expect(r.status).toBe("success");
    const keys = r.assets["raw/events"]!.materializations.map((m) => m.partitionKey!);
    expect(keys).toHaveLength(n);
    expect(new Set(keys).size).toBe(n);
    expect(keys.every((k) => k.startsWith(day))).toBe(true);
    // Dagster's keys: the repeated 01:00 is two windows, the second keyed with its offset.
    if (n === 25) expect(keys).toEqual(expect.arrayContaining([`${day}-01:00`, `${day}-01:00-0500`]));
    expect(hours).toEqual([keys]);
    expect(r.assets.sessions!.materializations.map((m) => m.partitionKey)).toEqual([day]);
  });

  it("a key for a selection with no partitioned asset is an error before anything runs", async () => {
    const compute = vi.fn(() => frame());
    const defs = definitions({ assets: [asset({ key: "a", compute }), asset({ key: "b", deps: ["a"], compute })] });
    const { result, events } = run(defs, { selection: "+b", partition: "2024-01-01" });
    const e = await thrown(() => result);
    expect(e).toMatchObject({ code: "UNKNOWN_PARTITION" });
    expect(e.message).toContain('"a", "b" are not partitioned; drop --partition');
    expect(compute).not.toHaveBeenCalled();
    expect(events).toEqual([]);
  });

  it("a key with unpartitioned assets in the selection runs them once, with a warning", async () => {
    const plain = asset({ key: "plain", compute: () => frame() });
    const daily = asset({ key: "daily", deps: [plain], partitions: dailyPartitions({ start: "2024-01-01" }), compute: () => frame() });
    const { result, events } = run(definitions({ assets: [plain, daily] }), { partition: "2024-01-02" });
    const r = await result;
    expect(r.status).toBe("success");
    expect(r.assets.plain!.materializations.map((m) => m.partitionKey)).toEqual([null]);
    expect(events.filter((e) => e.type === "log" && e.level === "warning").map((e) => (e as { message: string }).message)).toEqual(['"plain" is not partitioned: it runs once, not per partition']);
  });

  it("several failures: the run's failure is the first in run order, whatever order they finished in", async () => {
    const late = asset({ key: "late", compute: async () => (await tick(150), Promise.reject(new Error("late failed"))) });
    const early = asset({ key: "early", compute: () => { throw new Error("early failed"); } });
    const defs = definitions({ assets: [late, early] });
    const { result, events } = run(defs);
    const r = await result;
    expect(events.filter((e) => e.type === "asset_failure").map((e) => e.asset)).toEqual(["early", "late"]);
    expect(r.status).toBe("failure");
    expect(r.failure).toMatchObject({ asset: "late", error: { message: "late failed" } });
  });

  it("retries each partition range on its own; the asset's attempts are its most-tried step's", async () => {
    let calls = 0;
    const daily = asset({
      key: "daily",
      partitions: dailyPartitions({ start: "2024-01-01" }),
      retry: { maxRetries: 2 },
      compute: (_i, ctx) => {
        if (ctx.partitionKey === "2024-01-03" && ++calls < 2) throw new Error("flaky");
        return pl.DataFrame({ d: [ctx.partitionKey!] });
      },
    });
    const { result, events } = run(definitions({ assets: [daily] }), { partitionRange: { start: "2024-01-01", end: "2024-01-04" } });
    const r = await result;
    expect(r.assets.daily).toMatchObject({ status: "success", attempts: 2, error: null });
    // The retry re-runs the step's range; what the failed attempt reported is replaced.
    expect(r.assets.daily!.materializations.map((m) => m.partitionKey)).toEqual(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]);
    expect(events.filter((e) => e.type === "step_start").map((e) => e.retryNumber)).toEqual([0, 1]);
  });
});

/** A store whose records live in memory: steps on it never wait on IO (side-effect assets only). */
function memoryStore(): BackendIOStore {
  const files = new Map<string, Buffer>();
  const dataless = () => Promise.reject(new Error("this test store holds records only"));
  const backend: StoreBackend = {
    url: "memory://test",
    location: (rel) => `memory://test/${rel}`,
    prepare: async () => undefined,
    dataName: (hash16, ext) => `${hash16}.${ext}`,
    putData: dataless,
    readData: dataless,
    commitRecord: async (rel, bytes) => {
      files.set(rel, Buffer.from(bytes));
      return {};
    },
    get: async (rel) => files.get(rel),
    childrenWithRecord: async () => [],
    removeStale: async () => undefined,
    listFiles: async () => [...files.keys()].sort(),
  };
  return new BackendIOStore(backend);
}

describe("materialize at scale", () => {
  it("a failure at the head of a 20,000-asset chain skips the rest in chain order (no recursion to overflow the stack)", async () => {
    const chain: AssetDefinition<any, any>[] = [asset({ key: "c0", output: "none", compute: () => { throw new Error("head failed"); } })];
    for (let i = 1; i < 20_000; i++) chain.push(asset({ key: `c${i}`, output: "none", deps: [chain[i - 1]!], compute: () => undefined }));
    const events: StepEvent[] = [];
    const r = await materialize(definitions({ assets: [...chain].reverse() }), { store: memoryStore(), env: {}, onEvent: (e) => events.push(e) });
    expect(r.status).toBe("failure");
    expect(r.failure).toMatchObject({ asset: "c0", error: { message: "head failed" } });
    const skips = events.filter((e) => e.type === "asset_skipped");
    expect(skips).toHaveLength(19_999);
    expect(skips[0]).toEqual({ type: "asset_skipped", asset: "c1", reason: 'upstream "c0" did not succeed' });
    expect(skips[19_998]).toEqual({ type: "asset_skipped", asset: "c19999", reason: 'upstream "c19998" did not succeed' });
    expect(Object.keys(r.assets)).toHaveLength(20_000);
    expect(r.assets.c19999!.status).toBe("skipped");
  });

  it("steps that never wait on IO still let timers run: an abort from a timer stops a run of 5,000 instant assets", async () => {
    const assets = Array.from({ length: 5_000 }, (_, i) => asset({ key: `s${i}`, output: "none", compute: () => undefined }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const r = await materialize(definitions({ assets }), { store: memoryStore(), env: {}, signal: controller.signal });
    const statuses = Object.values(r.assets).map((a) => a.status);
    expect(r.status).toBe("failure");
    // Some ran before the timer fired; the rest never started and fail as cancelled.
    expect(statuses.filter((s) => s === "success").length).toBeGreaterThan(0);
    const cancelled = Object.values(r.assets).filter((a) => a.status === "failure");
    expect(cancelled.length).toBeGreaterThan(0);
    expect(cancelled[0]!.error).toMatchObject({ name: "StepCancelled" });
  });

  it("a pool of limit 1 among many ready assets: its assets run one at a time in run order, the others fill the remaining slots", async () => {
    const starts: string[] = [];
    let pooledNow = 0;
    let pooledMax = 0;
    let allNow = 0;
    let allMax = 0;
    const make = (key: string, pooled: boolean) =>
      asset({
        key,
        ...(pooled ? { pool: "warehouse" } : {}),
        compute: async () => {
          starts.push(key);
          allMax = Math.max(allMax, ++allNow);
          if (pooled) pooledMax = Math.max(pooledMax, ++pooledNow);
          await tick(pooled ? 150 : 10);
          if (pooled) pooledNow--;
          allNow--;
          return frame();
        },
      });
    // a0..a3 share the pool and come first in run order: a1..a3 are held back while a0 runs.
    const assets = Array.from({ length: 12 }, (_, i) => make(`a${i}`, i < 4));
    const r = await run(definitions({ assets, pools: { warehouse: { limit: 1 } } }), { concurrency: 3 }).result;
    expect(r.status).toBe("success");
    expect(pooledMax).toBe(1);
    expect(allMax).toBe(3);
    expect(starts.filter((k) => ["a0", "a1", "a2", "a3"].includes(k))).toEqual(["a0", "a1", "a2", "a3"]);
    // The free assets did not queue behind the held-back ones: all of them started before a2 (~300 ms in).
    for (let i = 4; i < 12; i++) expect(starts.indexOf(`a${i}`)).toBeLessThan(starts.indexOf("a2"));
  });
});
