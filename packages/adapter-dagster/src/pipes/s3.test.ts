/**
 * The S3 channels without a network: chunk numbering and flushing (`PipesChunkUploader` with a
 * fake PUT), the client configuration from the environment, and the loader/writer over a fake
 * `PipesS3Client`. The real SDK, worker and Dagster are in ../pipes-s3.integration.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { PipesChunkUploader, messageChunkKey } from "./chunks.js";
import { PipesDefaultContextLoader } from "./context-loader.js";
import { ActivePipesContext } from "./context.js";
import { encodeParam, PipesMappingParamsLoader } from "./params.js";
import { defaultS3Client, type PipesS3ChunkSink, type PipesS3Client } from "./s3-bridge.js";
import { s3ClientConfig, s3UploadInterval } from "./s3-config.js";
import { PipesS3ContextLoader, PipesS3MessageWriter, PipesS3MessageWriterChannel } from "./s3.js";
import { PipesDefaultMessageWriter } from "./writers.js";

/** A fake bucket: PUTs recorded in order; `fail` makes the next n PUTs reject. */
function fakePut() {
  const objects = new Map<string, string>();
  const puts: string[] = [];
  let failures = 0;
  return {
    objects,
    puts,
    failNext(n: number) {
      failures = n;
    },
    put: async (key: string, body: string) => {
      puts.push(key);
      if (failures > 0) {
        failures--;
        throw new Error(`PUT ${key} refused`);
      }
      objects.set(key, body);
    },
  };
}

describe("messageChunkKey", () => {
  it("is <key_prefix>/<n>.json, or <n>.json without a prefix (as PipesS3MessageWriterChannel)", () => {
    expect(messageChunkKey("abc", 1)).toBe("abc/1.json");
    expect(messageChunkKey(null, 12)).toBe("12.json");
    expect(messageChunkKey("", 2)).toBe("2.json");
  });
});

