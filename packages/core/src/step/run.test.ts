import pl from "nodejs-polars";
import { Table, tableFromArrays } from "apache-arrow";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { asset, input, type AssetContext } from "../asset.js";
import { assetCheck } from "../asset-check.js";
import { definitions } from "../definitions.js";
import { LocalIOStore } from "../io/store.js";
import { contentHash, isPolarsFrame } from "../io/frames.js";
import { dailyPartitions, hourlyPartitions, staticPartitions } from "../partitions/index.js";
import { env, resource, secret } from "../resource.js";
import { runStep, type StepOptions } from "./run.js";
import { withMetadata } from "../with-metadata.js";
import { cleanupTempDirs, eventLog, tempDir, thrown } from "../__tests__/helpers.js";

afterEach(cleanupTempDirs);

const THIS_FILE = fileURLToPath(import.meta.url);
const NOW = new Date("2024-06-01T00:00:00Z");
const orders = () => pl.DataFrame({ id: [1, 2, 3], amount: [10.5, 20, 30.25], customer: ["a", "b", "a"] });

function step(defs: ReturnType<typeof definitions>, assets: string[], extra: Partial<StepOptions> = {}) {
  const log = eventLog();
  const store = extra.store ?? new LocalIOStore(tempDir());
  const run = runStep({ definitions: defs, assets, runId: "run-1", store, env: {}, now: NOW, onEvent: log.onEvent, ...extra });
  return { log, store, run };
}

describe("runStep: events", () => {
  it("emits step_start, asset_start, logs, materialization with metadata, checks and step_end", async () => {
    const a = asset({
      key: ["sales", "orders"],
      codeVersion: "7",
      metadata: { owner: "sales" },
      compute: (_i, ctx) => {
        ctx.log.info("loading orders");
        ctx.log.warning("one is late");
        return orders();
      },
      checks: [
        { name: "has_rows", check: (df) => df.height > 0 },
        { name: "amounts", description: "amounts are positive", severity: "warn", check: () => ({ passed: true, metadata: { min: 10.5 } }) },
      ],
    });
    const { log, store, run } = step(definitions({ assets: [a] }), ["sales/orders"], { retryNumber: 2 });
    const result = await run;
    // Checks follow the materialization they evaluate.
    expect(log.types()).toEqual(["step_start", "asset_start", "log", "log", "materialization", "check", "check", "step_end"]);
    expect(log.events[0]).toEqual({ type: "step_start", runId: "run-1", assets: ["sales/orders"], partitionKeys: [], retryNumber: 2 });
    expect(log.events[1]).toEqual({ type: "asset_start", asset: "sales/orders", partitionKey: null });
    expect(log.of("log")).toEqual([
      { type: "log", level: "info", message: "loading orders", asset: "sales/orders" },
      { type: "log", level: "warning", message: "one is late", asset: "sales/orders" },
    ]);
    const [m] = log.of("materialization");
    const hash = contentHash(orders());
    expect(m).toMatchObject({ asset: "sales/orders", partitionKey: null, dataVersion: hash });
    expect(m!.metadata).toMatchObject({
      rowCount: 3,
      schema: [
        { name: "id", type: "Float64" },
        { name: "amount", type: "Float64" },
        { name: "customer", type: "String" },
      ],
      contentHash: hash,
      format: "parquet",
      codeVersion: "7",
      user: { owner: "sales" },
    });
    expect(m!.metadata.durationMs).toEqual(expect.any(Number));
    expect(m!.metadata.durationMs).toBeGreaterThanOrEqual(0);
    expect(m!.metadata.path).toBe(`${store.dirOf(["sales", "orders"], undefined)}/data-${hash.slice(0, 16)}.parquet`);
    expect(existsSync(m!.metadata.path!)).toBe(true);
    expect(log.of("check")).toEqual([
      { type: "check", asset: "sales/orders", partitionKey: null, check: "has_rows", passed: true, severity: "error", description: null, metadata: {} },
      { type: "check", asset: "sales/orders", partitionKey: null, check: "amounts", passed: true, severity: "warn", description: "amounts are positive", metadata: { min: 10.5 } },
    ]);
    const end = log.of("step_end")[0]!;
    expect(end.status).toBe("success");
    expect(end.durationMs).toBeGreaterThanOrEqual(m!.metadata.durationMs);
    expect(result.status).toBe("success");
    expect(result.assets["sales/orders"]!.status).toBe("success");
    expect(result.assets["sales/orders"]!.records[0]!.contentHash).toBe(hash);
    expect((await store.read(["sales", "orders"], undefined)).frame.toRecords()).toEqual(orders().toRecords());
  });

  it("a thrown error becomes asset_failure with the TS error name, message and stack; downstream is skipped", async () => {
    const up = asset({
      key: "up",
      compute: () => {
        throw new TypeError("column amount is missing", { cause: new RangeError("deep cause") });
      },
    });
    const down = asset({ key: "down", inputs: { up }, compute: ({ up }) => up });
    const { log, run } = step(definitions({ assets: [up, down] }), ["down", "up"]);
    const result = await run;
    expect(log.types()).toEqual(["step_start", "asset_start", "asset_failure", "asset_skipped", "step_end"]);
    const [f] = log.of("asset_failure");
    expect(f!.asset).toBe("up");
    expect(f!.partitionKey).toBeNull();
    expect(f!.error.name).toBe("TypeError");
    expect(f!.error.message).toBe("column amount is missing");
    expect(f!.error.stack).toContain("TypeError: column amount is missing");
    expect(f!.error.stack).toContain(THIS_FILE);
    expect(f!.error.cause).toMatchObject({ name: "RangeError", message: "deep cause" });
    expect(log.of("asset_skipped")).toEqual([{ type: "asset_skipped", asset: "down", reason: 'upstream "up" did not succeed' }]);
    expect(log.of("step_end")[0]!.status).toBe("failure");
    expect(result.status).toBe("failure");
    expect(result.assets.up).toMatchObject({ status: "failure", error: "column amount is missing" });
    expect(result.assets.down).toMatchObject({ status: "skipped" });
  });

  it("a thrown non-Error is reported too", async () => {
    const a = asset({
      key: "a",
      compute: () => {
        throw "just a string";
      },
    });
    const { log, run } = step(definitions({ assets: [a] }), ["a"]);
    await run;
    expect(log.of("asset_failure")[0]!.error).toEqual({ name: "NonErrorThrown", message: "just a string", stack: undefined, retryable: true });
  });
});

