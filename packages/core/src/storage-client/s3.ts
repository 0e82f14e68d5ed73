import { S3Backend } from "../io/s3-backend.js";
import { BatonStorageError } from "../io/storage-error.js";
import type { StorageClient } from "../protocols.js";
import { storageKey } from "./path.js";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * A `StorageClient` on an S3 bucket and prefix (AWS S3 or a compatible server), through core's S3
 * store code: the same endpoint, region, path-style and credential variables as an s3:// BATON_STORAGE
 * (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_REGION, BATON_S3_PATH_STYLE, AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or the SDK's default chain), and its error classification.
 * A write is one PUT, atomic on S3: a reader sees the old object or the new, never part of one.
 */
export class S3StorageClient implements StorageClient {
  /** `s3://bucket[/prefix]`. */
  readonly url: string;
  private readonly backend: S3Backend;

  /** `setting` is the variable that named the URL, for the fixes in error messages. */
  constructor(where: { readonly bucket: string; readonly prefix: string }, env: Env = process.env, setting = "the StorageClient URL") {
    this.backend = new S3Backend(where, env, { setting });
    this.url = this.backend.url;
  }

  /** The `s3://bucket/key` of `path`. */
  location(path: string): string {
    return this.backend.location(storageKey(path, this.url));
  }

  async read(path: string): Promise<Uint8Array> {
    const key = storageKey(path, this.url);
    const body = await this.backend.get(key, undefined);
    if (body === undefined) {
      throw new BatonStorageError("read", this.backend.location(key), new Error("NoSuchKey"), this.url, undefined, {
        code: "NOT_FOUND",
        reason: `there is no such object at ${this.backend.endpoint}`,
        hint: `write ${JSON.stringify(path)} first, or check the path (relative to ${this.url})`,
        retryable: false,
      });
    }
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }

  async write(path: string, data: Uint8Array): Promise<void> {
    await this.backend.put(storageKey(path, this.url), data, undefined);
  }
}
