import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BatonStorageError } from "../io/storage-error.js";
import { env, resolveConfig } from "../resource.js";
import { cleanupTempDirs, tempDir } from "../__tests__/helpers.js";
import { LocalStorageClient, S3StorageClient, openStorageClient, storageClient, type StorageClient } from "../protocols.js";
import { storageKey } from "./path.js";

afterAll(cleanupTempDirs);

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; hint?: string; retryable?: boolean }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

/** A loopback port nothing listens on: an S3 endpoint that does not answer. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

describe("storageKey: one path, the same key on a folder and on S3", () => {
  it("normalises relative paths", () => {
    expect(storageKey("a/./b//c.csv", "root")).toBe("a/b/c.csv");
    expect(storageKey("a/x/../c.csv", "root")).toBe("a/c.csv");
    expect(storageKey("a\\b.csv", "root")).toBe("a/b.csv");
  });
  it.each([
    ["", "it is empty"],
    ["/etc/passwd", "it is absolute"],
    ["../up.csv", "it leaves the storage root"],
    ["a/../../up.csv", "it leaves the storage root"],
    ["dir/", "it names a folder"],
    [".", "it names a folder"],
  ])("refuses %j (%s), naming the root", (path, why) => {
    expect(() => storageKey(path, "s3://b/p")).toThrow(why);
    expect(() => storageKey(path, "s3://b/p")).toThrow("storage root s3://b/p");
  });
});

describe("LocalStorageClient", () => {
  it("a missing file is NOT_FOUND, naming the file and the root", async () => {
    const root = tempDir();
    const e = await rejection(new LocalStorageClient(root).read("nope/x.csv"));
    expect(e).toBeInstanceOf(BatonStorageError);
    expect(e.code).toBe("NOT_FOUND");
    expect(e.retryable).toBe(false);
    expect(e.message).toContain(join(root, "nope", "x.csv"));
    expect(e.message).toContain(`relative to the storage root ${root}`);
  });

  it("readers racing writers see the old bytes or the new, never part of either", async () => {
    const root = tempDir();
    const client = new LocalStorageClient(root);
    const versions = [new Uint8Array(4 << 20).fill(1), new Uint8Array(4 << 20).fill(2)];
    await client.write("big.bin", versions[0]!);
    const reads: Uint8Array[] = [];
    await Promise.all([
      (async () => {
        for (let i = 0; i < 20; i++) await client.write("big.bin", versions[(i + 1) % 2]!);
      })(),
      (async () => {
        for (let i = 0; i < 20; i++) reads.push(await client.read("big.bin"));
      })(),
    ]);
    for (const r of reads) expect(r.length === versions[0]!.length && (r.every((b) => b === 1) || r.every((b) => b === 2))).toBe(true);
    expect(readdirSync(root)).toEqual(["big.bin"]);
  });

  it("a failed write (a folder stands at the path) names the path and leaves no temp file", async () => {
    const root = tempDir();
    mkdirSync(join(root, "t.csv"));
    const e = await rejection(new LocalStorageClient(root).write("t.csv", new Uint8Array([1])));
    expect(e).toBeInstanceOf(BatonStorageError);
    expect(e.message).toContain(join(root, "t.csv"));
    expect(readdirSync(root)).toEqual(["t.csv"]);
  });
});

describe("openStorageClient and storageClient: the client a URL names", () => {
  it("a path or file:// URL is a local folder, s3:// a bucket and prefix", () => {
    const root = tempDir();
    expect(openStorageClient(root)).toBeInstanceOf(LocalStorageClient);
    expect((openStorageClient(`file://${root}`) as LocalStorageClient).root).toBe(root);
    const s3 = openStorageClient("s3://my-bucket/ware/house/", {});
    expect(s3).toBeInstanceOf(S3StorageClient);
    expect((s3 as S3StorageClient).url).toBe("s3://my-bucket/ware/house");
    expect((s3 as S3StorageClient).location("daily/m.csv")).toBe("s3://my-bucket/ware/house/daily/m.csv");
  });

  it("a URL carrying credentials is refused without echoing them, naming the variable", () => {
    const e = (() => {
      try {
        openStorageClient("s3://AKIAEXAMPLE:s3cr3t@my-bucket/p", {}, "WAREHOUSE_URL");
      } catch (err) {
        return err as Error;
      }
      throw new Error("expected a throw");
    })();
    expect(e.message).toContain("WAREHOUSE_URL carries credentials");
    expect(e.message).not.toContain("s3cr3t");
    expect(e.message).not.toContain("AKIAEXAMPLE");
    expect(() => storageClient("s3://k:s3cr3t@bucket")).toThrow(/storageClient\(url\) carries credentials/);
  });

  it("an unsupported URL names the variable and what is supported", () => {
    expect(() => openStorageClient("gs://b/p", {}, "WAREHOUSE_URL")).toThrow(/WAREHOUSE_URL="gs:\/\/b\/p" is not a store[\s\S]*set WAREHOUSE_URL to a local folder/);
  });

  it("storageClient(env(...)) is a resource configured by that variable, a folder by default", async () => {
    const root = tempDir();
    const warehouse = storageClient(env("WAREHOUSE_URL", { default: join(root, "wh"), description: "folder or s3:// URL" }));
    expect(warehouse.config.url.env).toBe("WAREHOUSE_URL");
    const local: StorageClient = await warehouse.create(resolveConfig("warehouse", warehouse.config, {}));
    await local.write("m.csv", new TextEncoder().encode("a,b\n"));
    expect(readFileSync(join(root, "wh", "m.csv"), "utf8")).toBe("a,b\n");
    const remote = await warehouse.create(resolveConfig("warehouse", warehouse.config, { WAREHOUSE_URL: "s3://my-bucket/wh" }));
    expect(remote).toBeInstanceOf(S3StorageClient);
    const fixed = storageClient(join(root, "fixed"));
    expect(fixed.config).toEqual({});
    expect(await fixed.create({})).toBeInstanceOf(LocalStorageClient);
  });

  it("an S3 endpoint that does not answer: retryable, naming the object, the endpoint and the fix", async () => {
    const endpoint = `http://127.0.0.1:${await deadPort()}`;
    const client = openStorageClient("s3://my-bucket/wh", { AWS_ENDPOINT_URL_S3: endpoint, AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "the-secret-value" }, "WAREHOUSE_URL");
    const e = await rejection(client.write("daily/m.csv", new Uint8Array([1])));
    expect(e).toBeInstanceOf(BatonStorageError);
    expect(e.code).toBe("S3_UNREACHABLE");
    expect(e.retryable).toBe(true);
    expect(e.message).toContain("cannot write s3://my-bucket/wh/daily/m.csv");
    expect(e.message).toContain(endpoint);
    expect(e.message).not.toContain("the-secret-value");
  }, 60_000);
});