describe("runStep: secrets", () => {
  const SECRET = "s3cr3t-Pa55word";
  const db = resource({
    config: { url: env("DB_URL"), password: secret("DB_PASSWORD") },
    create: (c) => ({ url: c.url, password: c.password }),
  });

  it("redacts secret values from log events and failure messages, stacks and causes", async () => {
    const a = asset({
      key: "a",
      resources: ["db"],
      compute: (_i, ctx) => {
        const { password, url } = ctx.resources.db as { password: string; url: string };
        ctx.log.info(`connecting to ${url} with ${password}`);
        ctx.log.error(`twice: ${password}/${password}`);
        throw new Error(`login failed for password ${password}`, { cause: new Error(`server said: bad ${password}`) });
      },
    });
    const { log, run } = step(definitions({ assets: [a], resources: { db } }), ["a"], { env: { DB_URL: "pg://host/db", DB_PASSWORD: SECRET } });
    await run;
    expect(log.of("log").map((e) => e.message)).toEqual(["connecting to pg://host/db with ***", "twice: ***/***"]);
    const f = log.of("asset_failure")[0]!;
    expect(f.error.message).toBe("login failed for password ***");
    expect(f.error.stack).toContain("login failed for password ***");
    expect(f.error.cause?.message).toBe("server said: bad ***");
    expect(JSON.stringify(log.events)).not.toContain(SECRET);
    expect(JSON.stringify(log.events)).toContain("pg://host/db"); // not a secret
  });

  it("redacts secrets from a resource factory's failure", async () => {
    const leaky = resource({
      config: { password: secret("DB_PASSWORD") },
      create: ({ password }): unknown => {
        throw new Error(`cannot connect as admin:${password}@db`);
      },
    });
    const a = asset({ key: "a", resources: ["db"], compute: () => orders() });
    const { log, run } = step(definitions({ assets: [a], resources: { db: leaky } }), ["a"], { env: { DB_PASSWORD: SECRET } });
    const result = await run;
    expect(result.status).toBe("failure");
    const f = log.of("asset_failure")[0]!;
    expect(f.error.message).toBe("cannot connect as admin:***@db");
    expect(JSON.stringify(log.events)).not.toContain(SECRET);
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });
});

describe("runStep: checks", () => {
  it("a failed error-severity check fails the asset (after writing it); warn does not", async () => {
    const warned = asset({ key: "warned", compute: orders, checks: [{ name: "soft", severity: "warn", check: () => ({ passed: false, description: "looks odd" }) }] });
    const strict = asset({
      key: "strict",
      resources: ["vault"],
      compute: orders,
      checks: [
        { name: "unique_customer", description: "one row per customer", check: (df) => df.getColumn("customer").nUnique() === df.height },
        { name: "throws", severity: "warn", check: () => { throw new Error("boom"); } },
        { name: "leaky", severity: "warn", check: () => ({ passed: false, description: "saw s3cr3t-Pa55word in the data" }) },
      ],
    });
    const after = asset({ key: "after", inputs: { strict }, compute: ({ strict }) => strict });
    const vault = resource({ config: { token: secret("VAULT_TOKEN") }, create: () => ({}) });
    const { log, run, store } = step(definitions({ assets: [warned, strict, after], resources: { vault } }), ["warned", "strict", "after"], {
      env: { VAULT_TOKEN: "s3cr3t-Pa55word" },
    });
    const result = await run;
    expect(result.assets.warned!.status).toBe("success");
    expect(result.assets.strict!.status).toBe("failure");
    expect(result.assets.after!.status).toBe("skipped");
    expect(log.of("check").map((c) => [c.asset, c.check, c.passed, c.severity, c.description])).toEqual([
      ["warned", "soft", false, "warn", "looks odd"],
      ["strict", "unique_customer", false, "error", "one row per customer"],
      ["strict", "throws", false, "warn", "the check threw: boom"],
      ["strict", "leaky", false, "warn", "saw *** in the data"], // check descriptions are redacted too
    ]);
    const f = log.of("asset_failure")[0]!;
    expect(f.asset).toBe("strict");
    expect(f.error.message).toContain('asset check "unique_customer" failed (severity error)');
    expect(log.of("materialization").map((m) => m.asset)).toEqual(["warned", "strict"]);
    expect(await store.readRecord(["strict"], undefined)).toBeDefined();
  });
});

describe("runStep: inputs", () => {
  const polarsUp = asset({ key: "polars_up", compute: () => pl.DataFrame({ n: [1, 2, 3] }) });
  const arrowUp = asset({ key: "arrow_up", compute: () => tableFromArrays({ n: Int32Array.from([4, 5]) }) });

  it("delivers each input as the upstream produced it, or as requested with input(x, { as })", async () => {
    const seen: Record<string, unknown> = {};
    const down = asset({
      key: "down",
      inputs: { p: polarsUp, a: arrowUp, pAsArrow: input(polarsUp, { as: "arrow" }), aAsPolars: input(arrowUp, { as: "polars" }) },
      compute: (inputs) => {
        Object.assign(seen, inputs);
        return inputs.p;
      },
    });
    const defs = definitions({ assets: [polarsUp, arrowUp, down] });
    const { run, store } = step(defs, ["polars_up", "arrow_up", "down"]);
    expect((await run).status).toBe("success");
    expect((await store.readRecord(["arrow_up"], undefined))!.producedAs).toBe("arrow");
    expect((await store.readRecord(["polars_up"], undefined))!.producedAs).toBe("polars");
    expect(isPolarsFrame(seen.p)).toBe(true);
    expect((seen.p as pl.DataFrame).getColumn("n").toArray()).toEqual([1, 2, 3]);
    expect(seen.a).toBeInstanceOf(Table);
    expect([...(seen.a as Table).getChild("n")!]).toEqual([4, 5]);
    expect(seen.pAsArrow).toBeInstanceOf(Table);
    expect([...(seen.pAsArrow as Table).getChild("n")!]).toEqual([1, 2, 3]);
    expect(isPolarsFrame(seen.aAsPolars)).toBe(true);
    expect((seen.aAsPolars as pl.DataFrame).getColumn("n").toArray()).toEqual([4, 5]);
  });

  it("reads inputs materialized by an earlier step from the store", async () => {
    const down = asset({ key: "down", inputs: { up: polarsUp }, compute: ({ up }) => up.withColumns(pl.col("n").mul(2)) });
    const defs = definitions({ assets: [polarsUp, down] });
    const first = step(defs, ["polars_up"]);
    await first.run;
    const second = step(defs, ["down"], { store: first.store });
    expect((await second.run).status).toBe("success");
    expect((await first.store.read(["down"], undefined)).frame.getColumn("n").toArray()).toEqual([2, 4, 6]);
  });

  it("a missing upstream output fails the reader with MISSING_OUTPUT and a hint", async () => {
    const down = asset({ key: "down", inputs: { up: polarsUp }, compute: ({ up }) => up });
    const { log, run } = step(definitions({ assets: [polarsUp, down] }), ["down"]);
    await run;
    const f = log.of("asset_failure")[0]!;
    expect(f.asset).toBe("down");
    expect(f.error.code).toBe("MISSING_OUTPUT");
    expect(f.error.message).toContain('input "polars_up" has not been materialized');
    expect(f.error.message).toContain("--select +down");
  });

  it("an unpartitioned reader of a daily asset reads its materialized partitions concatenated in order", async () => {
    const daily = asset({ key: "daily", partitions: dailyPartitions({ start: "2024-01-01" }), compute: (_i, ctx) => pl.DataFrame({ day: [ctx.partitionKey!] }) });
    let got: string[] = [];
    const total = asset({ key: "total", inputs: { daily }, compute: ({ daily }) => ((got = daily.getColumn("day").toArray() as string[]), daily) });
    const defs = definitions({ assets: [daily, total] });
    const store = new LocalIOStore(tempDir());
    for (const k of ["2024-01-03", "2024-01-01", "2024-01-02"]) await step(defs, ["daily"], { store, partitionKey: k }).run;
    expect((await step(defs, ["total"], { store }).run).status).toBe("success");
    expect(got).toEqual(["2024-01-01", "2024-01-02", "2024-01-03"]);
  });

  it("a daily reader of an hourly asset reads the 24 hours of its day (time-window mapping)", async () => {
    const hourly = asset({ key: "hourly", partitions: hourlyPartitions({ start: "2024-01-01T00:00" }), compute: (_i, ctx) => pl.DataFrame({ hour: [ctx.partitionKey!] }) });
    let hours: string[] = [];
    const daily = asset({
      key: "daily",
      inputs: { hourly },
      partitions: dailyPartitions({ start: "2024-01-01" }),
      compute: ({ hourly }) => ((hours = hourly.getColumn("hour").toArray() as string[]), pl.DataFrame({ n: [hourly.height] })),
    });
    const defs = definitions({ assets: [hourly, daily] });
    const store = new LocalIOStore(tempDir());
    await step(defs, ["hourly"], { store, partitionRange: { start: "2024-01-02-00:00", end: "2024-01-02-23:00" } }).run;
    expect((await step(defs, ["daily"], { store, partitionKey: "2024-01-02" }).run).status).toBe("success");
    expect(hours).toHaveLength(24);
    expect(hours[0]).toBe("2024-01-02-00:00");
    expect(hours[23]).toBe("2024-01-02-23:00");
  });
});

