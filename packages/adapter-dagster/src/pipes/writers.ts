/**
 * Message writers (`PipesDefaultMessageWriter` and its channels). The message params select one:
 *
 * - `{"path": "<file>", "include_stdio_in_messages"?: bool}` — one JSON line per message,
 *   appended with a synchronous `appendFileSync` (a whole line per write, never torn or lost,
 *   even if the process exits right after). With `include_stdio_in_messages`, writes to
 *   `process.stdout`/`process.stderr` are also forwarded as `log_external_stream` messages.
 * - `{"stdio": "stdout" | "stderr"}` — one JSON line per message on that stream, written
 *   synchronously to the file descriptor.
 * - `{"buffered_stdio": "stdout" | "stderr"}` — messages are kept in memory and written on
 *   close, or at process exit if the channel was never closed.
 * - `{"bucket": B, "key_prefix": P}` — chunks uploaded to S3 ({@link PipesS3MessageWriter},
 *   dagster-aws's `PipesS3MessageReader`; Python makes the user pass its writer explicitly).
 *
 * All channels write synchronously (S3: `close()` waits for the last upload), so `close()` has
 * finished writing when it returns and a following `process.exit()` loses nothing.
 */
import { Buffer } from "node:buffer";
import { appendFileSync, writeSync } from "node:fs";
import process from "node:process";

import { DagsterPipesError } from "./errors.js";
import { makeMessage, type PipesExtras, type PipesMessage, type PipesParams } from "./protocol.js";
import { isS3MessagesParams, PipesS3MessageWriter, type PipesS3MessageWriterOptions } from "./s3.js";
import { serializeJson } from "./serialize.js";

/** Writes messages to the orchestrator. */
export interface PipesMessageWriterChannel {
  writeMessage(message: PipesMessage): void;
  /** Called once, after the `closed` message was written. Must flush synchronously. */
  close?(): void;
}

/** Opens a channel from the orchestrator's message-reader params. */
export interface PipesMessageWriter {
  open(params: PipesParams): PipesMessageWriterChannel;
  /** Extra data sent in the `opened` message under `extras` (default `{}`). */
  getOpenedExtras?(): PipesExtras;
}

