import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { BatonError } from "../errors.js";
import type { CommitResult, FillFile, StoreBackend } from "./backend.js";
import { withErrnoCode } from "./local-backend.js";
import { loadS3Sdk, type S3Sdk } from "./s3-sdk.js";
import { BatonStorageError, type StorageFailure } from "./storage-error.js";

/** Knobs of the S3 store; the defaults are the contract's, tests shorten them. */
export interface S3StoreOptions {
  /** Superseded data objects younger than this (by the server's LastModified) are kept: 10 minutes. */
  readonly staleMs?: number;
  /** Bodies larger than this go up as a multipart upload in parts of this size: 8 MiB (at least 5 MiB). */
  readonly partSize?: number;
  /** Called between reading the record's ETag and the conditional PUT of the record (tests make writers race here). */
  readonly beforeCommit?: (info: { readonly key: string; readonly attempt: number }) => Promise<void>;
  /** The variable that names this bucket and prefix, as the fixes in error messages call it: BATON_STORAGE. */
  readonly setting?: string;
}

/** Where an s3:// store is and how to reach it: the URL's bucket and prefix, the rest from the environment. */
export interface S3Location {
  readonly bucket: string;
  /** No leading or trailing "/"; "" for the bucket's root. */
  readonly prefix: string;
}

const STALE_AFTER_MS = 10 * 60_000;
const PART_SIZE = 8 * 1024 * 1024;
const MIN_PART_SIZE = 5 * 1024 * 1024;
/** Commits lost to concurrent writers before the write gives up (each loss is a writer that did commit). */
const COMMIT_TRIES = 5;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * An S3 prefix (AWS S3 or a compatible server). There is no rename: the data object goes up under
 * a unique name with `If-None-Match: *`, then `record.json` is PUT with `If-Match` on the ETag it
 * had (or `If-None-Match: *` when absent): that PUT is the commit. A 412 means another writer
 * committed first; the policy is last writer wins, reported (STORAGE-CONTRACT.md).
 */
export class S3Backend implements StoreBackend {
  readonly url: string;
  /** The endpoint as shown in messages. */
  readonly endpoint: string;
  private readonly region: string;
  private readonly endpointUrl: string | undefined;
  private readonly pathStyle: boolean;
  private readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  private connection: Promise<{ sdk: S3Sdk; client: S3Client }> | undefined;
  private checked: Promise<void> | undefined;

