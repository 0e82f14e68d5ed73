import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { AssetDefinition, MetadataValue, ResolvedInput } from "../asset.js";
import type { ConfigSchema } from "../resource.js";
import { allChecksOf, uniquePartitions, type Definitions } from "../definitions.js";
import { defaultMapping } from "../partitions/index.js";
import { BatonError } from "../errors.js";
import { moduleHashOf } from "./hash.js";
import { stepResourceKeys } from "../step/resources.js";
import { MANIFEST_VERSION, type Manifest, type ManifestAsset, type ManifestDep, type ManifestSource } from "./types.js";

const corePackage = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { name: string; version: string; engines: { node: string } };

/** Absolute path of core's step entry (`baton-step`), for adapters that launch it. */
export const stepEntryPath = fileURLToPath(new URL("../step/bin.js", import.meta.url));

export interface ManifestOptions {
  /** The compiled module that exports the definitions (absolute path). */
  readonly module: string;
  /** Its export holding the definitions; "default" by default. */
  readonly exportName?: string;
  /** Folder the manifest will be written to: runtime paths are made relative to it. */
  readonly manifestDir: string;
  /** Step entry to record; core's own by default. */
  readonly stepEntry?: string;
  /** "sha256:<hex>" of the module; by default the module file is read and hashed. */
  readonly moduleHash?: string;
  /**
   * The project's folder (of its package.json): each asset's `source.file` is relative to it. By
   * default the nearest folder above `module` with a package.json.
   */
  readonly projectRoot?: string;
}

/** Deterministic: the same definitions and paths give byte-identical JSON. */
export function toManifest(defs: Definitions, options: ManifestOptions): Manifest {
  const rel = (p: string) => relative(resolve(options.manifestDir), resolve(p)).split(sep).join("/");
  const root = resolve(options.projectRoot ?? packageRootOf(dirname(resolve(options.module))));
  // An input's effective mapping is relative to the reader's partitions: the asset's, or a check's target's.
  const inputDep = (a: AssetDefinition, i: ResolvedInput): ManifestDep => {
    const up = defs.asset(i.key.join("/"));
    const mapping = up.partitions ? (i.partitionMapping ?? defaultMapping(a.partitions, up.partitions) ?? null) : null;
    return { id: up.id, key: [...up.key], input: i.name, partitionMapping: mapping };
  };
  const assets: ManifestAsset[] = defs.assets.map((a) => ({
    id: a.id,
    key: [...a.key],
    deps: [
      ...a.inputs.map((i) => inputDep(a, i)),
      ...a.deps.map((d) => ({ id: d.join("/"), key: [...d], input: null, partitionMapping: null })),
    ],
    partitions: a.partitions ?? null,
    group: a.group,
    description: a.description ?? null,
    owners: [...a.owners],
    tags: sortKeys(a.tags) as Record<string, string>,
    codeVersion: a.codeVersion ?? null,
    codeVersionSource: a.codeVersion === undefined ? null : (a.codeVersionSource ?? "declared"),
    metadata: sortKeys(a.metadata) as Record<string, MetadataValue>,
    checks: allChecksOf(defs, a.id).map((c) => ({ name: c.name, description: c.description ?? null, severity: c.severity, standalone: c.standalone, deps: c.inputs.map((i) => inputDep(a, i)) })),
    retry: a.retry ? { maxRetries: a.retry.maxRetries, delaySeconds: a.retry.delaySeconds ?? 0, backoff: a.retry.backoff ?? "constant" } : null,
    // What its steps build, catalogs of the tables it reads included: adapters supply their environment.
    resources: stepResourceKeys(defs, [a]).sort(),
    format: a.format,
    ...(a.table ? { table: { format: a.table.format, catalog: a.table.catalog, name: a.table.name, partitionColumn: a.table.partitionColumn ?? null, mode: a.table.mode } } : {}),
    output: a.output,
    timeoutSeconds: a.timeoutSeconds ?? null,
    pool: a.pool ?? null,
    kinds: [...(a.kinds ?? [])],
    batch: a.batch?.name ?? null,
    source: sourceOf(a, root),
  }));
  return {
    manifestVersion: MANIFEST_VERSION,
    generator: { name: corePackage.name, version: corePackage.version },
    runtime: {
      module: rel(options.module),
      moduleHash: options.moduleHash ?? hashModuleFile(options.module),
      export: options.exportName ?? "default",
      stepEntry: rel(options.stepEntry ?? stepEntryPath),
      node: corePackage.engines.node,
    },
    assets,
    resources: Object.keys(defs.resources)
      .sort()
      .map((key) => {
        const r = defs.resources[key]!;
        return {
          key,
          description: r.description ?? null,
          // A config is a map: sorted by field, so declaration order does not change the bytes.
          config: Object.entries(r.config as ConfigSchema)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([field, s]) => ({
              field,
              env: s.env,
              secret: s.secret,
              default: s.secret ? null : (s.default ?? null),
              description: s.description ?? null,
            })),
        };
      }),
    schedules: defs.schedules.map((s) => {
      const targets = defs.select(s.selection);
      const parts = uniquePartitions(targets.map((id) => defs.asset(id)));
      return {
        name: s.name,
        cron: s.cron,
        timezone: s.timezone,
        selection: s.selection,
        assets: targets,
        partition: s.partition ?? (parts.length ? { type: "lastComplete" as const } : null),
        partitions: parts[0] ?? null,
        description: s.description ?? null,
      };
    }),
    sensors: defs.sensors.map((s) => ({
      name: s.name,
      selection: s.selection,
      assets: defs.select(s.selection),
      minimumIntervalSeconds: s.minimumIntervalSeconds,
      resources: [...s.resources].sort(),
      description: s.description ?? null,
    })),
    pools: Object.keys(defs.pools)
      .sort()
      .map((name) => ({ name, limit: defs.pools[name]!.limit, description: defs.pools[name]!.description ?? null })),
  };
}

/** `asset.file` relative to the project root, with '/'; null when unknown or outside the root. */
function sourceOf(a: { readonly file: string | undefined; readonly line?: number | undefined }, root: string): ManifestSource | null {
  if (a.file === undefined || !isAbsolute(a.file)) return null;
  const path = relative(root, a.file);
  if (path === "" || path === ".." || path.startsWith(`..${sep}`) || isAbsolute(path)) return null;
  return { file: path.split(sep).join("/"), line: a.line ?? null };
}

/** The nearest folder at or above `dir` holding a package.json; `dir` itself when there is none. */
function packageRootOf(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, "package.json"))) return d;
    if (dirname(d) === d) return dir;
  }
}

/**
 * A module that does not exist (yet) gets the all-zero hash, which no file has: a manifest for
 * inspection or a unit test still validates, and a step refuses to run it. Builds pass moduleHash.
 */
export const NO_MODULE_HASH = `sha256:${"0".repeat(64)}`;

function hashModuleFile(path: string): string {
  try {
    return moduleHashOf(readFileSync(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return NO_MODULE_HASH;
    throw new BatonError("MANIFEST", `cannot hash the definitions module: ${(e as Error).message}`, {
      file: path,
      hint: "check the file's permissions, or pass moduleHash to toManifest",
    });
  }
}

export function manifestToJson(m: Manifest): string {
  return JSON.stringify(m, null, 2) + "\n";
}

/** Object keys sorted at every depth, so equal values give byte-identical JSON. */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

export function manifestDirOf(path: string): string {
  return dirname(resolve(path));
}
