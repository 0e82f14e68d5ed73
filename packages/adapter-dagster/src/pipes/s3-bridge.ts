/**
 * The main-thread side of the S3 worker: a {@link PipesS3Client} whose blocking calls post a
 * request to the worker and wait on a shared flag (`Atomics.wait`), then take the answer with
 * `receiveMessageOnPort`. This works inside `process.on("exit")` handlers and signal handlers,
 * where no promise would ever settle. The worker starts on first use and never keeps the process
 * alive (`unref`).
 */
import { existsSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";

import { DagsterPipesError } from "./errors.js";
import type { BridgeReply, BridgeRequest, BridgeWorkerData } from "./s3-bridge-protocol.js";
import { s3ClientConfig } from "./s3-config.js";

/** Uploads one channel's messages as numbered chunks (see `chunks.ts`). */
export interface PipesS3ChunkSink {
  /** Buffers one message's JSON (no newline); uploaded with the next chunk. */
  append(line: string): void;
  /** Uploads everything left and blocks until done; throws when a chunk could not be uploaded. */
  close(): { uploaded: readonly string[] };
}

/** The S3 operations the Pipes channels need, all callable from synchronous code. */
export interface PipesS3Client {
  /** GETs `s3://bucket/key` as UTF-8 text, blocking until it arrives. */
  getObjectText(bucket: string, key: string): string;
  /** Starts uploading chunks `<keyPrefix>/<n>.json` every `intervalSeconds`. */
  openChunks(options: { bucket: string; keyPrefix: string | null; intervalSeconds: number }): PipesS3ChunkSink;
}

export interface PipesS3BridgeOptions {
  /** Environment for the SDK (credentials chain, region, endpoint); default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Upper bound for one blocking call (default 120 s: the SDK retries, then close retries too). */
  timeoutMs?: number;
}

const WORKER_URL = new URL("./s3-worker.js", import.meta.url);

/** The S3 client backed by a worker thread running `@aws-sdk/client-s3`. */
export class PipesS3Bridge implements PipesS3Client {
  private readonly env: Record<string, string>;
  private readonly timeoutMs: number;
  private worker: Worker | undefined;
  private replies: MessagePort | undefined;
  private flag: Int32Array | undefined;
  private nextId = 1;
  private nextChannel = 1;
  /** The worker answers id 0 once it runs: a timeout before that means it never started. */
  private started = false;

  constructor(options: PipesS3BridgeOptions = {}) {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(options.env ?? process.env)) if (value !== undefined) env[key] = value;
    this.env = env;
    this.timeoutMs = options.timeoutMs ?? 120_000;
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    if (WORKER_URL.protocol === "file:" && !existsSync(fileURLToPath(WORKER_URL))) {
      throw new DagsterPipesError(`The Dagster Pipes S3 worker ${fileURLToPath(WORKER_URL)} is missing: build @baton/adapter-dagster.`);
    }
    const shared = new SharedArrayBuffer(4);
    const { port1, port2 } = new MessageChannel();
    const workerData: BridgeWorkerData = { config: s3ClientConfig(this.env), flag: shared, replies: port2 };
    // No inherited execArgv: `node -e …` would hand the worker the eval code and it never starts.
    const worker = new Worker(WORKER_URL, { workerData, transferList: [port2], env: this.env, execArgv: [] });
    worker.unref();
    // An error in the worker surfaces as the timeout of the call waiting for it; nothing to do here.
    worker.on("error", () => undefined);
    this.worker = worker;
    this.replies = port1;
    this.flag = new Int32Array(shared);
    return worker;
  }

  private post(request: BridgeRequest): void {
    this.start().postMessage(request);
  }

  /** Posts `request` and blocks until the worker answers it. */
  private call(request: Extract<BridgeRequest, { id: number }>, what: string): Extract<BridgeReply, { id: number }> {
    this.post(request);
    const flag = this.flag!;
    const replies = this.replies!;
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      Atomics.store(flag, 0, 0);
      const received = receiveMessageOnPort(replies);
      if (received) {
        const answer = received.message as BridgeReply;
        if (answer.id === 0) this.started = true;
        else if (answer.id === request.id) return answer;
        continue; // the start signal, or the late answer of a call that timed out
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DagsterPipesError(
          this.started
            ? `Timed out after ${this.timeoutMs / 1000} s waiting for S3 (${what}).`
            : `The Dagster Pipes S3 worker (${fileURLToPath(WORKER_URL)}) did not start within ${this.timeoutMs / 1000} s (${what}).`,
        );
      }
      Atomics.wait(flag, 0, 0, left);
    }
  }

  getObjectText(bucket: string, key: string): string {
    const answer = this.call({ type: "get", id: this.nextId++, bucket, key }, `GET s3://${bucket}/${key}`);
    if (!answer.ok) {
      const status = answer.error.status !== undefined ? ` (HTTP ${answer.error.status})` : "";
      throw new DagsterPipesError(`Could not read s3://${bucket}/${key}: ${answer.error.name}: ${answer.error.message}${status}`);
    }
    return answer.value ?? "";
  }

  openChunks(options: { bucket: string; keyPrefix: string | null; intervalSeconds: number }): PipesS3ChunkSink {
    const channel = this.nextChannel++;
    this.post({ type: "open", channel, ...options });
    let closed: { uploaded: readonly string[] } | undefined;
    const where = `s3://${options.bucket}/${options.keyPrefix ? `${options.keyPrefix}/` : ""}`;
    return {
      append: (line) => {
        if (closed) throw new DagsterPipesError("Cannot send message after the S3 message channel is closed.");
        this.post({ type: "append", channel, line });
      },
      close: () => {
        if (closed) return closed;
        const answer = this.call({ type: "close", id: this.nextId++, channel }, `uploading the last messages to ${where}`);
        closed = { uploaded: answer.uploaded ?? [] };
        if (!answer.ok) {
          throw new DagsterPipesError(
            `Could not upload Dagster Pipes messages to ${where}: ${answer.error.name}: ${answer.error.message}` +
              ` (uploaded: ${closed.uploaded.length > 0 ? closed.uploaded.join(", ") : "none"})`,
          );
        }
        return closed;
      },
    };
  }

  /** Stops the worker (tests; a process that exits needs nothing). */
  terminate(): Promise<number> {
    const worker = this.worker;
    this.worker = undefined;
    this.replies?.close();
    return worker ? worker.terminate() : Promise.resolve(0);
  }
}

let shared: { bridge: PipesS3Bridge; fingerprint: string } | undefined;

/** What the SDK's client reads from the environment: credentials chain, region, endpoint, proxies. */
function s3Fingerprint(env: Readonly<Record<string, string | undefined>>): string {
  const keys = Object.keys(env)
    .filter((k) => /^(AWS_|BATON_S3_)/.test(k) || /^(https?|no)_proxy$/i.test(k))
    .sort();
  return JSON.stringify(keys.map((k) => [k, env[k]]));
}

/**
 * The process-wide bridge over `process.env` (one worker thread however many channels use it).
 * A warm step worker gives each step its own `process.env`: when what the SDK reads from it
 * differs from what the current bridge was started with (other credentials, another endpoint),
 * that bridge is stopped and a new one started, so no step uses another's credentials.
 */
export function defaultS3Client(): PipesS3Client {
  const fingerprint = s3Fingerprint(process.env);
  if (shared?.fingerprint !== fingerprint) {
    void shared?.bridge.terminate();
    shared = { bridge: new PipesS3Bridge(), fingerprint };
  }
  return shared.bridge;
}
