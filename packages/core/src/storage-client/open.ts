import { parseStorage } from "../io/open.js";
import { resource, type ConfigSource, type ResourceDefinition } from "../resource.js";
import type { StorageClient } from "../protocols.js";
import { LocalStorageClient } from "./local.js";
import { S3StorageClient } from "./s3.js";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The `StorageClient` a URL names: a local folder (a path, relative to the working directory, or
 * file:///abs/path) or `s3://bucket[/prefix]`, parsed as BATON_STORAGE is (credentials in the URL
 * are refused, never echoed). S3 settings come from `env`, never from the URL.
 */
export function openStorageClient(url: string, env: Env = process.env, setting = "the StorageClient URL"): StorageClient {
  const where = parseStorage(url, setting);
  return where.kind === "local" ? new LocalStorageClient(where.path) : new S3StorageClient(where, env, setting);
}

/**
 * A `StorageClient` resource on the folder or bucket `url` names, e.g.
 * `storageClient(env("WAREHOUSE_URL", { default: ".baton/warehouse" }))`: a local folder, or
 * s3://… when the run's environment says so. With a literal string the location is fixed.
 * The S3 variables (endpoint, region, credentials) are read from the step's process environment.
 */
export function storageClient(url: ConfigSource): ResourceDefinition<StorageClient, { url: ConfigSource }>;
export function storageClient(url: string): ResourceDefinition<StorageClient, Record<never, never>>;
export function storageClient(url: ConfigSource | string): ResourceDefinition<StorageClient, { url: ConfigSource }> | ResourceDefinition<StorageClient, Record<never, never>> {
  if (typeof url === "string") {
    parseStorage(url, "storageClient(url)"); // a bad URL (or one carrying credentials) fails where it is written, before it reaches a description
    return resource({ description: `StorageClient on ${url}`, create: () => openStorageClient(url, process.env, "storageClient(url)") });
  }
  return resource({
    description: `StorageClient on the folder or s3:// URL in ${url.env}`,
    config: { url },
    create: ({ url: value }) => openStorageClient(value, process.env, url.env),
  });
}
