import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pl from "nodejs-polars";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asset, definitions, env, openStorageClient, openStore, storageClient, type StorageClient } from "@baton/core";
import { runStep } from "@baton/core/step";
import { enforceMotoAuth, motoUser, startMoto, type MotoServer } from "./moto.js";

/*
 * core's S3 StorageClient (the seed's storage protocol on object storage) against a real S3 API
 * (moto): bytes round-trip, the object lands at s3://bucket/prefix/path, and each failure a user
 * meets (no object, no bucket, rejected, missing or read-only credentials) names the object and the
 * fix without showing a secret. `open` has no auth; `locked` enforces IAM with a read-only user.
 */
let open: MotoServer;
let locked: MotoServer;
let reader: { id: string; secret: string };
const saved = { ...process.env };

beforeAll(async () => {
  [open, locked] = await Promise.all([startMoto({ bucket: "baton-sc" }), startMoto({ bucket: "baton-sc-locked" })]);
  reader = await motoUser(locked.endpoint, "reader", "baton-sc-locked", ["s3:GetObject", "s3:ListBucket"]);
  await enforceMotoAuth(locked.endpoint);
}, 240_000);
afterAll(async () => {
  process.env = saved;
  await Promise.all([open?.stop(), locked?.stop()]);
});

/** The object at `key` from the bucket's root, as moto holds it; the listing (core's store, ListObjectsV2) shows it is there under that key. */
async function objectAt(key: string): Promise<{ listed: boolean; bytes: Uint8Array }> {
  const dir = key.slice(0, key.lastIndexOf("/"));
  const listed = (await openStore(open.storageUrl(dir), open.env).listFiles()).includes(key.slice(dir.length + 1));
  return { listed, bytes: await openStorageClient(`s3://${open.bucket}`, open.env).read(key) };
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; retryable?: boolean }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