  constructor(
    private readonly where: S3Location,
    env: Env,
    private readonly options: S3StoreOptions = {},
  ) {
    this.url = `s3://${where.bucket}${where.prefix ? `/${where.prefix}` : ""}`;
    this.region = env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1";
    this.endpointUrl = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
    const pathStyle = env.BATON_S3_PATH_STYLE?.toLowerCase() || undefined;
    if (pathStyle !== undefined && pathStyle !== "true" && pathStyle !== "false") {
      throw new BatonError("CONFIG", `BATON_S3_PATH_STYLE must be true or false, not ${JSON.stringify(env.BATON_S3_PATH_STYLE)} (store ${this.url})`, {
        hint: "set BATON_S3_PATH_STYLE=true or BATON_S3_PATH_STYLE=false, or unset it (default: path-style addressing when AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL is set)",
      });
    }
    this.pathStyle = pathStyle === undefined ? this.endpointUrl !== undefined : pathStyle === "true";
    this.endpoint = this.endpointUrl ?? `AWS S3 (${this.region})`;
    // The SDK's default chain reads process.env; a step given another environment passes its keys.
    this.credentials =
      env !== process.env && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
        ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) }
        : undefined;
  }

  private connect(): Promise<{ sdk: S3Sdk; client: S3Client }> {
    this.connection ??= loadS3Sdk(this.url).then(
      (sdk) => ({
        sdk,
        client: new sdk.s3.S3Client({
          region: this.region,
          ...(this.endpointUrl ? { endpoint: this.endpointUrl } : {}),
          forcePathStyle: this.pathStyle,
          ...(this.credentials ? { credentials: this.credentials } : {}),
        }),
      }),
      (e: unknown) => {
        this.connection = undefined;
        throw e;
      },
    );
    return this.connection;
  }

  private key(rel: string): string {
    return this.where.prefix ? (rel ? `${this.where.prefix}/${rel}` : this.where.prefix) : rel;
  }

  location(rel: string): string {
    return rel === "" ? this.url : `s3://${this.where.bucket}/${this.key(rel)}`;
  }

  /**
   * Once per store: the endpoint answers, the bucket exists, the credentials are accepted and the
   * prefix is writable (a probe object put and deleted), so none of that surfaces after the compute.
   */
  async prepare(_rel: string, asset: string): Promise<void> {
    this.checked ??= this.check(asset).catch((e: unknown) => {
      this.checked = undefined;
      throw e;
    });
    await this.checked;
  }

  private async check(asset: string): Promise<void> {
    const { sdk, client } = await this.connect();
    const Key = this.key(`.baton-probe-${randomUUID()}`);
    try {
      await client.send(new sdk.s3.PutObjectCommand({ Bucket: this.where.bucket, Key, Body: "baton write probe", IfNoneMatch: "*" }));
    } catch (e) {
      throw this.failure("write a probe object to", this.url, e, asset);
    }
    try {
      await client.send(new sdk.s3.DeleteObjectCommand({ Bucket: this.where.bucket, Key }));
    } catch (e) {
      throw this.failure("delete a probe object (the store deletes superseded outputs) from", this.url, e, asset);
    }
  }

  dataName(hash16: string, ext: "parquet" | "ipc"): string {
    return `data-${hash16}-${randomUUID()}.${ext}`;
  }

  /**
   * The data file is written to a spool file in the OS temp folder, then uploaded from it: in one
   * PUT when it fits in a part, else as a multipart upload streamed from the file (lib-storage
   * holds at most queueSize parts in memory), so the file is never one buffer in memory.
   */
  async putData(rel: string, fill: FillFile, asset: string): Promise<void> {
    const spool = await this.spoolFolder(asset);
    try {
      const path = join(spool, basename(rel));
      try {
        await writeFile(path, "");
        fill(path);
      } catch (e) {
        throw new BatonStorageError("write the spool file of", this.location(rel), withErrnoCode(e), this.url, asset);
      }
      await this.upload(rel, path, asset);
    } finally {
      await rm(spool, { recursive: true, force: true });
    }
  }

  /** A fresh folder in the OS temp folder for one data file on its way up or down. */
  private async spoolFolder(asset: string | undefined): Promise<string> {
    try {
      return await mkdtemp(join(tmpdir(), "baton-s3-"));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new BatonStorageError("create a spool folder for", this.url, e, this.url, asset, {
        code: code ?? "SPOOL",
        reason: `the OS temp folder ${tmpdir()} is not writable (${(e as Error).message})`,
        hint: "an s3:// store passes each data file through the OS temp folder: set TMPDIR to a writable folder with room for one output file",
        retryable: false,
      });
    }
  }

  private async upload(rel: string, path: string, asset: string): Promise<void> {
    const { sdk, client } = await this.connect();
    const partSize = Math.max(MIN_PART_SIZE, this.options.partSize ?? PART_SIZE);
    const size = (await stat(path)).size;
    try {
      if (size <= partSize) await client.send(new sdk.s3.PutObjectCommand({ Bucket: this.where.bucket, Key: this.key(rel), Body: await readFile(path), IfNoneMatch: "*" }));
      // If-None-Match goes with CompleteMultipartUpload: the object appears whole or not at all.
      else {
        const Body = createReadStream(path, { highWaterMark: 1024 * 1024 });
        const params = { Bucket: this.where.bucket, Key: this.key(rel), Body, ContentLength: size, IfNoneMatch: "*" };
        await new sdk.storage.Upload({ client, params, partSize, queueSize: 4, leavePartsOnError: false }).done();
      }
    } catch (e) {
      // The name is new for every write: a 412 is our own request retried after it landed.
      if (isPreconditionFailed(e)) return;
      throw this.failure("write", this.location(rel), e, asset);
    }
  }

  async commitRecord(rel: string, bytes: Uint8Array, asset: string): Promise<CommitResult> {
    const { sdk, client } = await this.connect();
    const Key = this.key(rel);
    let etag: string | undefined;
    try {
      etag = (await client.send(new sdk.s3.HeadObjectCommand({ Bucket: this.where.bucket, Key }))).ETag;
    } catch (e) {
      if (!isNotFound(e)) throw this.failure("read", this.location(rel), e, asset);
    }
    let conflict: { otherRunId: string | null } | undefined;
    for (let attempt = 0; ; attempt++) {
      await this.options.beforeCommit?.({ key: Key, attempt });
      try {
        await client.send(new sdk.s3.PutObjectCommand({ Bucket: this.where.bucket, Key, Body: bytes, ContentType: "application/json", ...(etag ? { IfMatch: etag } : { IfNoneMatch: "*" }) }));
        return conflict ? { conflict } : {};
      } catch (e) {
        if (!isPreconditionFailed(e) || attempt + 1 >= COMMIT_TRIES) throw this.failure("commit the record", this.location(rel), e, asset);
      }
      // Another writer committed since we read the ETag: note who, and replace theirs (last writer wins).
      const current = await this.getWithTag(rel, asset);
      if (current && Buffer.compare(current.body, Buffer.from(bytes)) === 0) return conflict ? { conflict } : {}; // our own retried PUT
      conflict = { otherRunId: runIdOf(current?.body) };
      etag = current?.etag;
    }
  }

  /** One plain PUT of `bytes` at `rel` (replacing what is there): an S3 object appears whole or not at all. */
  async put(rel: string, bytes: Uint8Array, asset: string | undefined): Promise<void> {
    const { sdk, client } = await this.connect();
    try {
      await client.send(new sdk.s3.PutObjectCommand({ Bucket: this.where.bucket, Key: this.key(rel), Body: bytes }));
    } catch (e) {
      throw this.failure("write", this.location(rel), e, asset);
    }
  }

  async get(rel: string, asset: string | undefined): Promise<Buffer | undefined> {
    return (await this.getWithTag(rel, asset))?.body;
  }

  async readData<T>(rel: string, read: (path: string) => T, asset: string | undefined): Promise<T | undefined> {
    const { sdk, client } = await this.connect();
    const spool = await this.spoolFolder(asset);
    try {
      // The object's own name: nodejs-polars reads a string as a path only when it ends in .parquet / .ipc.
      const path = join(spool, basename(rel));
      try {
        const res = await client.send(new sdk.s3.GetObjectCommand({ Bucket: this.where.bucket, Key: this.key(rel) }));
        await pipeline(res.Body as Readable, createWriteStream(path));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw this.failure("read", this.location(rel), e, asset);
      }
      return read(path);
    } finally {
      await rm(spool, { recursive: true, force: true });
    }
  }

  private async getWithTag(rel: string, asset: string | undefined): Promise<{ body: Buffer; etag: string | undefined } | undefined> {
    const { sdk, client } = await this.connect();
    try {
      const res = await client.send(new sdk.s3.GetObjectCommand({ Bucket: this.where.bucket, Key: this.key(rel) }));
      const bytes = await res.Body!.transformToByteArray();
      return { body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), etag: res.ETag };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw this.failure("read", this.location(rel), e, asset);
    }
  }

  /** Every key below `rel/` (paginated), relative to it. */
  private async list(rel: string, delimiter?: string): Promise<{ name: string; lastModified: Date | undefined }[]> {
    const { sdk, client } = await this.connect();
    const Prefix = rel === "" ? (this.where.prefix ? `${this.where.prefix}/` : "") : `${this.key(rel)}/`;
    const out: { name: string; lastModified: Date | undefined }[] = [];
    let ContinuationToken: string | undefined;
    do {
      let page;
      try {
        page = await client.send(new sdk.s3.ListObjectsV2Command({ Bucket: this.where.bucket, Prefix, ...(delimiter ? { Delimiter: delimiter } : {}), ...(ContinuationToken ? { ContinuationToken } : {}) }));
      } catch (e) {
        throw this.failure("list", this.location(rel), e, undefined);
      }
      for (const o of page.Contents ?? []) if (o.Key) out.push({ name: o.Key.slice(Prefix.length), lastModified: o.LastModified });
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return out;
  }

  async childrenWithRecord(rel: string): Promise<string[]> {
    const names = await this.list(rel);
    return names.map(({ name }) => /^([^/]+)\/record\.json$/.exec(name)?.[1]).filter((n): n is string => n !== undefined);
  }

  /**
   * Data objects the record no longer names, once older than the stale window by the server's
   * LastModified: a younger one may be a concurrent writer's, about to commit. A failure here does
   * not undo the commit that came before it; the next write collects what is left.
   */
  async removeStale(rel: string, keep: string | null): Promise<void> {
    const staleMs = this.options.staleMs ?? STALE_AFTER_MS;
    try {
      const { sdk, client } = await this.connect();
      const now = Date.now();
      for (const { name, lastModified } of await this.list(rel, "/")) {
        if (!name.startsWith("data-") || name === keep || !lastModified || now - lastModified.getTime() <= staleMs) continue;
        await client.send(new sdk.s3.DeleteObjectCommand({ Bucket: this.where.bucket, Key: this.key(`${rel}/${name}`) }));
      }
    } catch {
      // Collected by the next write of this partition.
    }
  }

  async listFiles(): Promise<string[]> {
    return (await this.list("")).map((o) => o.name).sort();
  }

  /** A BatonStorageError naming the store, the endpoint, the asset and what to fix. */
  private failure(action: string, path: string, e: unknown, asset: string | undefined): BatonStorageError {
    return new BatonStorageError(action, path, e, this.url, asset, classify(e, this.url, this.endpoint, this.where.bucket, this.options.setting));
  }
}

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

