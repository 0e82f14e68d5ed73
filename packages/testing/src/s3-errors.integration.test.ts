import pl from "nodejs-polars";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { asset, definitions, openStore } from "@baton/core";
import { runStep, type StepEvent } from "@baton/core/step";
import { enforceMotoAuth, motoUser, startMoto, type MotoServer } from "./moto.js";
import { freePort } from "./port.js";

/*
 * A store that cannot be written fails before the compute runs, with an error naming the store,
 * the endpoint, the asset and the fix (STORAGE-CONTRACT.md, "Errors before compute"), and nothing
 * is committed. `open` is a moto without auth; `locked` enforces IAM (moto's reset-auth API after
 * its users are made) with a writer and a read-only user.
 */
let open: MotoServer;
let locked: MotoServer;
const users: Record<"writer" | "reader", { id: string; secret: string }> = {} as never;

beforeAll(async () => {
  [open, locked] = await Promise.all([startMoto(), startMoto({ bucket: "baton-locked" })]);
  for (const [user, actions] of [
    ["writer", ["s3:*"]],
    ["reader", ["s3:GetObject", "s3:ListBucket"]],
  ] as const) {
    users[user] = await motoUser(locked.endpoint, user, "baton-locked", actions);
  }
  await enforceMotoAuth(locked.endpoint);
}, 240_000);
afterAll(async () => {
  await Promise.all([open?.stop(), locked?.stop()]);
});

const as = (who: "writer" | "reader") => ({ ...locked.env, AWS_ACCESS_KEY_ID: users[who].id, AWS_SECRET_ACCESS_KEY: users[who].secret });

/** One asset run by the step runtime against `url` with `env`; what it reported and whether its compute ran. */
async function stepOn(url: string, env: Record<string, string>) {
  const compute = vi.fn(() => pl.DataFrame({ x: [1, 2] }));
  const events: StepEvent[] = [];
  const result = await runStep({
    definitions: definitions({ assets: [asset({ key: "sales/orders", compute })] }),
    assets: ["sales/orders"],
    runId: "run-err",
    env: { ...env, BATON_STORAGE: url },
    onEvent: (e) => events.push(e),
    redactOutput: false,
  });
  const failure = events.find((e): e is Extract<StepEvent, { type: "asset_failure" }> => e.type === "asset_failure");
  return { result, compute, failure, events };
}

/** What a writer sees under the prefix: nothing may be committed by a failed step. */
async function objectsUnder(server: MotoServer, url: string, env: Record<string, string>): Promise<string[]> {
  return openStore(url, env).listFiles().catch((e: unknown) => {
    throw new Error(`listing ${url} on ${server.endpoint}: ${(e as Error).message}`);
  });
}

describe("S3 store errors before compute (moto)", () => {
  it("an unreachable endpoint: retryable, naming the store, the endpoint and the fix", async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const url = open.storageUrl("unreachable");
    const { result, compute, failure } = await stepOn(url, { ...open.env, AWS_ENDPOINT_URL_S3: endpoint });
    expect(compute).not.toHaveBeenCalled();
    expect(result.status).toBe("failure");
    expect(result.retryable).toBe(true);
    expect(failure?.error).toMatchObject({ name: "BatonStorageError", retryable: true });
    expect(failure?.error.message).toContain('asset "sales/orders"');
    expect(failure?.error.message).toContain(url);
    expect(failure?.error.message).toContain(`the endpoint ${endpoint} does not answer`);
    expect(failure?.error.message).toContain("AWS_ENDPOINT_URL_S3");
  });

  it("a missing bucket: not retryable, naming the bucket and how to fix it; nothing written", async () => {
    const url = "s3://no-such-bucket/p";
    const { result, compute, failure } = await stepOn(url, open.env);
    expect(compute).not.toHaveBeenCalled();
    expect(result.retryable).toBe(false);
    expect(failure?.error.message).toContain('asset "sales/orders"');
    expect(failure?.error.message).toContain(`the bucket "no-such-bucket" does not exist at ${open.endpoint}`);
    expect(failure?.error.message).toContain('fix: create the bucket "no-such-bucket", or set BATON_STORAGE to an existing bucket (now s3://no-such-bucket/p)');
    expect(failure?.error.message).toContain("(S3_NO_BUCKET)");
  });

  it("rejected credentials: not retryable, naming the variables to set; the secret never shows", async () => {
    const url = locked.storageUrl("creds");
    const env = { ...locked.env, AWS_ACCESS_KEY_ID: "AKIANOSUCHUSER000000", AWS_SECRET_ACCESS_KEY: "wrong-secret-value-123" };
    const { result, compute, failure, events } = await stepOn(url, env);
    expect(compute).not.toHaveBeenCalled();
    expect(result.retryable).toBe(false);
    expect(failure?.error.message).toContain(`${locked.endpoint} rejected the credentials (InvalidAccessKeyId`);
    expect(failure?.error.message).toContain("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    expect(failure?.error.message).toContain(url);
    expect(JSON.stringify(events)).not.toContain("wrong-secret-value-123");
    expect(JSON.stringify(events)).not.toContain("AKIANOSUCHUSER000000");
    expect(await objectsUnder(locked, url, as("writer"))).toEqual([]);
  });

  it("a read-only user: access denied before compute, naming the permissions; nothing committed", async () => {
    const url = locked.storageUrl("readonly");
    // The writer stores an output first: the reader can read it but cannot replace it.
    const writer = await stepOn(url, as("writer"));
    expect(writer.result.status).toBe("success");
    const before = await objectsUnder(locked, url, as("writer"));
    expect(before.filter((f) => f.endsWith("record.json"))).toEqual(["sales/orders/__unpartitioned__/record.json"]);
    const { result, compute, failure } = await stepOn(url, as("reader"));
    expect(compute).not.toHaveBeenCalled();
    expect(result.retryable).toBe(false);
    expect(failure?.error.message).toContain(`${locked.endpoint} denied access (AccessDenied`);
    expect(failure?.error.message).toContain(`the credentials may not write to ${url}`);
    expect(failure?.error.message).toContain("(S3_ACCESS_DENIED)");
    expect(await objectsUnder(locked, url, as("writer"))).toEqual(before);
    // Reading is allowed.
    expect((await openStore(url, as("reader")).read(["sales", "orders"], undefined)).frame.height).toBe(2);
  });

  it("a missing SDK and a bad URL are errors before anything runs", async () => {
    const { result, compute, failure } = await stepOn("gs://bucket/p", open.env);
    expect(compute).not.toHaveBeenCalled();
    expect(result.retryable).toBe(false);
    expect(failure?.error.message).toContain('BATON_STORAGE="gs://bucket/p" is not a store Baton can use: the scheme "gs:" is not supported');
    expect(failure?.error.message).toContain("s3://bucket[/prefix]");
  });
});