describe("PipesChunkUploader", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("uploads what was buffered every interval as chunks 1, 2, 3 (JSON lines joined by \\n), never an empty one", async () => {
    const s3 = fakePut();
    const uploader = new PipesChunkUploader({ put: s3.put, keyPrefix: "p", intervalSeconds: 10 });
    uploader.start();
    uploader.append('{"a":1}');
    uploader.append('{"a":2}');
    await vi.advanceTimersByTimeAsync(9_999);
    expect(s3.puts).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect([...s3.objects]).toEqual([["p/1.json", '{"a":1}\n{"a":2}']]);
    // An interval with nothing new uploads nothing (the reader would not advance past an empty chunk).
    await vi.advanceTimersByTimeAsync(10_000);
    expect(s3.puts).toEqual(["p/1.json"]);
    uploader.append('{"a":3}');
    await vi.advanceTimersByTimeAsync(10_000);
    uploader.append('{"closed":true}');
    await uploader.close();
    expect([...s3.objects]).toEqual([
      ["p/1.json", '{"a":1}\n{"a":2}'],
      ["p/2.json", '{"a":3}'],
      ["p/3.json", '{"closed":true}'],
    ]);
    expect(uploader.uploaded).toEqual(["p/1.json", "p/2.json", "p/3.json"]);
    // Closed: the interval is stopped and nothing more is accepted.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(s3.puts).toHaveLength(3);
    expect(() => uploader.append("{}")).toThrow(/closed/);
  });

  it("retries a failed chunk under the same number with the same body; later messages wait for the next number", async () => {
    const s3 = fakePut();
    const errors: string[] = [];
    const uploader = new PipesChunkUploader({ put: s3.put, keyPrefix: "p", intervalSeconds: 1, onError: (_e, key) => errors.push(key) });
    uploader.start();
    uploader.append("m1");
    s3.failNext(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(errors).toEqual(["p/1.json"]);
    expect(s3.objects.size).toBe(0);
    uploader.append("m2");
    expect(uploader.backlog).toBe(2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect([...s3.objects]).toEqual([["p/1.json", "m1"]]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect([...s3.objects]).toEqual([
      ["p/1.json", "m1"],
      ["p/2.json", "m2"],
    ]);
    expect(s3.puts).toEqual(["p/1.json", "p/1.json", "p/2.json"]);
  });

  it("close uploads everything left, retrying with backoff, and waits for an upload already in flight", async () => {
    const s3 = fakePut();
    let release: (() => void) | undefined;
    const slow = async (key: string, body: string) => {
      if (key === "p/1.json") await new Promise<void>((resolve) => (release = resolve));
      await s3.put(key, body);
    };
    const uploader = new PipesChunkUploader({ put: slow, keyPrefix: "p", intervalSeconds: 1, retryDelayMs: 100 });
    uploader.start();
    uploader.append("m1");
    await vi.advanceTimersByTimeAsync(1_000); // chunk 1 in flight
    uploader.append("m2");
    uploader.append("closed");
    const closing = uploader.close();
    let done = false;
    void closing.then(() => (done = true));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(done).toBe(false);
    release!();
    await vi.advanceTimersByTimeAsync(0);
    await closing;
    expect([...s3.objects]).toEqual([
      ["p/1.json", "m1"],
      ["p/2.json", "m2\nclosed"],
    ]);
  });

  it("close gives up after closeAttempts and rejects with the last error", async () => {
    const s3 = fakePut();
    const uploader = new PipesChunkUploader({ put: s3.put, keyPrefix: null, intervalSeconds: 10, closeAttempts: 3, retryDelayMs: 10 });
    uploader.append("m1");
    s3.failNext(5);
    const closing = uploader.close();
    const assertion = expect(closing).rejects.toThrow("PUT 1.json refused");
    await vi.advanceTimersByTimeAsync(1_000);
    await assertion;
    expect(s3.puts).toEqual(["1.json", "1.json", "1.json"]);
  });
});

describe("s3ClientConfig (core's STORAGE-CONTRACT conventions)", () => {
  it("region from AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1; path style only with an endpoint", () => {
    expect(s3ClientConfig({})).toEqual({ region: "us-east-1", forcePathStyle: false });
    expect(s3ClientConfig({ AWS_DEFAULT_REGION: "eu-west-1" })).toEqual({ region: "eu-west-1", forcePathStyle: false });
    expect(s3ClientConfig({ AWS_REGION: "eu-central-1", AWS_DEFAULT_REGION: "eu-west-1" }).region).toBe("eu-central-1");
    expect(s3ClientConfig({ AWS_ENDPOINT_URL: "http://a:1" })).toEqual({ region: "us-east-1", endpoint: "http://a:1", forcePathStyle: true });
    expect(s3ClientConfig({ AWS_ENDPOINT_URL: "http://a:1", AWS_ENDPOINT_URL_S3: "http://s3:2" }).endpoint).toBe("http://s3:2");
    expect(s3ClientConfig({ AWS_ENDPOINT_URL_S3: "http://s3:2", BATON_S3_PATH_STYLE: "false" }).forcePathStyle).toBe(false);
    expect(s3ClientConfig({ BATON_S3_PATH_STYLE: "true" }).forcePathStyle).toBe(true);
    expect(() => s3ClientConfig({ BATON_S3_PATH_STYLE: "yes" })).toThrow(/BATON_S3_PATH_STYLE must be "true" or "false"/);
  });

  it("upload interval from BATON_PIPES_S3_INTERVAL (seconds), default 10", () => {
    expect(s3UploadInterval({})).toBe(10);
    expect(s3UploadInterval({ BATON_PIPES_S3_INTERVAL: "0.5" })).toBe(0.5);
    expect(() => s3UploadInterval({ BATON_PIPES_S3_INTERVAL: "0" })).toThrow(/positive number of seconds/);
  });
});

/** A fake client: objects to GET, and sinks that record appended lines and closes. */
function fakeClient(objects: Record<string, string> = {}) {
  const sinks: { options: { bucket: string; keyPrefix: string | null; intervalSeconds: number }; lines: string[]; closed: number }[] = [];
  const gets: string[] = [];
  const client: PipesS3Client = {
    getObjectText(bucket, key) {
      gets.push(`${bucket}/${key}`);
      const text = objects[`${bucket}/${key}`];
      if (text === undefined) throw new Error(`NoSuchKey ${bucket}/${key}`);
      return text;
    },
    openChunks(options) {
      const sink = { options, lines: [] as string[], closed: 0 };
      sinks.push(sink);
      const chunkSink: PipesS3ChunkSink = {
        append: (line) => void sink.lines.push(line),
        close: () => {
          sink.closed++;
          return { uploaded: [] };
        },
      };
      return chunkSink;
    },
  };
  return { client, sinks, gets };
}

const contextJson = JSON.stringify({ asset_keys: ["a/b"], run_id: "r1", retry_number: 0, extras: { x: 1 } });

describe("PipesS3ContextLoader / PipesS3MessageWriter", () => {
  it("loads the context object named by {bucket, key} and fills the optional fields", () => {
    const { client, gets } = fakeClient({ "bk/p/context.json": contextJson });
    const data = new PipesS3ContextLoader({ client }).loadContext({ bucket: "bk", key: "p/context.json" });
    expect(gets).toEqual(["bk/p/context.json"]);
    expect(data).toMatchObject({ asset_keys: ["a/b"], run_id: "r1", partition_key: null, extras: { x: 1 } });
  });

  it("rejects bad params and a context that is not JSON", () => {
    const { client } = fakeClient({ "bk/k": "not json" });
    const loader = new PipesS3ContextLoader({ client });
    expect(() => loader.loadContext({ bucket: 1, key: "k" })).toThrow(/parameter `bucket` .* `PipesS3ContextLoader`/);
    expect(() => loader.loadContext({ bucket: "bk", key: "k" })).toThrow("The Dagster Pipes context s3://bk/k is not valid JSON.");
    expect(() => new PipesS3MessageWriter({ client }).open({ bucket: "bk", key_prefix: 3 })).toThrow(/parameter `key_prefix`/);
  });

  it("writes one JSON line per message (no newline) to the chunk sink, with the configured interval", () => {
    const { client, sinks } = fakeClient();
    const channel = new PipesS3MessageWriter({ client, intervalSeconds: 3 }).open({ bucket: "bk", key_prefix: "pre", include_stdio_in_messages: false });
    expect(sinks[0]!.options).toEqual({ bucket: "bk", keyPrefix: "pre", intervalSeconds: 3 });
    channel.writeMessage({ __dagster_pipes_version: "0.1", method: "log", params: { message: "hi", level: "INFO" } });
    channel.close();
    expect(sinks[0]!.lines).toEqual(['{"__dagster_pipes_version":"0.1","method":"log","params":{"message":"hi","level":"INFO"}}']);
    expect(sinks[0]!.closed).toBe(1);
  });

  it("a failed last upload is reported on stderr, not thrown (the exit code still tells Dagster)", () => {
    const sink: PipesS3ChunkSink = {
      append: () => undefined,
      close: () => {
        throw new Error("Could not upload Dagster Pipes messages to s3://bk/pre/: AccessDenied");
      },
    };
    expect(() => new PipesS3MessageWriterChannel(sink, "bk", "pre").close()).not.toThrow();
  });

  it("the default loader and writer pick S3 from {bucket, key} / {bucket, key_prefix} params", () => {
    expect(() => new PipesDefaultContextLoader().loadContext({ bucket: "bk" })).toThrow(/expected key "path", "data" or "bucket" and "key"/);
    const { client, sinks } = fakeClient({ "bk/ctx.json": contextJson });
    const context = new ActivePipesContext({
      paramsLoader: new PipesMappingParamsLoader({
        DAGSTER_PIPES_CONTEXT: encodeParam({ bucket: "bk", key: "ctx.json" }),
        DAGSTER_PIPES_MESSAGES: encodeParam({ bucket: "bk", key_prefix: "pre" }),
      }),
      contextLoader: new PipesDefaultContextLoader({ s3: { client } }),
      messageWriter: new PipesDefaultMessageWriter({ s3: { client, intervalSeconds: 4 } }),
    });
    expect(context.runId).toBe("r1");
    expect(sinks[0]!.options).toEqual({ bucket: "bk", keyPrefix: "pre", intervalSeconds: 4 });
    context.log.info("hello");
    context.close();
    expect(sinks[0]!.lines.map((l) => (JSON.parse(l) as { method: string }).method)).toEqual(["opened", "log", "closed"]);
    expect(sinks[0]!.closed).toBe(1);
  });
});

describe("include_stdio_in_messages over S3", () => {
  it("forwards process.stdout writes as log_external_stream messages until closed", () => {
    const { client, sinks } = fakeClient();
    const channel = new PipesS3MessageWriter({ client, intervalSeconds: 10 }).open({ bucket: "bk", key_prefix: "p", include_stdio_in_messages: true });
    process.stdout.write("captured line\n");
    channel.writeMessage({ __dagster_pipes_version: "0.1", method: "closed", params: {} });
    channel.close();
    process.stdout.write("after close\n");
    const messages = sinks[0]!.lines.map((l) => JSON.parse(l) as { method: string; params: Record<string, unknown> });
    expect(messages).toEqual([
      { __dagster_pipes_version: "0.1", method: "log_external_stream", params: { stream: "stdout", text: "captured line\n", extras: {} } },
      { __dagster_pipes_version: "0.1", method: "closed", params: {} },
    ]);
  });
});

describe("defaultS3Client in a warm step worker", () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it("is one bridge while the SDK's variables stay the same, and a new one when a step brings other credentials", () => {
    process.env["AWS_ACCESS_KEY_ID"] = "step-one";
    const first = defaultS3Client();
    process.env["DAGSTER_PIPES_CONTEXT"] = "another step, same credentials";
    expect(defaultS3Client()).toBe(first);
    process.env["AWS_ACCESS_KEY_ID"] = "step-two";
    const second = defaultS3Client();
    expect(second).not.toBe(first);
    process.env["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:1";
    expect(defaultS3Client()).not.toBe(second);
  });
});
