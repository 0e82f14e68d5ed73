/**
 * Chunked message upload, the writer half of Dagster's blob-store channel
 * (`PipesBlobStoreMessageWriterChannel` / `PipesBlobStoreMessageReader`): messages are buffered
 * and uploaded as numbered objects `<key_prefix>/<n>.json` (n = 1, 2, 3…), each holding the
 * messages' JSON lines joined by `\n`, on an interval and at close.
 *
 * The reader downloads chunk n, and only after it has got it asks for n + 1; a chunk that is
 * missing (or empty: the reader does not advance on an empty body) stops it for good. So numbers
 * stay contiguous: a chunk whose upload failed is retried with the same number and the same body
 * (a PUT of identical bytes is harmless if the first one did land), and later messages wait for
 * the next number. Uploads run one at a time, in order.
 */

/** Where the chunks go: one object per chunk (an S3 client in production, a fake in tests). */
export type PipesChunkPut = (key: string, body: string) => Promise<void>;

/** `<key_prefix>/<n>.json`, or `<n>.json` without a prefix (as `PipesS3MessageWriterChannel`). */
export function messageChunkKey(keyPrefix: string | null | undefined, index: number): string {
  return keyPrefix ? `${keyPrefix}/${index}.json` : `${index}.json`;
}

export interface PipesChunkUploaderOptions {
  put: PipesChunkPut;
  keyPrefix: string | null;
  /** Seconds between background uploads (dagster-pipes' default is 10). */
  intervalSeconds: number;
  /** Attempts per chunk when closing (background uploads retry at the next interval). Default 4. */
  closeAttempts?: number;
  /** Delay before the n-th retry at close: `retryDelayMs * 2^(n-1)`. Default 250 ms. */
  retryDelayMs?: number;
  /** Told about every failed upload (the chunk is kept and retried). */
  onError?: (error: unknown, key: string) => void;
}

interface Chunk {
  readonly key: string;
  readonly body: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class PipesChunkUploader {
  private readonly options: PipesChunkUploaderOptions;
  private lines: string[] = [];
  private counter = 1;
  /** A chunk that has its number and body but is not uploaded yet (failed, or in flight). */
  private pending: Chunk | undefined;
  private chain: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  /** Keys uploaded so far, in order. */
  readonly uploaded: string[] = [];

  constructor(options: PipesChunkUploaderOptions) {
    this.options = options;
  }

  /** Starts the background uploads (every `intervalSeconds`). */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.flush(), Math.max(1, this.options.intervalSeconds * 1000));
  }

  /** Buffers one message (its JSON, without a newline). */
  append(line: string): void {
    if (this.closed) throw new Error("the message chunk uploader is closed");
    this.lines.push(line);
  }

  /** Messages waiting for a chunk, plus those of a chunk not uploaded yet. */
  get backlog(): number {
    return this.lines.length + (this.pending ? this.pending.body.split("\n").length : 0);
  }

  /**
   * Uploads what is buffered as the next chunk (after any chunk that failed before). A failure is
   * reported to `onError` and the chunk kept for the next flush; it never rejects.
   */
  flush(): Promise<void> {
    return this.enqueue(async () => {
      try {
        await this.uploadOnce();
      } catch {
        // reported in uploadOnce; retried at the next flush or at close
      }
    });
  }

  /**
   * Stops the interval and uploads everything left, retrying each chunk up to `closeAttempts`
   * times. Rejects with the last error when a chunk could not be uploaded (later messages are then
   * not uploaded either: the reader could not reach them).
   */
  close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return this.enqueue(async () => {
      const attempts = Math.max(1, this.options.closeAttempts ?? 4);
      const delay = this.options.retryDelayMs ?? 250;
      while (this.pending || this.lines.length > 0) {
        for (let attempt = 1; ; attempt++) {
          try {
            await this.uploadOnce();
            break;
          } catch (error) {
            if (attempt >= attempts) throw error;
            await sleep(delay * 2 ** (attempt - 1));
          }
        }
      }
    });
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.chain.then(task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async uploadOnce(): Promise<void> {
    if (!this.pending) {
      if (this.lines.length === 0) return;
      this.pending = { key: messageChunkKey(this.options.keyPrefix, this.counter), body: this.lines.join("\n") };
      this.lines = [];
    }
    const chunk = this.pending;
    try {
      await this.options.put(chunk.key, chunk.body);
    } catch (error) {
      this.options.onError?.(error, chunk.key);
      throw error;
    }
    this.uploaded.push(chunk.key);
    this.pending = undefined;
    this.counter++;
  }
}
