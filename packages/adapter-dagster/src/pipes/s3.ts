/**
 * The S3 channels: the external side of dagster-aws's `PipesS3ContextInjector` and
 * `PipesS3MessageReader` (dagster-pipes' `PipesS3ContextLoader` / `PipesS3MessageWriter`), for
 * steps launched where the orchestrator shares no file and no stdout with them.
 *
 * - Context params `{"bucket": B, "key": K}`: the context is the JSON object `s3://B/K`.
 * - Message params `{"bucket": B, "key_prefix": P, "include_stdio_in_messages"?: bool}`: messages
 *   are uploaded as chunks `s3://B/P/1.json`, `2.json`, … (JSON lines joined by `\n`) every
 *   interval (10 s unless `BATON_PIPES_S3_INTERVAL` says otherwise) and at close, so a crash loses
 *   at most one interval's messages and `closed` is always uploaded before `close()` returns.
 *
 * `openDagsterPipes()` picks these from the params (see `PipesDefaultContextLoader` and
 * `PipesDefaultMessageWriter`); the SDK (`@aws-sdk/client-s3`, an optional peer) is loaded only
 * then, in a worker thread.
 */
import process from "node:process";

import { DagsterPipesError } from "./errors.js";
import { normalizeContextData, type PipesContextLoader } from "./context-loader.js";
import { type PipesContextData, type PipesMessage, type PipesParams } from "./protocol.js";
import { defaultS3Client, type PipesS3ChunkSink, type PipesS3Client } from "./s3-bridge.js";
import { s3UploadInterval } from "./s3-config.js";
import { serializeJson } from "./serialize.js";
import { PipesStdioCapture, writeAllSync, type PipesMessageWriter, type PipesMessageWriterChannel } from "./writers.js";

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function stringParam(params: PipesParams, key: string, owner: string): string {
  const value = params[key];
  if (typeof value !== "string") {
    throw new DagsterPipesError(
      `Invalid type for parameter \`${key}\` passed from orchestration side to \`${owner}\`. Expected a string, got ${typeName(value)}.`,
    );
  }
  return value;
}

/** Whether context params name an S3 object (`PipesS3ContextInjector`). */
export function isS3ContextParams(params: PipesParams): boolean {
  return "bucket" in params && "key" in params;
}

/** Whether message params name an S3 bucket (`PipesS3MessageReader`). */
export function isS3MessagesParams(params: PipesParams): boolean {
  return "bucket" in params;
}

export interface PipesS3Options {
  /** Defaults to the process-wide worker-backed client over `process.env`. */
  client?: PipesS3Client;
}

/** Reads the context from `s3://<bucket>/<key>` (`PipesS3ContextLoader`). */
export class PipesS3ContextLoader implements PipesContextLoader {
  private readonly client: PipesS3Client | undefined;

  constructor(options: PipesS3Options = {}) {
    this.client = options.client;
  }

  loadContext(params: PipesParams): PipesContextData {
    const bucket = stringParam(params, "bucket", "PipesS3ContextLoader");
    const key = stringParam(params, "key", "PipesS3ContextLoader");
    const text = (this.client ?? defaultS3Client()).getObjectText(bucket, key);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new DagsterPipesError(`The Dagster Pipes context s3://${bucket}/${key} is not valid JSON.`, { cause: error });
    }
    return normalizeContextData(parsed, `s3://${bucket}/${key}`);
  }
}

export interface PipesS3MessageWriterOptions extends PipesS3Options {
  /** Seconds between chunk uploads; default `BATON_PIPES_S3_INTERVAL`, else 10. */
  intervalSeconds?: number;
}

/**
 * Buffers messages and uploads them in numbered chunks (`PipesS3MessageWriterChannel`). Closing
 * uploads the rest and waits for it; a failure there is written to stderr (as dagster-pipes'
 * upload thread does), not thrown: the step's exit code still tells Dagster how it ended.
 */
export class PipesS3MessageWriterChannel implements PipesMessageWriterChannel {
  readonly bucket: string;
  readonly keyPrefix: string | null;
  private readonly sink: PipesS3ChunkSink;
  private capture: PipesStdioCapture | undefined;

  constructor(sink: PipesS3ChunkSink, bucket: string, keyPrefix: string | null) {
    this.sink = sink;
    this.bucket = bucket;
    this.keyPrefix = keyPrefix;
  }

  /** Forwards what the process writes to stdout/stderr as `log_external_stream` messages. */
  captureStdio(): void {
    this.capture ??= new PipesStdioCapture(this);
  }

  /** Serialised at once, so a bad message fails at the call that sent it. */
  writeMessage(message: PipesMessage): void {
    if (message.method === "closed") this.capture?.stop();
    this.sink.append(serializeJson(message, `\`${message.method}\` message`));
  }

  close(): void {
    this.capture?.stop();
    try {
      this.sink.close();
    } catch (error) {
      writeAllSync(2, `dagster-pipes: ${(error as Error).message}\n`);
    }
  }
}

/** Opens a {@link PipesS3MessageWriterChannel} from `{bucket, key_prefix}` params (`PipesS3MessageWriter`). */
export class PipesS3MessageWriter implements PipesMessageWriter {
  static readonly INCLUDE_STDIO_IN_MESSAGES_KEY = "include_stdio_in_messages";
  private readonly client: PipesS3Client | undefined;
  private readonly intervalSeconds: number | undefined;

  constructor(options: PipesS3MessageWriterOptions = {}) {
    this.client = options.client;
    this.intervalSeconds = options.intervalSeconds;
  }

  open(params: PipesParams): PipesS3MessageWriterChannel {
    const bucket = stringParam(params, "bucket", "PipesS3MessageWriter");
    const rawPrefix = params["key_prefix"];
    if (rawPrefix !== undefined && rawPrefix !== null && typeof rawPrefix !== "string") {
      throw new DagsterPipesError(
        `Invalid type for parameter \`key_prefix\` passed from orchestration side to \`PipesS3MessageWriter\`. Expected a string or null, got ${typeName(rawPrefix)}.`,
      );
    }
    const keyPrefix = rawPrefix ? rawPrefix : null;
    const intervalSeconds = this.intervalSeconds ?? s3UploadInterval(process.env);
    const sink = (this.client ?? defaultS3Client()).openChunks({ bucket, keyPrefix, intervalSeconds });
    const channel = new PipesS3MessageWriterChannel(sink, bucket, keyPrefix);
    if (params[PipesS3MessageWriter.INCLUDE_STDIO_IN_MESSAGES_KEY]) channel.captureStdio();
    return channel;
  }

  getOpenedExtras(): Record<string, unknown> {
    return {};
  }
}