describe("runStep: partitions", () => {
  it("a partition range runs one materialization per key, each with its own key and time window", async () => {
    const contexts: AssetContext[] = [];
    const daily = asset({
      key: "daily",
      partitions: dailyPartitions({ start: "2024-01-01", timezone: "Europe/Paris" }),
      compute: (_i, ctx) => {
        contexts.push(ctx);
        return pl.DataFrame({ day: [ctx.partitionKey!] });
      },
    });
    const { log, run, store } = step(definitions({ assets: [daily] }), ["daily"], { partitionRange: { start: "2024-03-30", end: "2024-04-01" } });
    const result = await run;
    expect(result.status).toBe("success");
    expect(log.events[0]).toMatchObject({ type: "step_start", partitionKeys: ["2024-03-30", "2024-03-31", "2024-04-01"] });
    expect(log.of("materialization").map((m) => m.partitionKey)).toEqual(["2024-03-30", "2024-03-31", "2024-04-01"]);
    expect(log.of("asset_start").map((m) => m.partitionKey)).toEqual(["2024-03-30", "2024-03-31", "2024-04-01"]);
    expect(contexts.map((c) => c.partitionKey)).toEqual(["2024-03-30", "2024-03-31", "2024-04-01"]);
    expect(contexts.every((c) => c.partitionKeyRange?.start === "2024-03-30" && c.partitionKeyRange.end === "2024-04-01")).toBe(true);
    // Paris: UTC+1 until the DST change on 2024-03-31, which is a 23-hour day.
    expect(contexts.map((c) => [c.timeWindow!.start.toISOString(), c.timeWindow!.end.toISOString()])).toEqual([
      ["2024-03-29T23:00:00.000Z", "2024-03-30T23:00:00.000Z"],
      ["2024-03-30T23:00:00.000Z", "2024-03-31T22:00:00.000Z"],
      ["2024-03-31T22:00:00.000Z", "2024-04-01T22:00:00.000Z"],
    ]);
    expect(result.assets.daily!.records.map((r) => r.partitionKey)).toEqual(["2024-03-30", "2024-03-31", "2024-04-01"]);
    expect(await store.storedPartitions(["daily"])).toEqual(["2024-03-30", "2024-03-31", "2024-04-01"]);
  });

  it("a single key gives the context its key, a one-key range, the run id and the retry number", async () => {
    let ctx: AssetContext | undefined;
    const regions = asset({ key: "regions", partitions: staticPartitions(["eu", "us"]), compute: (_i, c) => ((ctx = c), pl.DataFrame({ r: [c.partitionKey!] })) });
    await step(definitions({ assets: [regions] }), ["regions"], { partitionKey: "us", retryNumber: 1 }).run;
    expect(ctx).toMatchObject({ assetKey: ["regions"], runId: "run-1", retryNumber: 1, partitionKey: "us", partitionKeys: ["us"], partitionKeyRange: { start: "us", end: "us" }, timeWindow: undefined });
  });

  it("an unknown partition key fails the step before any user code runs, naming the asset", async () => {
    const compute = vi.fn(() => orders());
    const daily = asset({ key: "daily", partitions: dailyPartitions({ start: "2024-01-01" }), compute });
    const { log, run } = step(definitions({ assets: [daily] }), ["daily"], { partitionKey: "2024-13-01" });
    const result = await run;
    expect(compute).not.toHaveBeenCalled();
    expect(log.types()).toEqual(["step_start", "asset_failure", "step_end"]);
    const f = log.of("asset_failure")[0]!;
    expect(f).toMatchObject({ asset: "daily", partitionKey: "2024-13-01" });
    expect(f.error.code).toBe("UNKNOWN_PARTITION");
    expect(f.error.message).toContain('unknown partition key "2024-13-01"');
    expect(result.assets.daily!.status).toBe("failure");
  });

  it("a partitioned asset without a key is UNKNOWN_PARTITION with a hint", async () => {
    const daily = asset({ key: "daily", partitions: dailyPartitions({ start: "2024-01-01" }), compute: orders });
    const { log, run } = step(definitions({ assets: [daily] }), ["daily"]);
    await run;
    const f = log.of("asset_failure")[0]!;
    expect(f.error.code).toBe("UNKNOWN_PARTITION");
    expect(f.error.message).toContain("no partition key was given");
    expect(f.error.message).toContain("--partition KEY");
  });
});

describe("runStep: run-time errors", () => {
  it("an unknown asset id is UNKNOWN_SELECTION before any event", async () => {
    const { log, run } = step(definitions({ assets: [asset({ key: "orders", compute: orders })] }), ["ordres"]);
    const e = await thrown(() => run);
    expect(e).toMatchObject({ code: "UNKNOWN_SELECTION" });
    expect(e.hint).toContain('"orders"');
    expect(log.events).toEqual([]);
  });

  it.each([
    ["undefined", () => undefined, "compute returned undefined", "a missing `return`?"],
    ["a plain object", () => ({ id: [1, 2] }), "compute returned an object (Object)", "pl.DataFrame"],
    ["an array", () => [{ id: 1 }], "compute returned an array", "pl.DataFrame"],
    ["a number", () => 42, "compute returned a number", "pl.DataFrame"],
  ])("returning %s is WRONG_OUTPUT_TYPE naming the asset", async (_what, compute, problem, hint) => {
    const a = asset({ key: ["sales", "bad"], compute: compute as never });
    const { log, run, store } = step(definitions({ assets: [a] }), ["sales/bad"]);
    const result = await run;
    expect(result.status).toBe("failure");
    const f = log.of("asset_failure")[0]!;
    expect(f.asset).toBe("sales/bad");
    expect(f.error.code).toBe("WRONG_OUTPUT_TYPE");
    // file:line of the asset() call, so an editor opens it there (source.test.ts checks the line itself;
    // vitest's transform moves it).
    expect(a.line).toEqual(expect.any(Number));
    expect(f.error.message).toContain(`asset "sales/bad" (${THIS_FILE}:${a.line}): ${problem}`);
    expect(f.error.message).toContain(hint);
    expect(log.of("materialization")).toEqual([]);
    expect(await store.readRecord(["sales", "bad"], undefined)).toBeUndefined();
  });

  it("a side-effect asset returning a frame is WRONG_OUTPUT_TYPE; returning nothing stores a data-less record", async () => {
    const bad = asset({ key: "notify_bad", output: "none", compute: () => orders() as never });
    const good = asset({ key: "notify", output: "none", compute: () => undefined });
    const { log, run } = step(definitions({ assets: [bad, good] }), ["notify_bad", "notify"]);
    const result = await run;
    const f = log.of("asset_failure")[0]!;
    expect(f.asset).toBe("notify_bad");
    expect(f.error.code).toBe("WRONG_OUTPUT_TYPE");
    expect(f.error.message).toContain(`asset "notify_bad" (${THIS_FILE}:${bad.line}): the asset is declared output: "none" but returned a polars DataFrame`);
    expect(result.assets.notify!.status).toBe("success");
    const [m] = log.of("materialization");
    expect(m).toMatchObject({ asset: "notify", dataVersion: null, metadata: { rowCount: null, contentHash: null, path: null, format: "none", schema: [] } });
  });

  it("an Arrow table is a valid output, stored with its row count", async () => {
    const a = asset({ key: "arrow", compute: () => tableFromArrays({ x: Float64Array.from([1, 2]), y: ["a", "b"] }) });
    const { log, run } = step(definitions({ assets: [a] }), ["arrow"]);
    expect((await run).status).toBe("success");
    expect(log.of("materialization")[0]!.metadata.rowCount).toBe(2);
  });

  it("a missing environment variable is MISSING_ENV naming the variable, the resource and the asset", async () => {
    const compute = vi.fn(orders);
    const warehouse = resource({ config: { url: env("WAREHOUSE_URL") }, create: ({ url }) => ({ url }) });
    const a = asset({ key: "loads", resources: ["warehouse"], compute });
    const { log, run } = step(definitions({ assets: [a], resources: { warehouse } }), ["loads"], { env: { OTHER: "x" } });
    const result = await run;
    expect(compute).not.toHaveBeenCalled();
    expect(result.assets.loads!.status).toBe("failure");
    const f = log.of("asset_failure")[0]!;
    expect(f.asset).toBe("loads");
    expect(f.error.code).toBe("MISSING_ENV");
    expect(f.error.message).toContain('asset "loads": resource "warehouse" needs environment variable WAREHOUSE_URL (field "url")');
    expect(f.error.message).toContain("fix: set WAREHOUSE_URL");
  });
});

