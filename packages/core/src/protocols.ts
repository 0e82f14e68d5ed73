import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, normalize, relative, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import type { Schema, Table } from "apache-arrow";
import { BatonError } from "./errors.js";
import { env, resource } from "./resource.js";

/** The seed's catalog protocol: tables by name. Implementations live with the user's resources. */
export interface CatalogClient {
  loadTable(name: string): Promise<Table>;
  createTable(name: string, schema: Schema): Promise<Table>;
}

/** The seed's storage protocol: bytes by path. */
export interface StorageClient {
  read(path: string): Promise<Uint8Array>;
  write(path: string, data: Uint8Array): Promise<void>;
}

/** A `StorageClient` on a local folder. Writes are atomic: a reader sees old bytes or new, never torn. */
export class LocalStorageClient implements StorageClient {
  readonly root: string;
  constructor(root: string) {
    this.root = resolve(root);
  }

  private locate(path: string): string {
    const full = normalize(join(this.root, path));
    const rel = relative(this.root, full);
    if (rel.startsWith("..") || isAbsolute(rel)) {
      throw new BatonError("CONFIG", `path "${path}" leaves the storage root ${this.root}`, { hint: "use a path relative to the storage root" });
    }
    return full;
  }

  async read(path: string): Promise<Uint8Array> {
    return new Uint8Array(await readFile(this.locate(path)));
  }

  async write(path: string, data: Uint8Array): Promise<void> {
    const target = this.locate(path);
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.${randomUUID()}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, target);
  }
}

/** Ready-made resource: a local `StorageClient` whose root comes from `BATON_LOCAL_STORAGE_ROOT`. */
export const localStorage = resource({
  description: "Local-folder StorageClient",
  config: { root: env("BATON_LOCAL_STORAGE_ROOT", { description: "folder the client reads and writes under" }) },
  create: ({ root }) => new LocalStorageClient(root),
});
