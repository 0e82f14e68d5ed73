import pl from "nodejs-polars";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { asset, input } from "./asset.js";
import { BatonError } from "./errors.js";
import { keyToString, toAssetKey } from "./keys.js";
import { dailyPartitions } from "./partitions/index.js";
import { thrownSync } from "./__tests__/helpers.js";

const THIS_FILE = fileURLToPath(import.meta.url);
const df = () => pl.DataFrame({ x: [1] });

function expectAssetError(fn: () => unknown, code: string, assetId: string): BatonError {
  const e = thrownSync(fn);
  expect(e).toBeInstanceOf(BatonError);
  const b = e as unknown as BatonError;
  expect(b.code).toBe(code);
  expect(b.asset).toBe(assetId);
  expect(b.file).toBe(THIS_FILE);
  expect(b.message).toContain(`asset "${assetId}" (${THIS_FILE}): `);
  expect(b.hint).toEqual(expect.any(String));
  expect(b.message).toContain(`\n  fix: ${b.hint}`);
  return b;
}

describe("asset()", () => {
  it("declares an asset around a function, with defaults, and records the declaring file", () => {
    const orders = asset({ key: "orders", compute: df });
    const metrics = asset({
      key: ["sales", "metrics"],
      inputs: { orders, customers: "crm/customers", arrow: input("events", { as: "arrow" }) },
      deps: ["setup"],
      compute: df,
      description: "metrics",
      group: "sales",
      owners: ["team@x"],
      tags: { tier: "gold" },
      codeVersion: "3",
      retry: { maxRetries: 2, delaySeconds: 1, backoff: "exponential" },
      metadata: { sla: "6h" },
      io: { format: "ipc" },
    });
    expect(orders).toMatchObject({
      kind: "asset",
      key: ["orders"],
      id: "orders",
      inputs: [],
      deps: [],
      partitions: undefined,
      resources: [],
      group: "default",
      owners: [],
      tags: {},
      codeVersion: expect.stringMatching(/^[0-9a-f]{12}$/), // the default: a hash of the compute's source
      retry: undefined,
      metadata: {},
      checks: [],
      format: "parquet",
      output: "table",
      file: THIS_FILE,
    });
    expect(metrics.id).toBe("sales/metrics");
    expect(metrics.key).toEqual(["sales", "metrics"]);
    expect(metrics.inputs).toEqual([
      { name: "orders", key: ["orders"], as: undefined, partitionMapping: undefined },
      { name: "customers", key: ["crm", "customers"], as: undefined, partitionMapping: undefined },
      { name: "arrow", key: ["events"], as: "arrow", partitionMapping: undefined },
    ]);
    expect(metrics.deps).toEqual([["setup"]]);
    expect(metrics.format).toBe("ipc");
    expect(metrics.file).toBe(THIS_FILE);
  });

  it("input() keeps its options", () => {
    const orders = asset({ key: "orders", compute: df, partitions: dailyPartitions({ start: "2024-01-01" }) });
    expect(input(orders, { as: "polars", partitionMapping: { type: "allPartitions" } })).toEqual({ asset: orders, as: "polars", partitionMapping: { type: "allPartitions" } });
  });

  it("an invalid key is INVALID_KEY naming the key and the file, with a hint", () => {
    for (const key of ["sales//orders", "", "-dash", ".hidden", "with space", "a/b/"]) {
      const e = expectAssetError(() => asset({ key, compute: df }), "INVALID_KEY", key);
      expect(e.message).toContain(`invalid asset key ${JSON.stringify(key)}`);
      expect(e.hint).toContain('"sales/orders"');
    }
    expectAssetError(() => asset({ key: ["sales", "bad/part"], compute: df }), "INVALID_KEY", "sales/bad/part");
    const empty = thrownSync(() => asset({ key: [], compute: df })) as unknown as BatonError;
    expect(empty.code).toBe("INVALID_KEY");
    expect(empty.file).toBe(THIS_FILE);
  });

  it("an input that does not name an asset is UNKNOWN_INPUT naming the input", () => {
    const e = expectAssetError(() => asset({ key: "m", inputs: { orders: "bad key" }, compute: df }), "UNKNOWN_INPUT", "m");
    expect(e.message).toContain('input "orders" does not name an asset: invalid asset key "bad key"');
    expect(e.message.match(/fix:/g)).toHaveLength(1);
    expect(e.hint).toContain("inputs.orders");
  });

  it("an input's as must be polars or arrow", () => {
    const e = expectAssetError(() => asset({ key: "m", inputs: { o: { asset: "orders", as: "pandas" as never } }, compute: df }), "INVALID_DEFINITION", "m");
    expect(e.message).toContain('input "o" has as: "pandas"');
  });

  it("compute must be a function", () => {
    const e = expectAssetError(() => asset({ key: "m", compute: "select 1" as never }), "INVALID_DEFINITION", "m");
    expect(e.message).toContain("compute is not a function");
  });

  it("a retry policy needs whole maxRetries >= 0 and delaySeconds >= 0", () => {
    expectAssetError(() => asset({ key: "m", compute: df, retry: { maxRetries: -1 } }), "INVALID_DEFINITION", "m");
    expectAssetError(() => asset({ key: "m", compute: df, retry: { maxRetries: 1.5 } }), "INVALID_DEFINITION", "m");
    const e = expectAssetError(() => asset({ key: "m", compute: df, retry: { maxRetries: 1, delaySeconds: -2 } }), "INVALID_DEFINITION", "m");
    expect(e.message).toContain("invalid retry policy");
    expect(asset({ key: "m", compute: df, retry: { maxRetries: 0 } }).retry).toEqual({ maxRetries: 0 });
  });

  it("two checks with one name are a DUPLICATE_KEY", () => {
    const check = { name: "not_empty", check: () => true };
    const e = expectAssetError(() => asset({ key: "m", compute: df, checks: [check, check] }), "DUPLICATE_KEY", "m");
    expect(e.message).toContain('two checks are named "not_empty"');
  });

  it("timeoutSeconds is a positive, finite number of seconds; pool a pool name (issue 12)", () => {
    const a = asset({ key: "m", compute: df, timeoutSeconds: 2.5, pool: "warehouse" });
    expect(a.timeoutSeconds).toBe(2.5);
    expect(a.pool).toBe("warehouse");
    expect(asset({ key: "n", compute: df })).toMatchObject({ timeoutSeconds: undefined, pool: undefined });
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, "10" as never]) {
      const e = expectAssetError(() => asset({ key: "m", compute: df, timeoutSeconds: bad }), "INVALID_DEFINITION", "m");
      expect(e.message).toContain("not a positive number of seconds");
      expect(e.hint).toContain("timeoutSeconds: 600");
    }
    for (const bad of ["", "1st", "has space", "a.b", 3 as never]) {
      const e = expectAssetError(() => asset({ key: "m", compute: df, pool: bad }), "INVALID_DEFINITION", "m");
      expect(e.message).toContain("is not a pool name");
    }
    expect(asset({ key: "m", compute: df, pool: "_dwh-2" }).pool).toBe("_dwh-2");
  });

  it("output and io format are checked", () => {
    expectAssetError(() => asset({ key: "m", compute: df, output: "file" as never }), "INVALID_DEFINITION", "m");
    expectAssetError(() => asset({ key: "m", compute: df, io: { format: "csv" as never } }), "INVALID_DEFINITION", "m");
  });
});

describe("asset keys", () => {
  it("parse from a path string or parts and print with /", () => {
    expect(toAssetKey("sales/orders")).toEqual(["sales", "orders"]);
    expect(toAssetKey(["sales", "orders"])).toEqual(["sales", "orders"]);
    expect(keyToString(["a", "b", "c"])).toBe("a/b/c");
    expect(toAssetKey("v1.2_x-y")).toEqual(["v1.2_x-y"]);
  });
});