describe("runStep: storage errors come before compute (issue 10)", () => {
  /** An asset whose compute leaves a marker file, so a test can tell whether it ran. */
  function marked() {
    const marker = join(tempDir(), "compute-ran");
    const a = asset({ key: ["sales", "orders"], compute: () => (writeFileSync(marker, "ran"), orders()) });
    return { a, marker };
  }

  it("a store whose folder cannot be created fails the asset with the path and the fix; the compute does not run", async () => {
    const { a, marker } = marked();
    // A file stands where the store's root folder should be: unwritable for every user, root included.
    const root = join(tempDir(), "storage");
    writeFileSync(root, "not a folder");
    const { log, run } = step(definitions({ assets: [a] }), ["sales/orders"], { store: new LocalIOStore(root) });
    const result = await run;
    expect(result.status).toBe("failure");
    expect(existsSync(marker)).toBe(false);
    const f = log.of("asset_failure")[0]!;
    expect(f.error.name).toBe("BatonStorageError");
    expect(f.error.message).toContain(`asset "sales/orders": cannot create the output folder ${join(root, "sales", "orders")}`);
    expect(f.error.message).toContain("fix: ");
    expect(f.error.retryable).toBe(true);
    expect(log.of("materialization")).toEqual([]);
  });

  it.skipIf(process.getuid?.() === 0)("a read-only store folder fails before the compute runs", async () => {
    const { a, marker } = marked();
    const root = tempDir();
    mkdirSync(join(root, "sales"));
    chmodSync(join(root, "sales"), 0o555);
    try {
      const { log, run } = step(definitions({ assets: [a] }), ["sales/orders"], { store: new LocalIOStore(root) });
      expect((await run).status).toBe("failure");
      expect(existsSync(marker)).toBe(false);
      expect(log.of("asset_failure")[0]!.error).toMatchObject({ name: "BatonStorageError" });
      expect(log.of("asset_failure")[0]!.error.message).toContain("cannot create the output folder");
    } finally {
      chmodSync(join(root, "sales"), 0o755);
    }
  });
});

describe("runStep: resources", () => {
  it("builds each needed resource once per step, shares it, and tears them down in reverse order", async () => {
    const calls: string[] = [];
    const mk = (name: string) =>
      resource({
        create: () => {
          calls.push(`create ${name}`);
          return { name };
        },
        teardown: (c: { name: string }) => {
          calls.push(`teardown ${c.name}`);
        },
      });
    const seen: unknown[] = [];
    const a = asset({ key: "a", resources: ["first"], compute: (_i, ctx) => (seen.push(ctx.resources.first), calls.push("compute a"), orders()) });
    const b = asset({ key: "b", deps: [a], resources: ["first", "second"], compute: (_i, ctx) => (seen.push(ctx.resources.first), calls.push("compute b"), orders()) });
    const unused = asset({ key: "unused", resources: ["third"], compute: orders });
    const defs = definitions({ assets: [a, b, unused], resources: { first: mk("first"), second: mk("second"), third: mk("third") } });
    expect((await step(defs, ["a", "b"]).run).status).toBe("success");
    expect(calls).toEqual(["create first", "create second", "compute a", "compute b", "teardown second", "teardown first"]);
    expect(seen[0]).toBe(seen[1]);
  });

  it("a context only sees the resources its asset declares", async () => {
    let keys: string[] = [];
    const one = resource({ create: () => 1 });
    const two = resource({ create: () => 2 });
    const a = asset({ key: "a", resources: ["one"], compute: (_i, ctx) => ((keys = Object.keys(ctx.resources)), orders()) });
    const b = asset({ key: "b", resources: ["two"], compute: orders });
    await step(definitions({ assets: [a, b], resources: { one, two } }), ["a", "b"]).run;
    expect(keys).toEqual(["one"]);
  });

  it("ready-made instances replace the factories", async () => {
    const create = vi.fn(() => ({ real: true }));
    const warehouse = resource({ config: { url: env("WAREHOUSE_URL") }, create });
    let got: unknown;
    const a = asset({ key: "a", resources: ["warehouse"], compute: (_i, ctx) => ((got = ctx.resources.warehouse), orders()) });
    const fake = { fake: true };
    expect((await step(definitions({ assets: [a], resources: { warehouse } }), ["a"], { resources: { warehouse: fake } }).run).status).toBe("success");
    expect(create).not.toHaveBeenCalled();
    expect(got).toBe(fake);
  });

  it("tears down what was built when a later resource fails, and when the asset fails", async () => {
    const calls: string[] = [];
    const ok = resource({ create: () => "ok", teardown: () => void calls.push("teardown ok") });
    const broken = resource({ create: (): unknown => { throw new Error("no connection"); } });
    const a = asset({ key: "a", resources: ["ok", "broken"], compute: orders });
    const { log, run } = step(definitions({ assets: [a], resources: { ok, broken } }), ["a"]);
    await run;
    expect(calls).toEqual(["teardown ok"]);
    expect(log.of("asset_failure")[0]!.error.message).toBe("no connection");
    calls.length = 0;
    const failing = asset({ key: "f", resources: ["ok"], compute: () => { throw new Error("x"); } });
    await step(definitions({ assets: [failing], resources: { ok } }), ["f"]).run;
    expect(calls).toEqual(["teardown ok"]);
  });
});

