import pl from "nodejs-polars";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { asset, type AssetContext } from "./asset.js";
import { assetCheck } from "./asset-check.js";
import { assetGroup, type AssetSpec, type GroupContext, type GroupResult } from "./asset-group.js";
import { definitions } from "./definitions.js";
import { BackendIOStore, LocalIOStore } from "./io/store.js";
import { LocalBackend } from "./io/local-backend.js";
import type { StoreBackend } from "./io/backend.js";
import { staticPartitions } from "./partitions/index.js";
import type { StepEvent } from "./step/events.js";
import { runStep } from "./step/run.js";
import { materialize } from "./executor/materialize.js";
import { toManifest } from "./manifest/build.js";
import { keyToString } from "./keys.js";
import { cleanupTempDirs, tempDir } from "./__tests__/helpers.js";

afterEach(cleanupTempDirs);

const NOW = new Date("2024-06-01T00:00:00Z");
const regions = staticPartitions(["eu", "us"]);
/** The data each spec writes, by id and partition key: the same in the group and in the plain assets. */
const dataOf = (id: string, key: string | undefined) => pl.DataFrame({ id: [1, 2, 3], who: [id, id, id], part: [key ?? "-", key ?? "-", key ?? "-"] });

interface Behaviour {
  readonly fail?: readonly string[];
  readonly forget?: readonly string[];
  readonly noFile?: readonly string[];
  readonly checks?: GroupResult["checks"];
}

/** A group whose execute writes `dataOf` for each selected spec, counting its calls and what they selected. */
function makeGroup(specs: readonly AssetSpec[], behaviour: Behaviour = {}, partitions = false) {
  const calls: { selected: string[]; partitionKey: string | undefined; checks: string[] }[] = [];
  const inputs: Record<string, string> = {};
  const group = assetGroup({
    name: "warehouse",
    specs,
    ...(partitions ? { partitions: regions } : {}),
    async execute(ctx: GroupContext) {
      calls.push({ selected: ctx.selected.map(keyToString), partitionKey: ctx.partitionKey, checks: ctx.selectedChecks.map((c) => `${keyToString(c.asset)}:${c.name}`) });
      const result: { materializations: { key: readonly string[] }[]; checks: GroupResult["checks"]; failures: { key: readonly string[]; error: Error }[] } = {
        materializations: [],
        checks: behaviour.checks ?? [],
        failures: [],
      };
      for (const key of ctx.selected) {
        const id = keyToString(key);
        if (id === "ranked") inputs[id] = await ctx.inputFile("enriched");
        if (behaviour.fail?.includes(id)) result.failures.push({ key, error: new Error(`model ${id} broke`) });
        else if (behaviour.forget?.includes(id)) continue;
        else {
          if (!behaviour.noFile?.includes(id)) dataOf(id, ctx.partitionKey).writeParquet(ctx.outputFile(key));
          result.materializations.push({ key });
        }
      }
      return result;
    },
  });
  return { group, calls, inputs };
}

const chain: AssetSpec[] = [{ key: "raw", kinds: ["dbt", "duckdb"] }, { key: "clean", deps: ["raw"] }, { key: "summary", deps: ["clean"], codeVersion: "v7" }];

function runIt(defs: ReturnType<typeof definitions>, store = new LocalIOStore(tempDir()), options: Parameters<typeof materialize>[1] = {}) {
  const events: StepEvent[] = [];
  const result = materialize(defs, { store, now: NOW, runId: "run-1", env: {}, sleep: async () => undefined, onEvent: (e) => events.push(e), ...options });
  return { result, events, store };
}

