import pl from "nodejs-polars";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { asset } from "../asset.js";
import { definitions } from "../definitions.js";
import { materialize } from "../executor/materialize.js";
import { runStep } from "../step/run.js";
import type { StepEvent } from "../step/events.js";
import { cleanupTempDirs, tempDir, thrown } from "../__tests__/helpers.js";
import { openStore, storageSecrets } from "./open.js";
import { LocalIOStore, defaultStorageRoot } from "./store.js";

afterEach(cleanupTempDirs);

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe("openStore", () => {
  it("reads BATON_S3_PATH_STYLE as true or false (any case), unset or empty as the default, and refuses anything else", async () => {
    expect(openStore("s3://bucket/p", { BATON_S3_PATH_STYLE: "TRUE" }).url).toBe("s3://bucket/p");
    expect(openStore("s3://bucket/p", { BATON_S3_PATH_STYLE: "", AWS_ENDPOINT_URL_S3: "http://127.0.0.1:1" }).url).toBe("s3://bucket/p");
    for (const value of ["yes", "1"]) {
      const e = await thrown(() => openStore("s3://bucket/p", { BATON_S3_PATH_STYLE: value }));
      expect(e).toMatchObject({ code: "CONFIG" });
      expect(e.message).toContain(`BATON_S3_PATH_STYLE must be true or false, not "${value}"`);
      expect(e.message).toContain("s3://bucket/p");
    }
  });

  it("opens a path, a relative path, file:// and the default as the local store", () => {
    const dir = tempDir();
    expect(openStore(dir, {})).toBeInstanceOf(LocalIOStore);
    expect(openStore(dir, {}).url).toBe(dir);
    expect(openStore("rel/store", {}).url).toBe(join(process.cwd(), "rel", "store"));
    expect(openStore(`file://${dir}`, {}).url).toBe(dir);
    expect(openStore(undefined, {}, { defaultRoot: dir }).url).toBe(dir);
    expect(openStore("", {}).url).toBe(join(process.cwd(), ".baton", "storage"));
  });

  it("opens s3://bucket[/prefix] as the S3 store, without loading the SDK until it is used", () => {
    const store = openStore("s3://my-bucket/a/b/", {});
    expect(store).not.toBeInstanceOf(LocalIOStore);
    expect(store.url).toBe("s3://my-bucket/a/b");
    expect(store.dirOf(["sales", "orders"], "2024-01-01")).toBe("s3://my-bucket/a/b/sales/orders/2024-01-01");
    expect(store.locationOf(["x"], undefined, "data-1.parquet")).toBe("s3://my-bucket/a/b/x/__unpartitioned__/data-1.parquet");
    expect(openStore("s3://my-bucket", {}).dirOf(["x"], undefined)).toBe("s3://my-bucket/x/__unpartitioned__");
  });

  it("refuses other schemes, malformed s3 URLs and URLs with credentials, naming the value and the supported forms", async () => {
    for (const spec of ["gs://b/p", "s3a://bucket/p", "http://host/p", "az://c/p", "s3://", "s3://Bad_Bucket/p", "s3://bucket/a//b", "s3://bucket/../x", "file://relative/x"]) {
      const e = await thrown(() => openStore(spec, {}));
      expect(e, spec).toMatchObject({ name: "BatonError", code: "STORAGE_URL" });
      expect(e.message, spec).toContain(JSON.stringify(spec));
      expect(e.message, spec).toContain("s3://bucket[/prefix]");
    }
    const e = await thrown(() => openStore("s3://AKIAXXXX:hunter2@bucket/p", {}));
    expect(e).toMatchObject({ code: "STORAGE_URL" });
    expect(e.message).not.toMatch(/AKIAXXXX|hunter2/);
    expect(e.message).toContain("AWS_SECRET_ACCESS_KEY");
  });

  it("defaultStorageRoot (LocalIOStore's default) refuses a URL instead of making a folder named after it", async () => {
    expect(defaultStorageRoot({ BATON_STORAGE: "file:///srv/baton" })).toBe("/srv/baton");
    expect(await thrown(() => defaultStorageRoot({ BATON_STORAGE: "s3://bucket/p" }))).toMatchObject({ code: "STORAGE_URL" });
  });

  it("storageSecrets lists the credential values present", () => {
    expect(storageSecrets({ AWS_ACCESS_KEY_ID: "AKIAEXAMPLE123", AWS_SECRET_ACCESS_KEY: "secret", AWS_SESSION_TOKEN: "", AWS_REGION: "eu-west-1" }).sort()).toEqual(["AKIAEXAMPLE123", "secret"]);
    // A short id would garble every message if redacted; the secret always is.
    expect(storageSecrets({ AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" })).toEqual(["s"]);
  });
});

describe("BATON_STORAGE=s3://… in a run", () => {
  it("never falls back to a local folder named s3: (the old behaviour): an unreachable endpoint fails before compute", async () => {
    const compute = vi.fn(() => pl.DataFrame({ x: [1] }));
    const env = { BATON_STORAGE: "s3://bucket/p", AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${await closedPort()}`, AWS_ACCESS_KEY_ID: "AKIATESTKEY0000", AWS_SECRET_ACCESS_KEY: "the-secret-value" };
    const events: StepEvent[] = [];
    const result = await materialize(definitions({ assets: [asset({ key: "a", compute })] }), { env, onEvent: (e) => events.push(e), sleep: async () => undefined });
    expect(result.status).toBe("failure");
    expect(compute).not.toHaveBeenCalled();
    expect(result.failure?.error).toMatchObject({ name: "BatonStorageError", retryable: true });
    expect(result.failure?.error?.message).toContain("s3://bucket/p");
    expect(result.failure?.error?.message).toContain("does not answer");
    expect(existsSync(join(process.cwd(), "s3:"))).toBe(false);
    expect(JSON.stringify(events)).not.toMatch(/the-secret-value|AKIATESTKEY0000/);
  });

  it("an unsupported scheme fails the step before any user code runs, not retryable", async () => {
    const compute = vi.fn(() => pl.DataFrame({ x: [1] }));
    const events: StepEvent[] = [];
    const result = await runStep({ definitions: definitions({ assets: [asset({ key: "a", compute })] }), assets: ["a"], runId: "r", env: { BATON_STORAGE: "gs://bucket/p" }, onEvent: (e) => events.push(e) });
    expect(result).toMatchObject({ status: "failure", retryable: false });
    expect(compute).not.toHaveBeenCalled();
    expect(events.find((e) => e.type === "asset_failure")).toMatchObject({ asset: "a", error: { message: expect.stringContaining('the scheme "gs:" is not supported') } });
    await expect(materialize(definitions({ assets: [asset({ key: "a", compute })] }), { env: { BATON_STORAGE: "gs://bucket/p" } })).rejects.toMatchObject({ code: "STORAGE_URL" });
  });
});