describe("runStep: truth (issue 10)", () => {
  const TOKEN = "CANARY-run-7f3a9";
  const vault = resource({ config: { token: secret("VAULT_TOKEN") }, create: ({ token }) => ({ token }) });
  const leaky = resource({
    config: { token: secret("VAULT_TOKEN") },
    create: ({ token }) => ({ token }),
    teardown: (c: { token: string }) => {
      throw new Error(`teardown: could not close session for token=${c.token}`);
    },
  });

  it("a teardown error after the output was committed keeps the materialization, fails the step (transient), redacted", async () => {
    const a = asset({ key: "a", resources: ["leaky"], compute: () => orders() });
    const { log, run, store } = step(definitions({ assets: [a], resources: { leaky } }), ["a"], { env: { VAULT_TOKEN: TOKEN } });
    const result = await run;
    expect(JSON.stringify(log.events)).not.toContain(TOKEN);
    expect(JSON.stringify(result)).not.toContain(TOKEN);
    expect(log.types()).toEqual(["step_start", "asset_start", "materialization", "step_end"]);
    expect(result.assets.a!.status).toBe("success");
    expect((await store.read(["a"], undefined)).frame.height).toBe(3);
    expect(result.status).toBe("failure");
    expect(result.retryable).toBe(true);
    const end = log.of("step_end")[0]!;
    expect(end).toMatchObject({ status: "failure", retryable: true });
    expect(end.error!.message).toBe('resource "leaky" teardown failed: teardown: could not close session for token=***');
  });

  it("redacts check metadata, deep", async () => {
    const a = asset({
      key: "a",
      resources: ["vault"],
      compute: () => orders(),
      checks: [{ name: "m", severity: "warn", check: (_df, ctx) => ({ passed: true, metadata: { token: (ctx.resources.vault as { token: string }).token, deep: { list: [1, `x-${TOKEN}`], ok: true } } }) }],
    });
    const { log, run } = step(definitions({ assets: [a], resources: { vault } }), ["a"], { env: { VAULT_TOKEN: TOKEN } });
    await run;
    expect(log.of("check")[0]!.metadata).toEqual({ token: "***", deep: { list: [1, "x-***"], ok: true } });
  });

  it("redacts what the asset writes to process.stdout and process.stderr while the step runs", async () => {
    const seen: string[] = [];
    const realOut = process.stdout.write;
    const realErr = process.stderr.write;
    const capture = (chunk: unknown) => {
      seen.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString());
      return true;
    };
    process.stdout.write = capture as typeof process.stdout.write;
    process.stderr.write = capture as typeof process.stderr.write;
    try {
      const a = asset({
        key: "a",
        resources: ["vault"],
        compute: (_i, ctx) => {
          const { token } = ctx.resources.vault as { token: string };
          process.stdout.write(`out token=${token}\n`);
          process.stderr.write(Buffer.from(`err token=${token}\n`));
          return orders();
        },
      });
      const { run } = step(definitions({ assets: [a], resources: { vault } }), ["a"], { env: { VAULT_TOKEN: TOKEN } });
      expect((await run).status).toBe("success");
    } finally {
      process.stdout.write = realOut;
      process.stderr.write = realErr;
    }
    expect(seen).toEqual(["out token=***\n", "err token=***\n"]);
  });

  it("marks deterministic failures not retryable and transient ones retryable, per asset and for the step", async () => {
    const needs = resource({ config: { url: env("NEVER_SET_URL") }, create: ({ url }) => url });
    const missing = asset({ key: "missing", resources: ["needs"], compute: () => orders() });
    const wrong = asset({ key: "wrong", compute: () => 42 as never });
    const throws = asset({ key: "throws", compute: () => { throw new Error("boom"); } });
    const defs = definitions({ assets: [missing, wrong, throws], resources: { needs } });
    for (const [ids, retryable] of [[["missing"], false], [["wrong"], false], [["throws"], true], [["wrong", "throws"], true]] as const) {
      const { log, run } = step(defs, [...ids]);
      const result = await run;
      expect(result.retryable, ids.join()).toBe(retryable);
      expect(log.of("step_end")[0], ids.join()).toMatchObject({ status: "failure", retryable });
    }
    const { log, run } = step(defs, ["wrong", "throws"]);
    await run;
    expect(log.of("asset_failure").map((f) => [f.asset, f.error.retryable])).toEqual([["wrong", false], ["throws", true]]);
    const ok = step(definitions({ assets: [asset({ key: "fine", compute: () => orders() })] }), ["fine"]);
    expect((await ok.run).retryable).toBe(false);
    expect(ok.log.of("step_end")[0]).toMatchObject({ status: "success", retryable: false });
  });

  it("a failed error-severity check is CHECK_FAILED, deterministic", async () => {
    const a = asset({ key: "a", compute: () => orders(), checks: [{ name: "never", check: () => false }] });
    const { log, run } = step(definitions({ assets: [a] }), ["a"]);
    expect((await run).retryable).toBe(false);
    expect(log.of("asset_failure")[0]!.error).toMatchObject({ code: "CHECK_FAILED", retryable: false });
  });

  it("after its signal aborts, writes nothing: the running asset and the rest fail as cancelled", async () => {
    const controller = new AbortController();
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let signal: AbortSignal | undefined;
    const slow = asset({
      key: "slow",
      compute: async (_i, ctx) => {
        signal = ctx.signal;
        expect(signal.aborted).toBe(false);
        controller.abort();
        await released;
        return orders();
      },
    });
    const next = asset({ key: "next", compute: () => orders() });
    const { log, run, store } = step(definitions({ assets: [slow, next] }), ["slow", "next"], { signal: controller.signal });
    setTimeout(release, 10);
    const result = await run;
    // The compute's own signal is aborted with the step's, so it can stop its work too.
    expect(signal?.aborted).toBe(true);
    expect(log.of("materialization")).toEqual([]);
    expect(log.of("asset_failure").map((f) => [f.asset, f.error.name])).toEqual([["slow", "StepCancelled"], ["next", "StepCancelled"]]);
    expect(log.of("asset_failure")[0]!.error.message).toContain("cancelled");
    expect(result.status).toBe("failure");
    expect(await store.storedPartitions(["slow"])).toEqual([]);
    await expect(store.read(["slow"], undefined)).rejects.toThrow();
  });
});

