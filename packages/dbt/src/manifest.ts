import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import type { DbtManifest } from "./artifacts.js";
import { DbtError } from "./errors.js";

const SCHEMA_V12 = "https://schemas.getdbt.com/dbt/manifest/v12.json";
/** Folders of a dbt project that hold no sources of the manifest. */
const SKIPPED_DIRS = new Set(["target", "logs", "dbt_packages", "dbt_modules", "node_modules"]);
/** Files that become nodes or macros: each must be in the manifest. */
const NODE_FILES = /\.(sql|csv|py)$/;
/** Property files: edited later than the manifest means it is stale. */
const PROPERTY_FILES = /\.(ya?ml|md)$/;

/** Read a manifest.json, naming the file when it is missing or not dbt 1.11's v12 schema. */
export function readManifest(path: string): DbtManifest {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new DbtError("MANIFEST_MISSING", `dbt manifest ${path} does not exist`, {
      file: path,
      hint: "run `dbt parse` in the project (dbtProject({ parse: true }), the default, does it), or build the project so that it ships target/manifest.json",
    });
  }
  let manifest: DbtManifest;
  try {
    manifest = JSON.parse(text) as DbtManifest;
  } catch (e) {
    throw new DbtError("MANIFEST_INVALID", `dbt manifest ${path} is not JSON: ${(e as Error).message}`, { file: path, hint: "run `dbt parse` again" });
  }
  if (manifest?.metadata?.dbt_schema_version !== SCHEMA_V12 || typeof manifest.nodes !== "object") {
    throw new DbtError("MANIFEST_INVALID", `dbt manifest ${path} has schema ${JSON.stringify(manifest?.metadata?.dbt_schema_version)}, not ${SCHEMA_V12} (dbt-core 1.11)`, {
      file: path,
      hint: "parse the project with dbt-core 1.11 (@baton/dbt's python/requirements-dbt.txt)",
    });
  }
  return manifest;
}

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) walk(path, out);
    } else if (entry.isFile()) out.push(path);
  }
}

/**
 * Why the manifest no longer describes the project, or undefined when it does: a model, seed,
 * snapshot, test or macro file it does not know, or any project file edited after it was written.
 */
export function staleReason(manifestPath: string, manifest: DbtManifest, projectDir: string): { problem: string; file: string } | undefined {
  const written = statSync(manifestPath).mtimeMs;
  const known = new Set<string>();
  for (const n of Object.values(manifest.nodes)) known.add(n.original_file_path);
  for (const m of Object.values(manifest.macros ?? {})) known.add(m.original_file_path);
  for (const list of Object.values(manifest.disabled ?? {})) for (const d of list) known.add(d.original_file_path);
  const files: string[] = [];
  walk(projectDir, files);
  for (const file of files.sort()) {
    const rel = relative(projectDir, file).split(sep).join("/");
    if (rel === "profiles.yml" || rel === "package-lock.yml") continue;
    const edited = statSync(file).mtimeMs > written;
    if (NODE_FILES.test(rel) && !known.has(rel)) return { problem: `${rel} is not in the manifest (a new file?)`, file: rel };
    if ((NODE_FILES.test(rel) || PROPERTY_FILES.test(rel)) && edited) return { problem: `${rel} was changed after the manifest was written`, file: rel };
  }
  return undefined;
}

/** Read the manifest and refuse it when it is stale, naming the file that changed. */
export function readFreshManifest(manifestPath: string, projectDir: string): DbtManifest {
  const manifest = readManifest(manifestPath);
  const stale = staleReason(manifestPath, manifest, projectDir);
  if (stale !== undefined) {
    throw new DbtError("MANIFEST_STALE", `dbt manifest ${manifestPath} is stale: ${stale.problem}`, {
      file: manifestPath,
      hint: "run `dbt parse` again (dbtProject({ parse: true }), the default, does it before reading)",
    });
  }
  return manifest;
}