describe("S3StorageClient (moto)", () => {
  it("writes and reads bytes under the URL's prefix; a write replaces the object whole", async () => {
    const client = openStorageClient(open.storageUrl("wh/one"), open.env);
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    await client.write("daily/2024-01-01.bin", bytes);
    expect([...(await client.read("daily/2024-01-01.bin"))]).toEqual([...bytes]);
    const stored = await objectAt("wh/one/daily/2024-01-01.bin");
    expect(stored.listed).toBe(true);
    expect([...stored.bytes]).toEqual([...bytes]);
    await client.write("./daily/2024-01-01.bin", new TextEncoder().encode("v2"));
    expect(new TextDecoder().decode(await client.read("daily/2024-01-01.bin"))).toBe("v2");
    expect(new TextDecoder().decode((await objectAt("wh/one/daily/2024-01-01.bin")).bytes)).toBe("v2");
  });

  it("storageClient(env(...)) as an asset's resource: the step writes to the bucket the variable names", async () => {
    const local = mkdtempSync(join(tmpdir(), "baton-sc-"));
    try {
      // The resource reads the S3 variables from the step's process environment, as in a real step.
      process.env = { ...saved, ...open.env };
      const warehouse = storageClient(env("WAREHOUSE_URL", { default: join(local, "warehouse") }));
      const publish = asset({
        key: "published",
        resources: ["warehouse"],
        compute: async (_i, { resources }) => {
          const client: StorageClient = resources.warehouse as StorageClient;
          await client.write("metrics/published.csv", new TextEncoder().encode("id,total\n1,10\n"));
          return pl.DataFrame({ rows: [1] });
        },
      });
      const result = await runStep({
        definitions: definitions({ assets: [publish], resources: { warehouse } }),
        assets: ["published"],
        runId: "run-sc",
        env: { ...process.env, BATON_STORAGE: join(local, "storage"), WAREHOUSE_URL: open.storageUrl("wh/step") },
        onEvent: () => undefined,
      });
      expect(result.status).toBe("success");
      expect(new TextDecoder().decode((await objectAt("wh/step/metrics/published.csv")).bytes)).toBe("id,total\n1,10\n");
    } finally {
      process.env = saved;
      rmSync(local, { recursive: true, force: true });
    }
  });

  it("no object at the path: NOT_FOUND naming s3://bucket/prefix/path", async () => {
    const e = await rejection(openStorageClient(open.storageUrl("wh/one"), open.env).read("missing.csv"));
    expect(e).toMatchObject({ name: "BatonStorageError", code: "NOT_FOUND", retryable: false });
    expect(e.message).toContain(`cannot read s3://${open.bucket}/wh/one/missing.csv: there is no such object at ${open.endpoint}`);
  });

  it("no such bucket: naming the bucket and the variable to fix", async () => {
    const e = await rejection(openStorageClient("s3://no-such-bucket/wh", open.env, "WAREHOUSE_URL").write("m.csv", new Uint8Array([1])));
    expect(e).toMatchObject({ name: "BatonStorageError", code: "S3_NO_BUCKET", retryable: false });
    expect(e.message).toContain("cannot write s3://no-such-bucket/wh/m.csv");
    expect(e.message).toContain(`the bucket "no-such-bucket" does not exist at ${open.endpoint}`);
    expect(e.message).toContain('fix: create the bucket "no-such-bucket", or set WAREHOUSE_URL to an existing bucket (now s3://no-such-bucket/wh)');
  });

  it("a read-only user: access denied on write naming the object and the permissions; reading works", async () => {
    const url = locked.storageUrl("ro");
    const creds = { ...locked.env, AWS_ACCESS_KEY_ID: reader.id, AWS_SECRET_ACCESS_KEY: reader.secret };
    const e = await rejection(openStorageClient(url, creds, "WAREHOUSE_URL").write("m.csv", new Uint8Array([1])));
    expect(e).toMatchObject({ name: "BatonStorageError", code: "S3_ACCESS_DENIED", retryable: false });
    expect(e.message).toContain(`cannot write ${url}/m.csv: ${locked.endpoint} denied access`);
    expect(e.message).toContain("allow s3:PutObject");
    expect(e.message).not.toContain(reader.secret);
    const missing = await rejection(openStorageClient(url, creds).read("m.csv"));
    expect(missing).toMatchObject({ code: "NOT_FOUND" });
  });

  it("rejected credentials: naming the variables to set, never the secret", async () => {
    const creds = { ...locked.env, AWS_ACCESS_KEY_ID: "AKIANOSUCHUSER000000", AWS_SECRET_ACCESS_KEY: "wrong-secret-value-123" };
    const e = await rejection(openStorageClient(locked.storageUrl("creds"), creds).read("m.csv"));
    expect(e).toMatchObject({ name: "BatonStorageError", code: "S3_CREDENTIALS", retryable: false });
    expect(e.message).toContain(`cannot read ${locked.storageUrl("creds")}/m.csv: ${locked.endpoint} rejected the credentials (InvalidAccessKeyId`);
    expect(e.message).toContain("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    expect(e.message).not.toContain("wrong-secret-value-123");
  });

  it("no credentials at all: naming the variables to set", async () => {
    // Nothing for the SDK's default chain to find: no keys, no shared files, no instance metadata.
    process.env = { PATH: saved.PATH, HOME: saved.HOME, AWS_EC2_METADATA_DISABLED: "true", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/credentials", AWS_CONFIG_FILE: "/nonexistent/config" };
    try {
      const e = await rejection(openStorageClient(locked.storageUrl("none"), { AWS_ENDPOINT_URL_S3: locked.endpoint, AWS_REGION: "us-east-1" }).read("m.csv"));
      expect(e).toMatchObject({ name: "BatonStorageError", code: "S3_CREDENTIALS", retryable: false });
      expect(e.message).toContain(`cannot read ${locked.storageUrl("none")}/m.csv`);
      expect(e.message).toContain("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    } finally {
      process.env = saved;
    }
  });
});