describe("runStep: timeoutSeconds (issue 12, EXECUTION-CONTRACT.md §1)", () => {
  const spin = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      // a compute that blocks the event loop
    }
  };

  it("an attempt that outlives its timeout fails with TIMEOUT (retryable); its signal aborts; nothing is written; downstream is skipped", async () => {
    let signal: AbortSignal | undefined;
    let resumed = false;
    const hangs = asset({
      key: "hangs",
      timeoutSeconds: 0.3,
      compute: async (_i, ctx) => {
        signal = ctx.signal;
        // Resumes only once aborted: what it does then must reach neither the store nor the events.
        await new Promise((r) => ctx.signal.addEventListener("abort", r));
        resumed = true;
        ctx.log.info("after the deadline");
        return orders();
      },
    });
    const down = asset({ key: "down", inputs: { hangs }, compute: () => orders() });
    const { log, run, store } = step(definitions({ assets: [hangs, down] }), ["hangs", "down"]);
    const result = await run;
    await vi.waitFor(() => expect(resumed).toBe(true));
    await new Promise((r) => setTimeout(r, 50)); // let the resumed compute try to write
    expect(result.status).toBe("failure");
    expect(result.retryable).toBe(true);
    const [f] = log.of("asset_failure");
    expect(f).toMatchObject({ asset: "hangs", partitionKey: null, error: { name: "BatonError", code: "TIMEOUT", retryable: true } });
    expect(f!.error.message).toContain('asset "hangs": timed out after 0.3 s (timeoutSeconds: 0.3)');
    expect(signal?.aborted).toBe(true);
    expect((signal?.reason as { code?: string }).code).toBe("TIMEOUT");
    expect(log.of("log")).toEqual([]);
    expect(log.of("materialization")).toEqual([]);
    expect(log.of("asset_skipped")).toMatchObject([{ asset: "down" }]);
    expect(result.assets.down!.status).toBe("skipped");
    expect(await store.listFiles()).toEqual([]);
  });

  it("a compute that returns after blocking past its deadline commits nothing (the clock is checked, not only the timer)", async () => {
    const blocks = asset({
      key: "blocks",
      timeoutSeconds: 0.1,
      compute: () => {
        spin(400);
        return orders();
      },
    });
    const { log, run, store } = step(definitions({ assets: [blocks] }), ["blocks"]);
    const result = await run;
    expect(result.status).toBe("failure");
    expect(log.of("asset_failure")[0]!.error).toMatchObject({ code: "TIMEOUT", retryable: true });
    expect(log.of("materialization")).toEqual([]);
    expect(await store.storedPartitions(["blocks"])).toEqual([]);
  });

  it("each partition key of a range has its own budget", async () => {
    // Four keys of >= 0.4 s each under a 1.5 s timeout: the step takes longer than one budget (>= 1.6 s), each key less.
    const daily = asset({
      key: "daily",
      partitions: dailyPartitions({ start: "2024-01-01" }),
      timeoutSeconds: 1.5,
      compute: async () => {
        await new Promise((r) => setTimeout(r, 400));
        return orders();
      },
    });
    const { log, run } = step(definitions({ assets: [daily] }), ["daily"], { partitionRange: { start: "2024-01-01", end: "2024-01-04" } });
    const result = await run;
    expect(result.status).toBe("success");
    expect(log.of("materialization").map((m) => m.partitionKey)).toEqual(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]);
  });

  it("a timed asset that finishes in time succeeds, and arms and disarms the watchdog once per key", async () => {
    const armed: unknown[] = [];
    const disarmed: number[] = [];
    const watchdog = { arm: (a: unknown) => armed.push(a), disarm: (h: number) => disarmed.push(h), stop: async () => undefined };
    const quick = asset({ key: "quick", partitions: staticPartitions(["eu", "us"]), timeoutSeconds: 30, compute: () => orders() });
    const untimed = asset({ key: "untimed", compute: () => orders() });
    const { run } = step(definitions({ assets: [quick, untimed] }), ["quick", "untimed"], { partitionRange: { start: "eu", end: "us" }, watchdog });
    expect((await run).status).toBe("success");
    expect(armed).toEqual([
      { asset: "quick", partitionKey: "eu", timeoutSeconds: 30 },
      { asset: "quick", partitionKey: "us", timeoutSeconds: 30 },
    ]);
    expect(disarmed).toEqual([1, 2]);
  });
});

describe("runStep: check-only steps (issue 12, EXECUTION-CONTRACT.md §5)", () => {
  const checked = (over: Partial<Parameters<typeof asset>[0]> = {}) => {
    const seen: unknown[] = [];
    const a = asset({
      key: "sales",
      compute: () => tableFromArrays({ amount: Float64Array.from([10, -5]) }),
      checks: [
        { name: "has_rows", check: (t: Table) => (seen.push(t), t.numRows > 0) },
        { name: "spend_is_positive", check: (t: Table) => ({ passed: [...t.getChild("amount")!].every((v) => (v as number) > 0), description: "spend > 0" }) },
        { name: "warn_only", severity: "warn", check: () => false },
      ],
      ...over,
    } as Parameters<typeof asset>[0]);
    return { a, seen };
  };

  it("reads the stored output as produced (Arrow), runs the checks with the materialization's context, writes nothing; a failed error check fails the step after all are reported", async () => {
    const { a, seen } = checked();
    const defs = definitions({ assets: [a] });
    const first = step(defs, ["sales"]);
    expect((await first.run).status).toBe("failure"); // spend_is_positive (error) fails the materialization
    const before = await first.store.listFiles();
    seen.length = 0;
    const { log, run, store } = step(defs, ["sales"], { store: first.store, checksOnly: true, runId: "run-checks" });
    const result = await run;
    expect(log.types()).toEqual(["step_start", "check", "check", "check", "asset_failure", "step_end"]);
    expect(log.of("check").map((c) => [c.check, c.passed, c.severity, c.partitionKey])).toEqual([
      ["has_rows", true, "error", null],
      ["spend_is_positive", false, "error", null],
      ["warn_only", false, "warn", null],
    ]);
    // CHECKS-CONTRACT.md §3: the step's record tells whether an error-level check failed; not retried.
    expect(log.of("asset_failure")[0]).toMatchObject({ asset: "sales", partitionKey: null, error: { code: "CHECK_FAILED", retryable: false } });
    expect(log.of("asset_failure")[0]!.error.message).toContain('asset check "spend_is_positive" failed (severity error)');
    expect(result).toMatchObject({ status: "failure", retryable: false });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(Table);
    expect(await store.listFiles()).toEqual(before);
  });

  it("checks: only the named ones run, in either mode; an unknown name fails before anything runs, listing the asset's checks", async () => {
    const { a } = checked();
    const defs = definitions({ assets: [a] });
    const materialized = step(defs, ["sales"], { checks: ["has_rows"] });
    expect((await materialized.run).status).toBe("success");
    expect(materialized.log.of("check").map((c) => c.check)).toEqual(["has_rows"]);
    const only = step(defs, ["sales"], { store: materialized.store, checksOnly: true, checks: ["spend_is_positive"] });
    expect((await only.run).status).toBe("failure");
    expect(only.log.of("check").map((c) => [c.check, c.passed])).toEqual([["spend_is_positive", false]]);
    // A failed warn-severity check is reported and the step succeeds.
    const warn = step(defs, ["sales"], { store: materialized.store, checksOnly: true, checks: ["has_rows", "warn_only"] });
    expect((await warn.run).status).toBe("success");
    expect(warn.log.of("check").map((c) => [c.check, c.passed])).toEqual([
      ["has_rows", true],
      ["warn_only", false],
    ]);
    const typo = step(defs, ["sales"], { store: materialized.store, checksOnly: true, checks: ["spend_is_postive"] });
    expect((await typo.run).status).toBe("failure");
    expect(typo.log.types()).toEqual(["step_start", "asset_failure", "step_end"]);
    const [f] = typo.log.of("asset_failure");
    expect(f!.error).toMatchObject({ code: "INVALID_DEFINITION", retryable: false });
    expect(f!.error.message).toContain('asset "sales": no check named "spend_is_postive"');
    expect(f!.error.message).toContain("sales: has_rows, spend_is_positive, warn_only");
  });

  it("a missing stored output fails the asset, naming it and the key, with 'materialize it first'; each key of a range is checked", async () => {
    const daily = asset({
      key: "daily",
      partitions: dailyPartitions({ start: "2024-01-01" }),
      compute: (_i, ctx) => pl.DataFrame({ day: [ctx.partitionKey!] }),
      checks: [{ name: "one_row", check: (df: pl.DataFrame) => df.height === 1 }],
    });
    const defs = definitions({ assets: [daily] });
    const made = step(defs, ["daily"], { partitionRange: { start: "2024-01-01", end: "2024-01-02" } });
    expect((await made.run).status).toBe("success");
    const range = step(defs, ["daily"], { store: made.store, checksOnly: true, partitionRange: { start: "2024-01-01", end: "2024-01-02" } });
    expect((await range.run).status).toBe("success");
    expect(range.log.of("check").map((c) => [c.partitionKey, c.passed])).toEqual([
      ["2024-01-01", true],
      ["2024-01-02", true],
    ]);
    const missing = step(defs, ["daily"], { store: made.store, checksOnly: true, partitionKey: "2024-01-03" });
    expect((await missing.run).status).toBe("failure");
    const [f] = missing.log.of("asset_failure");
    expect(f).toMatchObject({ asset: "daily", partitionKey: "2024-01-03", error: { code: "MISSING_OUTPUT" } });
    expect(f!.error.message).toContain('asset "daily": no stored output for partition "2024-01-03"');
    expect(f!.error.message).toContain("materialize it first");
    expect(missing.log.of("materialization")).toEqual([]);
    const plain = asset({ key: "plain", compute: () => orders(), checks: [{ name: "rows", check: () => true }] });
    const none = step(definitions({ assets: [plain] }), ["plain"], { checksOnly: true });
    expect((await none.run).status).toBe("failure");
    expect(none.log.of("asset_failure")[0]!.error.message).toContain('asset "plain": no stored output to run its checks against');
  });
});

