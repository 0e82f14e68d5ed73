import pl from "nodejs-polars";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BatonStorageError, LocalIOStore } from "./store.js";
import { LocalBackend } from "./local-backend.js";
import { cleanupTempDirs, tempDir } from "../__tests__/helpers.js";

/*
 * What the store asks of the filesystem, seen through a wrapped node:fs/promises: the order of
 * fsyncs and renames (issue 10, defect 6), and the errors a full or read-only disk gives (F11).
 */
const fs = vi.hoisted(() => ({
  log: [] as string[],
  faults: {} as { mkdir?: (path: string, recursive: boolean) => Error | undefined; write?: (path: string) => Error | undefined; sync?: (path: string) => Error | undefined },
}));

vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  return {
    ...real,
    open: async (path: string, flags?: string, mode?: number) => {
      const handle = await real.open(path, flags, mode);
      if (flags === "wx") fs.log.push(`create ${path}`);
      return new Proxy(handle, {
        get(target, prop) {
          if (prop === "sync") {
            return async () => {
              const fault = fs.faults.sync?.(path);
              if (fault) throw fault;
              // The size at the fsync: a data file written by polars (by path, not this handle) is complete by then.
              const size = (await target.stat()).size;
              fs.log.push(`sync ${path}`, `size ${path} ${size}`);
              return target.sync();
            };
          }
          if (prop === "writeFile") {
            return async (data: Uint8Array) => {
              const fault = fs.faults.write?.(path);
              if (fault) throw fault;
              fs.log.push(`write ${path}`);
              return target.writeFile(data);
            };
          }
          const value = Reflect.get(target, prop) as unknown;
          return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
    rename: async (from: string, to: string) => {
      fs.log.push(`rename ${from} -> ${to}`);
      return real.rename(from, to);
    },
    mkdir: async (path: string, options?: { recursive?: boolean }) => {
      const fault = fs.faults.mkdir?.(path, options?.recursive === true);
      if (fault) throw fault;
      return real.mkdir(path, options);
    },
  };
});

beforeEach(() => {
  fs.log.length = 0;
  fs.faults = {};
});
afterEach(cleanupTempDirs);

const errno = (code: string, message: string) => Object.assign(new Error(`${code}: ${message}`), { code });
const write = (store: LocalIOStore, frame: pl.DataFrame, partitionKey?: string) =>
  store.write({ key: ["sales", "orders"], partitionKey, frame, producedAs: "polars", format: "parquet", codeVersion: undefined, runId: "r1" });

describe("LocalIOStore durability (issue 10, defect 6)", () => {
  it("flushes the data file and its folder before the record that names it is renamed into place", async () => {
    const root = tempDir();
    const store = new LocalIOStore(root);
    const record = await write(store, pl.DataFrame({ x: [1, 2, 3] }), "eu");
    const dir = relative(root, store.dirOf(["sales", "orders"], "eu"));
    const log = fs.log.map((line) => line.replaceAll(`${root}/`, "").replace(/\.[0-9a-f-]{36}\.tmp/g, ".TMP"));
    const data = `${dir}/${record.file!}`;
    const at = (line: string) => {
      const i = log.indexOf(line);
      expect(i, `${line} in\n${log.join("\n")}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    const dataSynced = at(`sync ${data}.TMP`);
    const dataRenamed = at(`rename ${data}.TMP -> ${data}`);
    const recordSynced = at(`sync ${dir}/record.json.TMP`);
    const recordRenamed = at(`rename ${dir}/record.json.TMP -> ${dir}/record.json`);
    // polars writes the data file by path into the temp file created (exclusively) before it: the
    // whole file is there when it is fsynced, and only then renamed.
    expect(at(`create ${data}.TMP`)).toBeLessThan(dataSynced);
    expect(at(`size ${data}.TMP ${statSync(join(root, data)).size}`)).toBe(dataSynced + 1);
    expect(statSync(join(root, data)).size).toBeGreaterThan(0);
    expect(at(`write ${dir}/record.json.TMP`)).toBeLessThan(recordSynced);
    expect(dataSynced).toBeLessThan(dataRenamed);
    // The folder is synced after each rename, so the data file's name is durable before the record's.
    const dirSyncs = log.flatMap((line, i) => (line === `sync ${dir}` ? [i] : []));
    expect(dirSyncs.some((i) => i > dataRenamed && i < recordRenamed)).toBe(true);
    expect(dirSyncs.some((i) => i > recordRenamed)).toBe(true);
    expect(recordSynced).toBeLessThan(recordRenamed);
    expect(dataRenamed).toBeLessThan(recordRenamed);
    // The folders created for the first output are made durable in their parents too.
    for (const parent of [root, `${root}/sales`, `${root}/sales/orders`]) expect(fs.log).toContain(`sync ${parent}`);
  });
});

describe("LocalIOStore storage errors (audit F11)", () => {
  it("a full disk names the file and the fix, and keeps the previous output and no temp file", async () => {
    const store = new LocalIOStore(tempDir());
    await write(store, pl.DataFrame({ x: [1] }));
    // A full disk surfaces at the data file's fsync (delayed allocation) or while polars writes it (below).
    fs.faults.sync = (path) => (path.includes("/data-") ? errno("ENOSPC", "no space left on device, fsync") : undefined);
    const e = await write(store, pl.DataFrame({ x: [2, 3] })).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(BatonStorageError);
    const err = e as BatonStorageError;
    expect(err.code).toBe("ENOSPC");
    expect(err.path).toMatch(new RegExp(`^${store.dirOf(["sales", "orders"], undefined)}/data-[0-9a-f]{16}\\.parquet$`));
    expect(err.message).toContain(`asset "sales/orders": cannot write ${err.path}: no space left on device`);
    expect(err.message).toContain("(ENOSPC)");
    expect(err.hint).toContain("free space");
    expect(err.hint).toContain("BATON_STORAGE");
    fs.faults = {};
    expect((await store.read(["sales", "orders"], undefined)).frame.getColumn("x").toArray()).toEqual([1]);
    expect(readdirSync(store.dirOf(["sales", "orders"], undefined)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("polars running out of space while it writes the data file is ENOSPC too, named and without a temp file", async () => {
    const root = tempDir();
    const backend = new LocalBackend(root);
    await backend.prepare("a", "a");
    // polars' own failure on a full device (/dev/full answers every write with ENOSPC), raised while the temp file is filled.
    const e = await backend.putData("a/data-0.parquet", () => void pl.DataFrame({ x: [1, 2, 3] }).writeParquet("/dev/full", { compression: "zstd" }), "a").then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(BatonStorageError);
    expect(e).toMatchObject({ code: "ENOSPC", path: join(root, "a", "data-0.parquet") });
    expect((e as Error).message).toContain(`asset "a": cannot write ${join(root, "a", "data-0.parquet")}: no space left on device (ENOSPC)`);
    expect(readdirSync(join(root, "a"))).toEqual([]);
  });

  it("a read-only filesystem says so (not the misleading ENOENT of mkdir -p) before anything is computed", async () => {
    const root = join(tempDir(), "not-yet");
    const store = new LocalIOStore(root);
    // What mkdir -p gives below a read-only mount: ENOENT for the path; creating the first missing
    // folder alone gives the real reason.
    fs.faults.mkdir = (path, recursive) => (recursive ? errno("ENOENT", `no such file or directory, mkdir '${path}'`) : errno("EROFS", `read-only file system, mkdir '${path}'`));
    const e = await store.prepare(["sales", "orders"], "eu").then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(BatonStorageError);
    const err = e as BatonStorageError;
    expect(err.code).toBe("EROFS");
    expect(err.path).toBe(store.dirOf(["sales", "orders"], "eu"));
    expect(err.message).toContain(`cannot create the output folder ${err.path}: read-only file system (EROFS)`);
    expect(err.message).not.toContain("ENOENT");
    expect(err.hint).toContain("read-only: set BATON_STORAGE to a writable folder");
    expect(existsSync(root)).toBe(false);
    // write() goes through the same check.
    await expect(write(store, pl.DataFrame({ x: [1] }))).rejects.toMatchObject({ name: "BatonStorageError", code: "EROFS" });
  });
});
