import type { Schema, Table } from "apache-arrow";
import { env, resource } from "./resource.js";
import { LocalStorageClient } from "./storage-client/local.js";

/** The seed's catalog protocol: tables by name. Implementations live with the user's resources. */
export interface CatalogClient {
  loadTable(name: string): Promise<Table>;
  createTable(name: string, schema: Schema): Promise<Table>;
}

/**
 * The seed's storage protocol: bytes by path, relative to the client's root. Core implements it on a
 * local folder (`LocalStorageClient`) and on S3 (`S3StorageClient`); `storageClient(url)` picks one
 * by URL (STORAGE-CLIENT.md). A failed read or write throws a `BatonStorageError` naming the file or
 * `s3://bucket/key` and the fix; `code` is "NOT_FOUND" when there is nothing at the path.
 */
export interface StorageClient {
  read(path: string): Promise<Uint8Array>;
  write(path: string, data: Uint8Array): Promise<void>;
}

export { LocalStorageClient } from "./storage-client/local.js";
export { S3StorageClient } from "./storage-client/s3.js";
export { openStorageClient, storageClient } from "./storage-client/open.js";

/** Ready-made resource: a local `StorageClient` whose root comes from `BATON_LOCAL_STORAGE_ROOT`. */
export const localStorage = resource({
  description: "Local-folder StorageClient",
  config: { root: env("BATON_LOCAL_STORAGE_ROOT", { description: "folder the client reads and writes under" }) },
  create: ({ root }) => new LocalStorageClient(root),
});