describe("runStep: standalone checks (CHECKS-CONTRACT.md §3)", () => {
  const daily = dailyPartitions({ start: "2024-01-01" });
  const customers = asset({ key: "customers", compute: () => tableFromArrays({ id: Int32Array.from([1, 2]) }) });
  const events = asset({ key: "events", partitions: daily, compute: (_i, ctx) => pl.DataFrame({ day: [ctx.partitionKey], n: [1] }) });
  const sales = asset({
    key: "sales",
    partitions: daily,
    compute: (_i, ctx) => pl.DataFrame({ day: [ctx.partitionKey], customer: [1], amount: [ctx.partitionKey === "2024-01-02" ? -1 : 10] }),
    checks: [{ name: "inline_rows", check: (df) => df.height > 0 }],
  });
  const seen: { customers?: unknown; sameDay?: unknown; all?: unknown; key?: string }[] = [];
  const customersExist = assetCheck({
    name: "customers_exist",
    asset: sales,
    inputs: { customers: input(customers, { as: "polars" }), sameDay: events, all: input(events, { partitionMapping: { type: "allPartitions" } }) },
    description: "every sale's customer exists",
    check: (output, { customers, sameDay, all }, ctx) => {
      seen.push({ customers, sameDay, all, key: ctx.partitionKey });
      const known = new Set(customers.getColumn("id").toArray());
      return { passed: output.getColumn("customer").toArray().every((c) => known.has(c)), metadata: { days: all.height } };
    },
  });
  const positive = assetCheck({ name: "positive", asset: sales, check: (output) => output.getColumn("amount").toArray().every((v) => (v as number) > 0) });
  const warnOnly = assetCheck({ name: "warn_only", asset: sales, severity: "warn", check: () => false });
  const defs = definitions({ assets: [], checks: [customersExist, positive, warnOnly] });

  async function materialized(keys: string[]) {
    const store = new LocalIOStore(tempDir());
    expect((await step(defs, ["customers"], { store }).run).status).toBe("success");
    for (const partitionKey of keys) {
      expect((await step(defs, ["events"], { store, partitionKey }).run).status).toBe("success");
      const made = step(defs, ["sales"], { store, partitionKey });
      expect((await made.run).status).toBe("success");
      // Never inside the target's materialization: only the inline check ran there.
      expect(made.log.of("check").map((c) => c.check)).toEqual(["inline_rows"]);
    }
    return store;
  }

  it("loads the check's inputs from the store (as declared, mapped from the target's key) and passes (output, inputs, ctx)", async () => {
    const store = await materialized(["2024-01-01", "2024-01-03"]);
    seen.length = 0;
    const { log, run } = step(defs, ["sales"], { store, checksOnly: true, checks: ["customers_exist"], partitionKey: "2024-01-03" });
    expect((await run).status).toBe("success");
    expect(log.types()).toEqual(["step_start", "check", "step_end"]);
    expect(log.of("check")[0]).toMatchObject({ asset: "sales", check: "customers_exist", partitionKey: "2024-01-03", passed: true, severity: "error", description: "every sale's customer exists", metadata: { days: 2 } });
    expect(seen).toHaveLength(1);
    expect(isPolarsFrame(seen[0]!.customers)).toBe(true); // as: "polars" over the Arrow it was produced as
    expect((seen[0]!.sameDay as pl.DataFrame).getColumn("day").toArray()).toEqual(["2024-01-03"]);
    expect(seen[0]!.key).toBe("2024-01-03");
  });

  it("reports every check of every key of a range, then fails once with CHECK_FAILED; a failed warn check alone passes", async () => {
    const store = await materialized(["2024-01-01", "2024-01-02"]);
    const { log, run } = step(defs, ["sales"], { store, checksOnly: true, partitionRange: { start: "2024-01-01", end: "2024-01-02" } });
    const result = await run;
    expect(log.of("check").map((c) => [c.partitionKey, c.check, c.passed])).toEqual([
      ["2024-01-01", "inline_rows", true],
      ["2024-01-01", "customers_exist", true],
      ["2024-01-01", "positive", true],
      ["2024-01-01", "warn_only", false],
      ["2024-01-02", "inline_rows", true],
      ["2024-01-02", "customers_exist", true],
      ["2024-01-02", "positive", false],
      ["2024-01-02", "warn_only", false],
    ]);
    expect(log.of("asset_failure")).toHaveLength(1);
    expect(log.of("asset_failure")[0]).toMatchObject({ asset: "sales", partitionKey: null, error: { code: "CHECK_FAILED", retryable: false } });
    expect(log.of("asset_failure")[0]!.error.message).toContain('"positive" failed (severity error) (partitions 2024-01-02)');
    expect(result).toMatchObject({ status: "failure", retryable: false });
    const warn = step(defs, ["sales"], { store, checksOnly: true, checks: ["warn_only"], partitionKey: "2024-01-02" });
    expect((await warn.run).status).toBe("success");
  });

  it("a missing stored input is MISSING_OUTPUT (transient) naming the check, the input asset and the key", async () => {
    const store = await materialized(["2024-01-01"]);
    // events has no 2024-01-04; sales is written there by hand through a materialization of its own.
    expect((await step(defs, ["sales"], { store, partitionKey: "2024-01-04" }).run).status).toBe("success");
    const { log, run } = step(defs, ["sales"], { store, checksOnly: true, checks: ["customers_exist"], partitionKey: "2024-01-04" });
    expect(await run).toMatchObject({ status: "failure", retryable: true });
    const [f] = log.of("asset_failure");
    expect(f).toMatchObject({ asset: "sales", partitionKey: "2024-01-04", error: { code: "MISSING_OUTPUT", retryable: true } });
    expect(f!.error.message).toContain('check "customers_exist" reads input "sameDay" from "events" (for "sales" partition "2024-01-04"), which has no stored output');
    expect(f!.error.message).toContain("materialize it first: baton materialize --select events --partition 2024-01-04");
  });

  it("the hint of a missing input names the input's own keys when its mapping shifts them (time windows)", async () => {
    const hours = asset({ key: "hours", partitions: hourlyPartitions({ start: "2024-01-01T00:00" }), compute: (_i, ctx) => pl.DataFrame({ hour: [ctx.partitionKey!] }) });
    const days = asset({ key: "days", partitions: daily, compute: (_i, ctx) => pl.DataFrame({ day: [ctx.partitionKey!] }) });
    const dayReadsHours = assetCheck({ name: "day_reads_hours", asset: days, inputs: { hours: input(hours, { partitionMapping: { type: "timeWindow" } }) }, check: () => true });
    const hourReadsDay = assetCheck({ name: "hour_reads_day", asset: hours, inputs: { days: input(days, { partitionMapping: { type: "timeWindow" } }) }, check: () => true });
    const shifted = definitions({ assets: [], checks: [dayReadsHours, hourReadsDay] });
    const store = new LocalIOStore(tempDir());
    for (const [id, partitionKey] of [["days", "2024-01-02"], ["hours", "2024-01-03-05:00"], ["hours", "2024-01-02-00:00"]] as const) {
      expect((await step(shifted, [id], { store, partitionKey }).run).status).toBe("success");
    }
    const hintOf = async (id: string, check: string, partitionKey: string) => {
      const { log, run } = step(shifted, [id], { store, checksOnly: true, checks: [check], partitionKey });
      expect(await run).toMatchObject({ status: "failure", retryable: true });
      return log.of("asset_failure")[0]!.error.message;
    };
    // The day's 23 hours not stored, from the first to the last: never the day's own key.
    expect(await hintOf("days", "day_reads_hours", "2024-01-02")).toContain('materialize it first (23 partitions of "hours" missing): baton materialize --select hours --partition-range 2024-01-02-01:00...2024-01-02-23:00');
    // An hour reads its day.
    expect(await hintOf("hours", "hour_reads_day", "2024-01-03-05:00")).toContain("materialize it first: baton materialize --select days --partition 2024-01-03");
  });

  it("a standalone check's name outside a check-only step is INVALID_DEFINITION saying where it runs", async () => {
    const { log, run } = step(defs, ["sales"], { checks: ["positive"], partitionKey: "2024-01-01" });
    expect((await run).status).toBe("failure");
    expect(log.of("asset_failure")[0]!.error).toMatchObject({ code: "INVALID_DEFINITION" });
    expect(log.of("asset_failure")[0]!.error.message).toContain('"positive" is a standalone check (assetCheck()): standalone checks never run in a materialization step');
    const typo = step(defs, ["sales"], { checksOnly: true, checks: ["postive"], partitionKey: "2024-01-01" });
    await typo.run;
    expect(typo.log.of("asset_failure")[0]!.error.message).toContain("sales: inline_rows, customers_exist (standalone), positive (standalone), warn_only (standalone)");
  });
});

