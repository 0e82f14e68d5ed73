/**
 * The worker thread that does the S3 requests of the Pipes S3 channels, so the main thread can
 * wait for them synchronously (the Pipes API is synchronous: the context is loaded when the
 * context opens, and `closed` must be uploaded before `close()` returns, even from an exit hook
 * or after `process.exit()`). The background chunk uploads run here too, on their interval, while
 * the main thread computes.
 */
import process from "node:process";
import { parentPort, workerData } from "node:worker_threads";

import type { S3Client } from "@aws-sdk/client-s3";

import { PipesChunkUploader } from "./chunks.js";
import type { BridgeError, BridgeReply, BridgeRequest, BridgeWorkerData } from "./s3-bridge-protocol.js";
import { missingSdkMessage } from "./s3-config.js";

type Sdk = typeof import("@aws-sdk/client-s3");

const data = workerData as BridgeWorkerData;
const flag = new Int32Array(data.flag);
const channels = new Map<number, { uploader: PipesChunkUploader; errors: string[] }>();

let sdk: Promise<{ sdk: Sdk; client: S3Client }> | undefined;

/**
 * On Node < 22 the SDK warns once per process that later releases need Node 22; from a worker that
 * lands on the step's stderr, so in every orchestrator's log. Only that warning is dropped.
 */
function dropNodeVersionWarning(): void {
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === "string" ? warning : warning.message;
    const options = rest[0];
    const type = typeof options === "string" ? options : (options as { type?: string } | undefined)?.type;
    if (type === "NodeVersionSupportWarning" || text.startsWith("NodeVersionSupportWarning")) return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}

function connect(): Promise<{ sdk: Sdk; client: S3Client }> {
  if (!sdk) {
    dropNodeVersionWarning();
    sdk = import("@aws-sdk/client-s3").then(
      (module) => ({ sdk: module, client: new module.S3Client({ ...data.config }) }),
      (error: unknown) => {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") throw new Error(missingSdkMessage(error), { cause: error });
        throw error;
      },
    );
  }
  return sdk;
}

function toBridgeError(error: unknown): BridgeError {
  const e = error as { name?: unknown; message?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const status = e?.$metadata?.httpStatusCode;
  return {
    name: typeof e?.name === "string" ? e.name : "Error",
    message: typeof e?.message === "string" && e.message !== "" ? e.message : String(error),
    ...(typeof status === "number" ? { status } : {}),
  };
}

function reply(message: BridgeReply): void {
  data.replies.postMessage(message);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

async function put(bucket: string, key: string, body: string): Promise<void> {
  const { sdk: s3, client } = await connect();
  await client.send(new s3.PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

async function get(bucket: string, key: string): Promise<string> {
  const { sdk: s3, client } = await connect();
  const answer = await client.send(new s3.GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!answer.Body) throw new Error(`s3://${bucket}/${key} has no body`);
  return answer.Body.transformToString("utf-8");
}

async function handle(request: BridgeRequest): Promise<void> {
  switch (request.type) {
    case "get":
      try {
        reply({ id: request.id, ok: true, value: await get(request.bucket, request.key) });
      } catch (error) {
        reply({ id: request.id, ok: false, error: toBridgeError(error) });
      }
      return;
    case "open": {
      const errors: string[] = [];
      const uploader = new PipesChunkUploader({
        put: (key, body) => put(request.bucket, key, body),
        keyPrefix: request.keyPrefix,
        intervalSeconds: request.intervalSeconds,
        onError: (error, key) => {
          const e = toBridgeError(error);
          if (errors.length < 5) errors.push(`s3://${request.bucket}/${key}: ${e.name}: ${e.message}`);
        },
      });
      uploader.start();
      channels.set(request.channel, { uploader, errors });
      return;
    }
    case "append":
      channels.get(request.channel)?.uploader.append(request.line);
      return;
    case "close": {
      const channel = channels.get(request.channel);
      if (!channel) {
        reply({ id: request.id, ok: true, uploaded: [] });
        return;
      }
      channels.delete(request.channel);
      try {
        await channel.uploader.close();
        reply({ id: request.id, ok: true, uploaded: channel.uploader.uploaded });
      } catch (error) {
        const e = toBridgeError(error);
        const earlier = channel.errors.length > 0 ? ` (earlier failures: ${channel.errors.join("; ")})` : "";
        reply({ id: request.id, ok: false, error: { ...e, message: `${e.message}${earlier}` }, uploaded: channel.uploader.uploaded });
      }
      return;
    }
  }
}

parentPort?.on("message", (request: BridgeRequest) => {
  void handle(request);
});
// Tells the main thread this worker runs (it may be blocked waiting for a first answer).
reply({ id: 0, ok: true });
