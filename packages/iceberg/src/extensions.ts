import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BatonError } from "@baton/core";

/** The engine version the pinned extension wheels were built for (requirements-duckdb-extensions.txt). */
export const DUCKDB_ENGINE_VERSION = "v1.5.5";
export const EXTENSIONS = ["httpfs", "avro", "iceberg"] as const;
export type ExtensionName = (typeof EXTENSIONS)[number];

export const EXTENSION_REQUIREMENTS = join(dirname(fileURLToPath(import.meta.url)), "..", "python", "requirements-duckdb-extensions.txt");

/** Where `<name>.duckdb_extension` sits inside a `uv pip install --target` folder of the wheels. */
export function extensionFile(dir: string, name: ExtensionName): string {
  return join(dir, `duckdb_extension_${name}`, "extensions", DUCKDB_ENGINE_VERSION, `${name}.duckdb_extension`);
}

/** `$BATON_DUCKDB_EXTENSIONS`, else `$XDG_CACHE_HOME/baton/duckdb-extensions-<engine>` (default ~/.cache). */
export function defaultExtensionDirectory(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env.BATON_DUCKDB_EXTENSIONS) return resolve(env.BATON_DUCKDB_EXTENSIONS);
  const cache = env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), ".cache");
  return join(cache, "baton", `duckdb-extensions-${DUCKDB_ENGINE_VERSION}`);
}

/**
 * The extension binaries, installed on first use from PyPI's `duckdb-extension-*` wheels with uv
 * (DuckDB's own extension repository is not reachable everywhere, and the wheels pin the exact engine
 * version). Installed into a sibling folder and renamed into place, so an interrupted install is redone.
 */
export function ensureExtensions(dir: string = defaultExtensionDirectory()): string {
  const present = () => EXTENSIONS.every((n) => existsSync(extensionFile(dir, n)));
  if (present()) return dir;
  const uv = process.env.BATON_UV ?? "uv";
  const staging = `${dir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  try {
    execFileSync(uv, ["pip", "install", "--quiet", "--target", staging, "-r", EXTENSION_REQUIREMENTS], { stdio: ["ignore", "inherit", "inherit"] });
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw new BatonError("CONFIG", `could not install DuckDB's iceberg, avro and httpfs extensions into ${dir}: ${(e as Error).message}`, {
      hint: `install uv and make sure PyPI is reachable, or set BATON_DUCKDB_EXTENSIONS to a folder made with: uv pip install --target <dir> ${readFileSync(EXTENSION_REQUIREMENTS, "utf8").split("\n").filter((l) => l && !l.startsWith("#")).join(" ")}`,
    });
  }
  try {
    renameSync(staging, dir);
  } catch {
    // another process won the race: its folder is as good as ours
    rmSync(staging, { recursive: true, force: true });
  }
  if (!present()) throw new BatonError("CONFIG", `DuckDB extensions missing under ${dir} after installing them`, { hint: `remove ${dir} and retry` });
  return dir;
}
