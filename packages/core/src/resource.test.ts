import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BatonError } from "./errors.js";
import { env, resolveConfig, resource, secret, secretValues, type ResourceDefinition } from "./resource.js";
import { LocalStorageClient, localStorage } from "./protocols.js";
import { cleanupTempDirs, tempDir, thrown, thrownSync } from "./__tests__/helpers.js";

afterEach(cleanupTempDirs);

describe("resource config", () => {
  const warehouse = resource({
    description: "warehouse",
    config: { url: env("WAREHOUSE_URL"), schema: env("WAREHOUSE_SCHEMA", { default: "public" }), password: secret("WAREHOUSE_PASSWORD") },
    create: (c) => ({ ...c }),
  });

  it("env() and secret() describe sources; resource() keeps config, factory and teardown", () => {
    expect(env("A", { default: "x", description: "d" })).toEqual({ env: "A", secret: false, default: "x", description: "d" });
    expect(secret("S")).toEqual({ env: "S", secret: true });
    expect(warehouse.kind).toBe("resource");
    expect(Object.keys(warehouse.config)).toEqual(["url", "schema", "password"]);
    expect(warehouse.teardown).toBeUndefined();
    expect(resource({ create: () => 1 }).config).toEqual({});
  });

  it("resolves values from the environment, with defaults", () => {
    const values = resolveConfig("warehouse", warehouse.config, { WAREHOUSE_URL: "pg://h", WAREHOUSE_PASSWORD: "pw" });
    expect(values).toEqual({ url: "pg://h", schema: "public", password: "pw" });
    expect(resolveConfig("warehouse", warehouse.config, { WAREHOUSE_URL: "u", WAREHOUSE_SCHEMA: "s", WAREHOUSE_PASSWORD: "p" }).schema).toBe("s");
  });

  it("a missing variable is MISSING_ENV naming every missing variable, the resource and the asset", () => {
    const e = thrownSync(() => resolveConfig("warehouse", warehouse.config, { WAREHOUSE_URL: "" }, "customer_metrics")) as unknown as BatonError;
    expect(e).toBeInstanceOf(BatonError);
    expect(e.code).toBe("MISSING_ENV");
    expect(e.asset).toBe("customer_metrics");
    expect(e.message).toContain('asset "customer_metrics": resource "warehouse" needs environment variables WAREHOUSE_URL (field "url"), WAREHOUSE_PASSWORD (field "password", secret)');
    expect(e.hint).toContain("set WAREHOUSE_URL, WAREHOUSE_PASSWORD in the environment");
    const one = thrownSync(() => resolveConfig("warehouse", warehouse.config, { WAREHOUSE_URL: "u" })) as unknown as BatonError;
    expect(one.message).toContain("needs environment variable WAREHOUSE_PASSWORD");
    expect(one.asset).toBeUndefined();
  });

  it("secretValues lists only the set secret fields", () => {
    expect(secretValues([warehouse as unknown as ResourceDefinition], { WAREHOUSE_URL: "u", WAREHOUSE_PASSWORD: "hunter2" })).toEqual(["hunter2"]);
    expect(secretValues([warehouse as unknown as ResourceDefinition], { WAREHOUSE_URL: "u" })).toEqual([]);
  });
});

describe("LocalStorageClient (the seed's StorageClient on a folder)", () => {
  it("writes and reads bytes under its root, creating folders", async () => {
    const root = tempDir();
    const client = new LocalStorageClient(root);
    await client.write("raw/2024/orders.bin", new Uint8Array([1, 2, 3]));
    expect([...(await client.read("raw/2024/orders.bin"))]).toEqual([1, 2, 3]);
    expect([...readFileSync(join(root, "raw", "2024", "orders.bin"))]).toEqual([1, 2, 3]);
    await client.write("raw/2024/orders.bin", new Uint8Array([9]));
    expect([...(await client.read("raw/2024/orders.bin"))]).toEqual([9]);
    expect(readdirSync(join(root, "raw", "2024"))).toEqual(["orders.bin"]);
  });

  it("refuses paths that leave the root", async () => {
    const root = tempDir();
    const client = new LocalStorageClient(join(root, "inner"));
    const e = await thrown(() => client.write("../escape.bin", new Uint8Array([1])));
    expect(e).toMatchObject({ code: "CONFIG" });
    expect(existsSync(join(root, "escape.bin"))).toBe(false);
    await expect(client.read("/etc/../../x")).rejects.toMatchObject({ code: "CONFIG" });
  });

  it("localStorage is a resource whose root comes from BATON_LOCAL_STORAGE_ROOT", async () => {
    const root = tempDir();
    expect(localStorage.config.root.env).toBe("BATON_LOCAL_STORAGE_ROOT");
    const client = await localStorage.create(resolveConfig("storage", localStorage.config, { BATON_LOCAL_STORAGE_ROOT: root }));
    expect(client).toBeInstanceOf(LocalStorageClient);
    expect(client.root).toBe(root);
  });
});