const status = (e: unknown) => (e as SdkError).$metadata?.httpStatusCode ?? (e as SdkError).$response?.statusCode;
const errorName = (e: unknown) => (e as SdkError).Code ?? (e as SdkError).name ?? "";

function isNotFound(e: unknown): boolean {
  const name = errorName(e);
  return name === "NoSuchKey" || name === "NotFound" || (status(e) === 404 && name !== "NoSuchBucket");
}

function isPreconditionFailed(e: unknown): boolean {
  // 409 ConditionalRequestConflict: AWS's answer when another conditional write to the key is in flight.
  return status(e) === 412 || status(e) === 409 || errorName(e) === "PreconditionFailed" || errorName(e) === "ConditionalRequestConflict";
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE"]);
const CREDENTIAL_CODES = new Set(["InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired", "AuthorizationHeaderMalformed", "CredentialsProviderError", "InvalidClientTokenId"]);

/** What an S3 failure means for the user: unreachable, no bucket, bad credentials, no permission, or other. */
export function classify(e: unknown, url: string, endpoint: string, bucket: string, setting = "BATON_STORAGE"): StorageFailure {
  const name = errorName(e);
  const code = (e as SdkError).code ?? "";
  const httpStatus = status(e);
  const message = ((e as SdkError).message ?? String(e)).split("\n")[0]!;
  if (NETWORK_CODES.has(code) || name === "TimeoutError" || name === "RequestTimeout" || (httpStatus === undefined && /ECONNREFUSED|ENOTFOUND|socket hang up|getaddrinfo|connect /.test(message))) {
    return {
      code: "S3_UNREACHABLE",
      reason: `the endpoint ${endpoint} does not answer (${code || name}: ${message})`,
      hint: `start the S3 server or fix AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (store ${url}, endpoint ${endpoint}); a retry succeeds once it answers`,
      retryable: true,
    };
  }
  if (name === "NoSuchBucket") {
    return {
      code: "S3_NO_BUCKET",
      reason: `the bucket "${bucket}" does not exist at ${endpoint}`,
      hint: `create the bucket "${bucket}", or set ${setting} to an existing bucket (now ${url})`,
      retryable: false,
    };
  }
  if (CREDENTIAL_CODES.has(name)) {
    return {
      code: "S3_CREDENTIALS",
      reason: `${endpoint} rejected the credentials (${name}: ${message})`,
      hint: `give the step credentials that ${endpoint} accepts: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE (store ${url})`,
      retryable: false,
    };
  }
  if (name === "AccessDenied" || name === "AllAccessDisabled" || httpStatus === 403) {
    return {
      code: "S3_ACCESS_DENIED",
      reason: `${endpoint} denied access (${name || httpStatus}: ${message})`,
      hint: `the credentials may not write to ${url}: allow s3:PutObject, s3:GetObject, s3:DeleteObject and s3:ListBucket on the bucket and prefix, or set ${setting} to a prefix they can write`,
      retryable: false,
    };
  }
  return {
    code: name ? `S3_${name}` : "S3_ERROR",
    reason: `${endpoint} answered ${httpStatus ?? "nothing"}${name ? ` ${name}` : ""}: ${message}`,
    hint: `check the store ${url} at ${endpoint}; a retry may succeed`,
    retryable: true,
  };
}

function runIdOf(body: Buffer | undefined): string | null {
  if (!body) return null;
  try {
    const runId = (JSON.parse(body.toString("utf8")) as { runId?: unknown }).runId;
    return typeof runId === "string" ? runId : null;
  } catch {
    return null;
  }
}