describe("assetGroup through materialize()", () => {
  it("runs one execute per partition key for every selected spec; records and hashes equal plain assets writing the same data", async () => {
    const { group, calls } = makeGroup(chain, {}, true);
    const { result, store } = runIt(definitions({ assets: [group] }), undefined, { partitionRange: { start: "eu", end: "us" } });
    const r = await result;
    expect(r.status).toBe("success");
    expect(calls).toEqual([
      { selected: ["raw", "clean", "summary"], partitionKey: "eu", checks: [] },
      { selected: ["raw", "clean", "summary"], partitionKey: "us", checks: [] },
    ]);
    const plain = ["raw", "clean", "summary"].map((id, i) =>
      asset({ key: id, deps: i > 0 ? [["raw", "clean"][i - 1]!] : [], partitions: regions, compute: (_: object, ctx: AssetContext) => dataOf(id, ctx.partitionKey as string) }),
    );
    const plainStore = new LocalIOStore(tempDir());
    expect((await runIt(definitions({ assets: plain }), plainStore, { partitionRange: { start: "eu", end: "us" } }).result).status).toBe("success");
    for (const id of ["raw", "clean", "summary"]) {
      for (const key of ["eu", "us"]) {
        const got = (await store.readRecord([id], key))!;
        const want = (await plainStore.readRecord([id], key))!;
        expect(got.contentHash).toBe(want.contentHash);
        expect(got.file).toBe(want.file);
        expect(got.rowCount).toBe(3);
        expect(got.producedAs).toBe("polars");
      }
    }
    expect((await store.readRecord(["summary"], "eu"))!.codeVersion).toBe("v7");
    expect(r.assets.summary!.materializations.map((m) => m.partitionKey)).toEqual(["eu", "us"]);
  });

  it("a TypeScript asset between specs: the group runs in two waves; inputFile names the exact committed file", async () => {
    const specs: AssetSpec[] = [{ key: "orders" }, { key: "ranked", deps: ["enriched"] }];
    const { group, calls, inputs } = makeGroup(specs);
    const enriched = asset({
      key: "enriched",
      inputs: { orders: group.asset("orders") },
      compute: ({ orders }) => orders.withColumns(pl.lit("yes").alias("enriched")),
    });
    const { result, store, events } = runIt(definitions({ assets: [group, enriched] }));
    const r = await result;
    expect(r.status).toBe("success");
    expect(calls.map((c) => c.selected)).toEqual([["orders"], ["ranked"]]);
    const record = (await store.readRecord(["enriched"], undefined))!;
    expect(inputs.ranked).toBe(store.locationOf(["enriched"], undefined, record.file!));
    expect(pl.readParquet(inputs.ranked!).getColumn("enriched").toArray()).toEqual(["yes", "yes", "yes"]);
    const order = events.filter((e) => e.type === "materialization").map((e) => (e as { asset: string }).asset);
    expect(order).toEqual(["orders", "enriched", "ranked"]);
  });

  it("specs some of which wait on a TypeScript asset upstream of the group still run as one step (one execute)", async () => {
    for (const order of [["a", "b", "c"], ["b", "c", "a"]]) {
      const all: Record<string, AssetSpec> = { a: { key: "a", deps: ["seed"] }, b: { key: "b" }, c: { key: "c", deps: ["a", "b"] } };
      const { group, calls } = makeGroup(order.map((k) => all[k]!));
      const seed = asset({ key: "seed", compute: async () => (await new Promise((r) => setTimeout(r, 20)), dataOf("seed", undefined)) });
      const r = await runIt(definitions({ assets: [seed, group] }), undefined, { concurrency: 4 }).result;
      expect(r.status, order.join()).toBe("success");
      expect(calls.map((c) => [...c.selected].sort()), order.join()).toEqual([["a", "b", "c"]]);
    }
  });

  it("failures fail their assets (no record) and skip what depends on them; a forgotten spec is an error naming it; a missing file names spec, group and path", async () => {
    const specs: AssetSpec[] = [{ key: "a" }, { key: "b", deps: ["a"] }, { key: "c" }, { key: "d" }, { key: "e" }];
    const { group } = makeGroup(specs, { fail: ["a"], forget: ["b", "c"], noFile: ["d"] });
    const { result, store } = runIt(definitions({ assets: [group] }));
    const r = await result;
    expect(r.status).toBe("failure");
    expect(r.assets.a!.status).toBe("failure");
    expect(r.assets.a!.error!.message).toContain("model a broke");
    expect(r.assets.b!.status).toBe("skipped");
    expect(r.assets.c!.status).toBe("failure");
    expect(r.assets.c!.error!.message).toMatch(/execute neither materialized nor failed "c"/);
    expect(r.assets.d!.error!.message).toMatch(/asset group "warehouse" reported "d" materialized but wrote no Parquet file at .*data\.parquet/);
    expect(r.assets.e!.status).toBe("success");
    for (const id of ["a", "b", "c", "d"]) expect(await store.readRecord([id], undefined)).toBeUndefined();
    expect(await store.readRecord(["e"], undefined)).toBeDefined();
  });

  it("check verdicts from execute are the specs' checks: reported, then CHECK_FAILED for a failed error check after all are reported", async () => {
    const specs: AssetSpec[] = [
      { key: "a", checks: [{ name: "not_null", description: "no nulls" }, { name: "fresh", severity: "warn" }] },
      { key: "b", deps: ["a"] },
    ];
    const { group, calls } = makeGroup(specs, {
      checks: [
        { asset: "a", name: "not_null", passed: false, metadata: { failures: 2 } },
        { asset: "a", name: "fresh", passed: false },
      ],
    });
    const { result, events, store } = runIt(definitions({ assets: [group] }));
    const r = await result;
    expect(calls[0]!.checks).toEqual(["a:not_null", "a:fresh"]);
    const checks = events.filter((e) => e.type === "check");
    expect(checks).toMatchObject([
      { asset: "a", check: "not_null", passed: false, severity: "error", description: "no nulls", metadata: { failures: 2 } },
      { asset: "a", check: "fresh", passed: false, severity: "warn" },
    ]);
    const failure = events.findIndex((e) => e.type === "asset_failure");
    expect(failure).toBeGreaterThan(events.lastIndexOf(checks.at(-1)!));
    expect(r.assets.a!.status).toBe("failure");
    expect(r.assets.a!.error!.code).toBe("CHECK_FAILED");
    // The output was written: the checks judge it.
    expect(await store.readRecord(["a"], undefined)).toBeDefined();
    // b was in the same execute: it was materialized before the verdict.
    expect(r.assets.b!.status).toBe("success");
  });

  it("runStep with one asset of a group (the adapters' path) calls execute with that one key", async () => {
    const { group, calls } = makeGroup(chain, {}, true);
    const defs = definitions({ assets: [group] });
    const store = new LocalIOStore(tempDir());
    const events: StepEvent[] = [];
    for (const id of ["raw", "clean"]) {
      const step = await runStep({ definitions: defs, assets: [id], partitionKey: "us", runId: "r", store, env: {}, onEvent: (e) => events.push(e) });
      expect(step.status).toBe("success");
      expect(step.assets[id]!.records).toHaveLength(1);
    }
    expect(calls).toEqual([
      { selected: ["raw"], partitionKey: "us", checks: [] },
      { selected: ["clean"], partitionKey: "us", checks: [] },
    ]);
    expect((await store.read(["clean"], "us")).frame.getColumn("who").toArray()).toEqual(["clean", "clean", "clean"]);
    expect(events.filter((e) => e.type === "materialization").map((e) => (e as { asset: string }).asset)).toEqual(["raw", "clean"]);
  });

  it("the manifest lists the specs as assets with kinds, batch, declared code versions and their checks", () => {
    const { group } = makeGroup([{ key: "raw", kinds: ["dbt", "duckdb"], codeVersion: "abc", checks: [{ name: "unique", severity: "warn" }] }, { key: "clean", deps: ["raw"], output: "none" }]);
    const other = asset({ key: "report", inputs: { clean: group.asset("raw") }, compute: ({ clean }) => clean });
    const defs = definitions({ assets: [group, other] });
    const m = toManifest(defs, { module: import.meta.filename, manifestDir: tempDir(), moduleHash: "sha256:0" });
    const raw = m.assets.find((a) => a.id === "raw")!;
    expect(raw).toMatchObject({ kinds: ["dbt", "duckdb"], batch: "warehouse", codeVersion: "abc", codeVersionSource: "declared", checks: [{ name: "unique", severity: "warn", standalone: false }] });
    expect(m.assets.find((a) => a.id === "clean")).toMatchObject({ batch: "warehouse", output: "none", kinds: [] });
    expect(m.assets.find((a) => a.id === "report")).toMatchObject({ batch: null, kinds: [] });
  });

  it("an output \"none\" spec gets a record without data", async () => {
    const { group } = makeGroup([{ key: "view", output: "none" }]);
    const { result, store } = runIt(definitions({ assets: [group] }));
    expect((await result).status).toBe("success");
    expect((await store.readRecord(["view"], undefined))!.format).toBe("none");
  });
});

