import pl from "nodejs-polars";
import { readdirSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { asset, type AssetContext } from "../asset.js";
import { definitions } from "../definitions.js";
import { LocalIOStore } from "../io/store.js";
import { dailyPartitions } from "../partitions/index.js";
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
    expect(readdirSync(store.root)).toEqual([]);
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
