import { mkdir, open, readFile, readdir, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { randomUUID } from "node:crypto";
import type { CommitResult, FillFile, StoreBackend } from "./backend.js";
import { BatonStorageError } from "./storage-error.js";

const STALE_AFTER_MS = 60_000;

/** Our own temp files: `<data file or record.json>.<uuid>.tmp`. */
const TEMP_FILE = /^(?:data-.*|record\.json)\.[0-9a-f-]{36}\.tmp$/;

/**
 * A local folder: every file is written to a temp file, fsynced and renamed into place, so a name
 * never points at a partial file, even after a host crash. `record.json`'s rename is the commit.
 */
export class LocalBackend implements StoreBackend {
  constructor(readonly url: string) {}

  location(rel: string): string {
    return rel === "" ? this.url : join(this.url, ...rel.split("/"));
  }

  async prepare(rel: string, asset: string): Promise<void> {
    const dir = this.location(rel);
    let first: string | undefined;
    try {
      first = await mkdir(dir, { recursive: true });
    } catch (e) {
      throw new BatonStorageError("create the output folder", dir, await realMkdirError(dir, e), this.url, asset);
    }
    // New folders are durable only once their parents' entries are: sync each parent that gained one.
    if (first !== undefined) {
      const top = dirname(first);
      for (let d = dirname(dir); ; d = dirname(d)) {
        await syncDir(d);
        if (d === top || d === dirname(d)) break;
      }
    }
  }

  dataName(hash16: string, ext: "parquet" | "ipc"): string {
    return `data-${hash16}.${ext}`;
  }

  async putData(rel: string, fill: FillFile, asset: string): Promise<void> {
    await this.commitFile(this.location(rel), (_handle, tmp) => fill(tmp), asset);
  }

  // The data file is on disk (fsync) and named in its folder (folder fsync) before the record that
  // points at it is renamed into place, so a crash cannot leave a record naming a missing file.
  async commitRecord(rel: string, bytes: Uint8Array, asset: string): Promise<CommitResult> {
    await this.commitFile(this.location(rel), (handle) => handle.writeFile(bytes), asset);
    return {};
  }

  private async commitFile(target: string, fill: Fill, asset: string): Promise<void> {
    try {
      await atomicWrite(target, fill);
    } catch (e) {
      throw new BatonStorageError("write", target, withErrnoCode(e), this.url, asset);
    }
  }

  async get(rel: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.location(rel));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  async readData<T>(rel: string, read: (path: string) => T): Promise<T | undefined> {
    const path = this.location(rel);
    try {
      return read(path);
    } catch (e) {
      // polars' own message for a missing file is a panic's text: ask the filesystem instead.
      if (!(await stat(path).then(() => true, () => false))) return undefined;
      throw withErrnoCode(e);
    }
  }

  async childrenWithRecord(rel: string): Promise<string[]> {
    const base = this.location(rel);
    let entries;
    try {
      entries = await readdir(base, { withFileTypes: true });
    } catch {
      return [];
    }
    const found = await Promise.all(
      entries
        .filter((e) => e.isDirectory())
        .map(async (e) => ((await stat(join(base, e.name, "record.json")).then((s) => s.isFile(), () => false)) ? e.name : undefined)),
    );
    return found.filter((n): n is string => n !== undefined);
  }

  /**
   * Data files the record no longer points at, and temp files left by killed writers. Only files
   * older than the stale window go: a younger one may belong to a concurrent writer about to commit
   * (its data file) or still writing (its temp file, whose mtime moves while it writes).
   */
  async removeStale(rel: string, keep: string | null): Promise<void> {
    const dir = this.location(rel);
    const now = Date.now();
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const name = entry.name;
      // Folders here belong to longer asset keys; only files are ours.
      if (!entry.isFile() || name === keep) continue;
      if (!(TEMP_FILE.test(name) || (name.startsWith("data-") && !name.endsWith(".tmp")))) continue;
      const info = await stat(join(dir, name)).catch(() => undefined);
      if (info && now - info.mtimeMs > STALE_AFTER_MS) await rm(join(dir, name), { force: true });
    }
  }

  async listFiles(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const path = join(dir, e.name);
        if (e.isDirectory()) await walk(path);
        else if (e.isFile()) out.push(relative(this.url, path).split(sep).join("/"));
      }
    };
    await walk(this.url);
    return out.sort();
  }
}

/** mkdir -p reports ENOENT when a parent cannot be created (e.g. a read-only filesystem): find the real error. */
async function realMkdirError(dir: string, error: unknown): Promise<unknown> {
  if ((error as NodeJS.ErrnoException).code !== "ENOENT") return error;
  let d = dir;
  while (dirname(d) !== d && !(await stat(dirname(d)).then(() => true, () => false))) d = dirname(d);
  try {
    await mkdir(d);
    return error;
  } catch (e) {
    return e;
  }
}

/** Writes the temp file: through the open handle, or by path (polars opens the file itself). */
type Fill = (handle: FileHandle, tmp: string) => Promise<void> | void;

/**
 * Write `target` by rename from a temp file: the bytes are flushed to disk (fsync) before the
 * rename, and the folder after it, so the name never points at a partial file, even after a
 * host crash. The temp file is created exclusively and stays open while `fill` writes it, by
 * handle or by path: fsync on this handle flushes what any writer put in the file.
 */
async function atomicWrite(target: string, fill: Fill): Promise<void> {
  const tmp = `${target}.${randomUUID()}.tmp`;
  try {
    const handle = await open(tmp, "wx");
    try {
      await fill(handle, tmp);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dirname(target));
}

/**
 * polars reports an OS failure as text ("…: No space left on device (os error 28)", code
 * "GenericFailure"), not with Node's errno code: give it the code (ENOSPC) and Node's wording, so
 * the storage error's reason and hint fit the failure.
 */
export function withErrnoCode(e: unknown): unknown {
  if (!(e instanceof Error) || /^E[A-Z]+$/.test(String((e as NodeJS.ErrnoException).code))) return e;
  const found = /([^:]*?)\s*\(os error (\d+)\)/.exec(e.message) ?? /Os \{ code: (\d+), kind: \w+, message: "([^"]*)" \}/.exec(e.message);
  if (!found) return e;
  const [raw, errno] = found[0].startsWith("Os") ? [found[2]!, found[1]!] : [found[1]!, found[2]!];
  const text = raw.trim();
  const code = Object.entries(osConstants.errno).find(([, n]) => n === Number(errno))?.[0];
  if (code === undefined) return e;
  return Object.assign(new Error(`${code}: ${text.charAt(0).toLowerCase()}${text.slice(1)}`, { cause: e }), { code });
}

/** fsync a folder so the names in it are durable; a no-op where folders cannot be synced (Windows). */
async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, "r");
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch (e) {
    if (!["EINVAL", "ENOTSUP", "EISDIR", "EPERM", "EBADF"].includes((e as NodeJS.ErrnoException).code ?? "")) throw e;
  } finally {
    await handle.close();
  }
}