describe("assetGroup and standalone checks", () => {
  it("a standalone check of a spec runs in its own step after the group; a check-only step names spec checks as not runnable alone", async () => {
    const { group } = makeGroup([{ key: "a", checks: [{ name: "inline_one" }] }], { checks: [{ asset: "a", name: "inline_one", passed: true }] });
    const rows = assetCheck({ name: "three_rows", asset: group.asset("a"), check: (df) => df.height === 3 });
    const defs = definitions({ assets: [group], checks: [rows] });
    const store = new LocalIOStore(tempDir());
    const r = await runIt(defs, store).result;
    expect(r.status).toBe("success");
    expect(r.assets.a!.checks.map((c) => [c.check, c.passed])).toEqual([
      ["inline_one", true],
      ["three_rows", true],
    ]);
    const alone = await runStep({ definitions: defs, assets: ["a"], checksOnly: true, checks: ["inline_one"], runId: "r", store, env: {}, onEvent: () => undefined });
    expect(alone.status).toBe("failure");
    expect(alone.assets.a!.error).toMatch(/"inline_one" of asset group "warehouse" has its verdict from the group's execute/);
  });
});

describe("assetGroup in one step and on a remote store", () => {
  it("runStep with spec → TypeScript asset → spec selected: two execute calls around the TypeScript asset", async () => {
    const { group, calls } = makeGroup([{ key: "orders" }, { key: "ranked", deps: ["enriched"] }]);
    const enriched = asset({ key: "enriched", inputs: { orders: group.asset("orders") }, compute: ({ orders }) => orders });
    const defs = definitions({ assets: [group, enriched] });
    const events: StepEvent[] = [];
    const step = await runStep({ definitions: defs, assets: ["ranked", "enriched", "orders"], runId: "r", store: new LocalIOStore(tempDir()), env: {}, onEvent: (e) => events.push(e) });
    expect(step.status).toBe("success");
    expect(calls.map((c) => c.selected)).toEqual([["orders"], ["ranked"]]);
    expect(events.filter((e) => e.type === "materialization").map((e) => (e as { asset: string }).asset)).toEqual(["orders", "enriched", "ranked"]);
  });

  it("inputFile on a store whose files are not local: a copy of the committed file's bytes in the call's temp folder", async () => {
    const inner = new LocalBackend(tempDir());
    // The same bytes behind a location that is no local path (as an s3:// store's).
    const remote = new Proxy(inner, {
      get: (target, name) => (name === "location" ? (rel: string) => `s3://fake/${rel}` : name === "url" ? "s3://fake" : (Reflect.get(target, name) as (...args: unknown[]) => unknown).bind(target)),
    }) as StoreBackend;
    const store = new BackendIOStore(remote);
    const upstream = asset({ key: "src", compute: () => dataOf("src", undefined) });
    let seen: { path: string; bytes: Buffer } | undefined;
    const group = assetGroup({
      name: "g",
      specs: [{ key: "dst", deps: ["src"] }],
      async execute(ctx) {
        const path = await ctx.inputFile("src");
        seen = { path, bytes: readFileSync(path) };
        pl.readParquet(path).writeParquet(ctx.outputFile("dst"));
        return { materializations: [{ key: "dst" }], checks: [], failures: [] };
      },
    });
    const r = await runIt(definitions({ assets: [upstream, group] }), store as unknown as LocalIOStore).result;
    expect(r.status).toBe("success");
    const record = (await store.readRecord(["src"], undefined))!;
    expect(seen!.path.startsWith(tmpdir())).toBe(true);
    expect(seen!.bytes.equals(readFileSync(join(inner.location(`src/__unpartitioned__/${record.file}`))))).toBe(true);
    expect(existsSync(seen!.path)).toBe(false); // removed with the call's temp folder
    expect((await store.readRecord(["dst"], undefined))!.contentHash).toBe(record.contentHash);
  });
});