/** Serialises a message to one JSON line (with the trailing newline). */
export function serializeMessage(message: PipesMessage): string {
  return `${serializeJson(message, `\`${message.method}\` message`)}\n`;
}

export type PipesStdioStream = "stdout" | "stderr";

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `data` to `fd` synchronously. Retries on EAGAIN, which a non-blocking pipe (as
 * Node makes stdout/stderr pipes) reports while it is full.
 */
export function writeAllSync(fd: number, data: string): void {
  const buffer = Buffer.from(data, "utf8");
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += writeSync(fd, buffer, offset, buffer.length - offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EAGAIN") {
        Atomics.wait(sleepCell, 0, 0, 1);
        continue;
      }
      throw error;
    }
  }
}

function fdOf(stream: PipesStdioStream): number {
  return stream === "stdout" ? 1 : 2;
}

/**
 * Where the stdio channels write: synchronous writers for the process's stdout and stderr. The
 * default writes to fds 1 and 2; a warm step worker passes its step's connection instead (fd 1
 * there is the worker's own, shared by every step it serves).
 */
export interface PipesStdioSink {
  out(text: string): void;
  err(text: string): void;
}

/**
 * Fds 1 and 2, synchronously. If Node's own stream still has queued (async) output, a partial
 * line may be sitting in the pipe, so the write starts with a newline to keep the message on a
 * line of its own.
 */
export const PROCESS_STDIO: PipesStdioSink = {
  out: (text) => writeProcessStdio("stdout", text),
  err: (text) => writeProcessStdio("stderr", text),
};

function writeProcessStdio(stream: PipesStdioStream, text: string): void {
  const nodeStream = stream === "stdout" ? process.stdout : process.stderr;
  const pending = (nodeStream as { writableLength?: number }).writableLength ?? 0;
  writeAllSync(fdOf(stream), pending > 0 ? `\n${text}` : text);
}

function writeStdioLines(sink: PipesStdioSink, stream: PipesStdioStream, text: string): void {
  if (stream === "stdout") sink.out(text);
  else sink.err(text);
}

/** One JSON line per message, appended to a file (`PipesFileMessageWriterChannel`). */
export class PipesFileMessageWriterChannel implements PipesMessageWriterChannel {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  writeMessage(message: PipesMessage): void {
    appendFileSync(this.path, serializeMessage(message), { encoding: "utf8" });
  }
}

/** One JSON line per message on stdout or stderr (`PipesStreamMessageWriterChannel`). */
export class PipesStreamMessageWriterChannel implements PipesMessageWriterChannel {
  readonly stream: PipesStdioStream;
  private readonly sink: PipesStdioSink;

  constructor(stream: PipesStdioStream, sink: PipesStdioSink = PROCESS_STDIO) {
    this.stream = stream;
    this.sink = sink;
  }

  writeMessage(message: PipesMessage): void {
    writeStdioLines(this.sink, this.stream, serializeMessage(message));
  }
}

/**
 * Buffers messages and writes them all to stdout or stderr on {@link flush} / {@link close},
 * and at process exit if it was never closed (`PipesBufferedStreamMessageWriterChannel`).
 */
export class PipesBufferedStreamMessageWriterChannel implements PipesMessageWriterChannel {
  readonly stream: PipesStdioStream;
  private readonly sink: PipesStdioSink;
  private buffer: string[] = [];
  private readonly onExit = (): void => {
    try {
      this.flush();
    } catch {
      // Nothing can be reported from an exit hook.
    }
  };

  constructor(stream: PipesStdioStream, sink: PipesStdioSink = PROCESS_STDIO) {
    this.stream = stream;
    this.sink = sink;
    process.on("exit", this.onExit);
  }

  /** Serialised eagerly, so a bad message fails at the call that sent it. */
  writeMessage(message: PipesMessage): void {
    this.buffer.push(serializeMessage(message));
  }

  /** Number of messages waiting to be written. */
  get pending(): number {
    return this.buffer.length;
  }

  flush(): void {
    if (this.buffer.length === 0) return;
    const text = this.buffer.join("");
    this.buffer = [];
    writeStdioLines(this.sink, this.stream, text);
  }

  close(): void {
    process.removeListener("exit", this.onExit);
    this.flush();
  }
}

/**
 * Forwards what the process writes to `process.stdout`/`process.stderr` as
 * `log_external_stream` messages while still writing it through (the Node counterpart of
 * Python's `tee`-based `PipesDefaultLogWriter`; it sees writes made through those Node streams,
 * not output of child processes or direct fd writes).
 */
export class PipesStdioCapture {
  private readonly restores: (() => void)[] = [];
  private readonly channel: PipesMessageWriterChannel;
  private active = true;
  private forwarding = false;

  constructor(channel: PipesMessageWriterChannel) {
    this.channel = channel;
    for (const name of ["stdout", "stderr"] as const) {
      const stream = process[name];
      const original = stream.write;
      const patched = (chunk: unknown, ...rest: unknown[]): boolean => {
        this.forward(name, chunk, rest[0]);
        return Reflect.apply(original, stream, [chunk, ...rest]) as boolean;
      };
      stream.write = patched as typeof stream.write;
      this.restores.push(() => {
        if (stream.write === (patched as typeof stream.write)) stream.write = original;
      });
    }
  }

  private forward(stream: PipesStdioStream, chunk: unknown, encoding: unknown): void {
    if (!this.active || this.forwarding) return;
    let text: string;
    if (typeof chunk === "string") {
      text =
        typeof encoding === "string" && Buffer.isEncoding(encoding) && encoding !== "utf8" && encoding !== "utf-8"
          ? Buffer.from(chunk, encoding).toString("utf8")
          : chunk;
    } else if (chunk instanceof Uint8Array) {
      text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("utf8");
    } else {
      return;
    }
    if (text.length === 0) return;
    this.forwarding = true;
    try {
      this.channel.writeMessage(makeMessage("log_external_stream", { stream, text, extras: {} }));
    } catch {
      // Never let log forwarding break the user's own output.
    } finally {
      this.forwarding = false;
    }
  }

  stop(): void {
    if (!this.active) return;
    this.active = false;
    for (const restore of this.restores) restore();
  }
}

/** Wraps a channel so stdio capture stops right before `closed` is written. */
class CapturingChannel implements PipesMessageWriterChannel {
  private readonly inner: PipesMessageWriterChannel;
  private readonly capture: PipesStdioCapture;

  constructor(inner: PipesMessageWriterChannel) {
    this.inner = inner;
    this.capture = new PipesStdioCapture(inner);
  }

  writeMessage(message: PipesMessage): void {
    if (message.method === "closed") this.capture.stop();
    this.inner.writeMessage(message);
  }

  close(): void {
    this.capture.stop();
    this.inner.close?.();
  }
}

function stdioParam(params: PipesParams, key: string): PipesStdioStream {
  const stream = params[key];
  if (typeof stream !== "string") {
    throw new DagsterPipesError(
      `Invalid type for parameter \`${key}\` passed from orchestration side to \`PipesDefaultMessageWriter\`. Expected a string, got ${stream === null ? "null" : typeof stream}.`,
    );
  }
  if (stream !== "stdout" && stream !== "stderr") {
    throw new DagsterPipesError(`Invalid value for key "std", expected "stderr" or "stdout" but received ${stream}`);
  }
  return stream;
}