describe("runStep: compute metadata, the inputs typo hint (issue 14)", () => {
  it("stores the frame of withMetadata(frame, metadata) and adds the metadata to the materialization's, redacted", async () => {
    const key = secret("TOKEN");
    const seen: unknown[] = [];
    const a = asset({
      key: "cleaned",
      metadata: { owner: "sales", rows_dropped: 0 },
      resources: ["api"],
      // The compute's return type is T1's (asset.ts); the runtime takes withMetadata's result.
      compute: () => withMetadata(orders(), { rows_dropped: 3, note: "token s3cr3t", parts: [1, 2] }) as never,
      checks: [{ name: "seen", check: (df) => (seen.push(df), true) }],
    });
    const api = resource({ config: { token: key }, create: () => ({}) });
    const defs = definitions({ assets: [a], resources: { api } });
    const { log, store, run } = step(defs, ["cleaned"], { env: { TOKEN: "s3cr3t" } });
    expect((await run).status).toBe("success");
    const [m] = log.of("materialization");
    expect(m!.dataVersion).toBe(contentHash(orders()));
    expect(m!.metadata.rowCount).toBe(3);
    expect(m!.metadata.user).toEqual({ owner: "sales", rows_dropped: 3, note: "token ***", parts: [1, 2] });
    expect(isPolarsFrame(seen[0])).toBe(true);
    expect((await store.readRecord(["cleaned"], undefined))!.producedAs).toBe("polars");
  });

  it("takes withMetadata(undefined, …) from a side-effect asset and an Arrow table as the frame", async () => {
    const sink = asset({ key: "sink", output: "none", compute: () => withMetadata(undefined, { published: 2 }) as never });
    const arrow = asset({ key: "arrow", compute: () => withMetadata(tableFromArrays({ n: Int32Array.from([1]) }), { k: "v" }) as never });
    const { log, store, run } = step(definitions({ assets: [sink, arrow] }), ["sink", "arrow"]);
    expect((await run).status).toBe("success");
    expect(log.of("materialization").map((e) => [e.asset, e.metadata.user])).toEqual([
      ["sink", { published: 2 }],
      ["arrow", { k: "v" }],
    ]);
    expect((await store.readRecord(["arrow"], undefined))!.producedAs).toBe("arrow");
  });

  it("fails the asset, writing nothing, when the metadata is not JSON", async () => {
    const a = asset({ key: "bad_meta", compute: () => withMetadata(orders(), { at: new Date(0) } as never) as never });
    const { log, store, run } = step(definitions({ assets: [a] }), ["bad_meta"]);
    const result = await run;
    expect(result.status).toBe("failure");
    expect(result.retryable).toBe(false);
    expect(log.of("asset_failure")[0]!.error.message).toContain('withMetadata(): metadata "at" is an object (Date), not a JSON value');
    expect(await store.readRecord(["bad_meta"], undefined)).toBeUndefined();
  });

  it("names the inputs when compute reads one that does not exist", async () => {
    const ordersAsset = asset({ key: "orders", compute: orders });
    const customers = asset({ key: "customers", compute: () => pl.DataFrame({ customer: ["a"] }) });
    const metrics = asset({
      key: "customer_metrics",
      inputs: { orders: ordersAsset, customers },
      // A destructuring typo, as a user makes it (the type system would catch this one).
      compute: (inputs) => {
        const { ordres } = inputs as unknown as { ordres: pl.DataFrame };
        return ordres.select("id");
      },
    });
    const { log, run } = step(definitions({ assets: [ordersAsset, customers, metrics] }), ["orders", "customers", "customer_metrics"]);
    const result = await run;
    expect(result.assets.customer_metrics!.status).toBe("failure");
    expect(result.retryable).toBe(false);
    const [failure] = log.of("asset_failure");
    expect(failure!.asset).toBe("customer_metrics");
    expect(failure!.error.code).toBe("UNKNOWN_INPUT");
    expect(failure!.error.message).toBe('asset "customer_metrics" has no input "ordres"; its inputs are orders, customers\n  fix: did you mean "orders"? (the compute\'s first argument holds the asset\'s `inputs` by name)');
  });
});

describe("runStep: codeVersions (a built step's manifest versions)", () => {
  it("records the given code version over the definition's, and the definition's for other assets", async () => {
    const a = asset({ key: "a", codeVersion: "from-definitions", compute: orders });
    const b = asset({ key: "b", codeVersion: "b-own", compute: orders });
    const { log, store, run } = step(definitions({ assets: [a, b] }), ["a", "b"], { codeVersions: { a: "from-manifest" } });
    expect((await run).status).toBe("success");
    expect(log.of("materialization").map((e) => e.metadata.codeVersion)).toEqual(["from-manifest", "b-own"]);
    expect((await store.readRecord(["a"], undefined))!.codeVersion).toBe("from-manifest");
  });
});
