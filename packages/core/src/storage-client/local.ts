import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { BatonStorageError } from "../io/storage-error.js";
import type { StorageClient } from "../protocols.js";
import { storageKey } from "./path.js";

/** A `StorageClient` on a local folder. Writes are atomic: a reader sees old bytes or new, never torn. */
export class LocalStorageClient implements StorageClient {
  readonly root: string;
  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Where `path` lives on disk. */
  locate(path: string): string {
    return join(this.root, storageKey(path, this.root));
  }

  async read(path: string): Promise<Uint8Array> {
    const full = this.locate(path);
    try {
      return new Uint8Array(await readFile(full));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") {
        throw new BatonStorageError("read", full, e, this.root, undefined, {
          code: "NOT_FOUND",
          reason: "there is no such file",
          hint: `write ${JSON.stringify(path)} first, or check the path (relative to the storage root ${this.root})`,
          retryable: false,
        });
      }
      throw new BatonStorageError("read", full, e, this.root);
    }
  }

  /** A temp file beside the target, renamed over it: rename is atomic within one filesystem. */
  async write(path: string, data: Uint8Array): Promise<void> {
    const target = this.locate(path);
    const tmp = `${target}.${randomUUID()}.tmp`;
    try {
      await mkdir(dirname(target), { recursive: true });
      await writeFile(tmp, data);
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw new BatonStorageError("write", target, e, this.root);
    }
  }
}