/** The default writer: picks a channel from the `path` / `stdio` / `buffered_stdio` / `bucket` params. */
export class PipesDefaultMessageWriter implements PipesMessageWriter {
  static readonly FILE_PATH_KEY = "path";
  static readonly STDIO_KEY = "stdio";
  static readonly BUFFERED_STDIO_KEY = "buffered_stdio";
  static readonly INCLUDE_STDIO_IN_MESSAGES_KEY = "include_stdio_in_messages";
  private readonly s3: PipesS3MessageWriterOptions;
  private readonly stdio: PipesStdioSink;

  /**
   * `s3`: client and interval for `{bucket, key_prefix}` params (default: SDK client, `BATON_PIPES_S3_INTERVAL` or 10 s).
   * `stdio`: where the `stdio` / `buffered_stdio` channels write (default: fds 1 and 2).
   */
  constructor(options: { s3?: PipesS3MessageWriterOptions; stdio?: PipesStdioSink } = {}) {
    this.s3 = options.s3 ?? {};
    this.stdio = options.stdio ?? PROCESS_STDIO;
  }

  open(params: PipesParams): PipesMessageWriterChannel {
    if (PipesDefaultMessageWriter.FILE_PATH_KEY in params) {
      const path = params[PipesDefaultMessageWriter.FILE_PATH_KEY];
      if (typeof path !== "string") {
        throw new DagsterPipesError(
          "Invalid type for parameter `path` passed from orchestration side to `PipesDefaultMessageWriter`. Expected a string.",
        );
      }
      const channel = new PipesFileMessageWriterChannel(path);
      return params[PipesDefaultMessageWriter.INCLUDE_STDIO_IN_MESSAGES_KEY] ? new CapturingChannel(channel) : channel;
    }
    if (PipesDefaultMessageWriter.STDIO_KEY in params) {
      return new PipesStreamMessageWriterChannel(stdioParam(params, PipesDefaultMessageWriter.STDIO_KEY), this.stdio);
    }
    if (PipesDefaultMessageWriter.BUFFERED_STDIO_KEY in params) {
      return new PipesBufferedStreamMessageWriterChannel(
        stdioParam(params, PipesDefaultMessageWriter.BUFFERED_STDIO_KEY),
        this.stdio,
      );
    }
    // s3.ts imports this module too; the class is only used here, at call time.
    if (isS3MessagesParams(params)) return new PipesS3MessageWriter(this.s3).open(params);
    throw new DagsterPipesError(
      `Invalid params for PipesDefaultMessageWriter, expected key "path", "stdio", "buffered_stdio" or "bucket", received ${JSON.stringify(params)}. ` +
        "The orchestration side's message reader may expect a different message writer: pass it as `messageWriter` to `openDagsterPipes`.",
    );
  }

  getOpenedExtras(): PipesExtras {
    return {};
  }
}
