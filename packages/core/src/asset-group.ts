import type pl from "nodejs-polars";
import {
  asset,
  type AssetCheck,
  type AssetContext,
  type AssetDefinition,
  type CheckSeverity,
  type MetadataValue,
  type ResourcesConfig,
  type ResourcesOf,
  type RetryPolicy,
} from "./asset.js";
import { BatonError } from "./errors.js";
import { keyToString, toAssetKey, type AssetKey, type AssetKeyLike } from "./keys.js";
import type { PartitionsDefinition } from "./partitions/types.js";
import { callerLocation } from "./source.js";
import { defaultCodeVersion } from "./code-version.js";

/** A check of a spec: its verdict comes from the group's `execute`, not from a check function. */
export interface AssetSpecCheck {
  readonly name: string;
  readonly severity?: CheckSeverity;
  readonly description?: string;
  /** Other assets the check reads (a relationships test), for documentation. */
  readonly deps?: readonly AssetKeyLike[];
}

/** One asset of a group, as data: `execute` materializes it. */
export interface AssetSpec {
  readonly key: AssetKeyLike;
  readonly deps?: readonly (AssetDefinition<any, any> | AssetKeyLike)[];
  readonly group?: string;
  readonly description?: string;
  readonly owners?: readonly string[];
  readonly tags?: Readonly<Record<string, string>>;
  readonly metadata?: Record<string, MetadataValue>;
  /** What the asset is made with, e.g. ["dbt", "duckdb"] (the manifest's `kinds`, Dagster's kinds). */
  readonly kinds?: readonly string[];
  readonly codeVersion?: string;
  /** "table": execute writes a Parquet file at `outputFile(key)`; "none": nothing is stored (a relation in a warehouse). */
  readonly output?: "table" | "none";
  readonly checks?: readonly AssetSpecCheck[];
}

/** The context of one `execute` call: one partition key, the specs (and their checks) to materialize. */
export type GroupContext<R = Readonly<Record<string, unknown>>, P = PartitionsDefinition | undefined> = Omit<AssetContext<R, P>, "assetKey"> & {
  /** The group's name. */
  readonly group: string;
  /** The specs this call materializes, in dependency order. */
  readonly selected: readonly AssetKey[];
  /** The checks of the selected specs to run. */
  readonly selectedChecks: readonly { readonly asset: AssetKey; readonly name: string }[];
  /** The local path of the exact data file the upstream's committed record names (a downloaded copy for S3). */
  inputFile(key: AssetKey | AssetKeyLike): Promise<string>;
  /** A fresh path (…/data.parquet in the step's temp folder) where execute writes a spec's output as Parquet. */
  outputFile(key: AssetKey | AssetKeyLike): string;
};

export interface GroupResult {
  readonly materializations: readonly { readonly key: AssetKeyLike; readonly metadata?: Record<string, MetadataValue> }[];
  readonly checks: readonly {
    readonly asset: AssetKeyLike;
    readonly name: string;
    readonly passed: boolean;
    readonly severity?: CheckSeverity;
    readonly description?: string;
    readonly metadata?: Record<string, MetadataValue>;
  }[];
  /** No record for these; the error's message is the asset's failure. */
  readonly failures: readonly { readonly key: AssetKeyLike; readonly error: Error }[];
}

/** What each asset of a group carries: the step runtime runs the group's selected assets with one `execute`. */
export interface AssetBatch {
  readonly name: string;
  readonly execute: (ctx: GroupContext<any, any>) => Promise<GroupResult>;
  readonly keys: readonly AssetKey[];
}

export interface AssetGroupConfig<R extends ResourcesConfig, P extends PartitionsDefinition | undefined> {
  /** The step's name: letters, digits and '_' (e.g. "dbt_jaffle"). */
  name: string;
  specs: readonly AssetSpec[];
  partitions?: P;
  pool?: string;
  retry?: RetryPolicy;
  /** Seconds one execute call (one partition key, commits included) may take. */
  timeoutSeconds?: number;
  resources?: R;
  description?: string;
  execute: (ctx: GroupContext<ResourcesOf<R>, P>) => Promise<GroupResult>;
}

export interface AssetGroupDefinition<P extends PartitionsDefinition | undefined = PartitionsDefinition | undefined> {
  readonly kind: "assetGroup";
  readonly name: string;
  /** One ordinary asset per spec, in the specs' order. */
  readonly assets: readonly SpecAsset<P>[];
  /** The asset of one spec, to name in a TypeScript asset's `inputs` (read as a polars DataFrame) or `deps`. */
  asset(key: AssetKeyLike): SpecAsset<P>;
}

/** A spec's asset: its stored output is a Parquet file, read by TypeScript assets as a polars DataFrame. */
export type SpecAsset<P extends PartitionsDefinition | undefined = PartitionsDefinition | undefined> = AssetDefinition<pl.DataFrame, Record<never, never>, P>;

export const STEP_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isAssetGroupDefinition(x: unknown): x is AssetGroupDefinition {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "assetGroup";
}

/**
 * Many assets one `execute` materializes (a dbt project): each spec becomes an ordinary asset, so the graph,
 * selection, manifest and store see assets; the step runtime calls `execute` once per partition key for the
 * group's selected assets of a step (EXECUTION-CONTRACT.md §8).
 */
export function assetGroup<R extends ResourcesConfig = readonly string[], P extends PartitionsDefinition | undefined = undefined>(
  config: AssetGroupConfig<R, P>,
): AssetGroupDefinition<P> {
  const file = callerLocation()?.file;
  const name = config.name;
  if (typeof name !== "string" || !STEP_NAME.test(name)) {
    throw new BatonError("INVALID_DEFINITION", `asset group name ${JSON.stringify(name)} is not a step name`, { file, hint: "use letters, digits and '_', starting with a letter or '_' (e.g. \"dbt_jaffle\")" });
  }
  if (typeof config.execute !== "function") {
    throw new BatonError("INVALID_DEFINITION", `asset group "${name}": execute is not a function`, { file, hint: "give execute: async (ctx) => ({ materializations, checks, failures })" });
  }
  if (!Array.isArray(config.specs) || config.specs.length === 0) {
    throw new BatonError("INVALID_DEFINITION", `asset group "${name}" has no specs`, { file, hint: "give specs: [{ key: \"orders\" }, …]" });
  }
  const keys = config.specs.map((s) => toAssetKey(s.key));
  const batch: AssetBatch = { name, execute: config.execute as AssetBatch["execute"], keys };
  // Without a declared code version, the execute's text decides it (as a compute's does).
  const groupVersion = defaultCodeVersion(config.execute);
  const assets = config.specs.map((spec, i) => {
    const id = keyToString(keys[i]!);
    const kinds = spec.kinds ?? [];
    if (!Array.isArray(kinds) || kinds.some((k) => typeof k !== "string" || k === "")) {
      throw new BatonError("INVALID_DEFINITION", `kinds must be a list of names, got ${JSON.stringify(kinds)}`, { asset: id, file, hint: "e.g. kinds: [\"dbt\", \"duckdb\"]" });
    }
    const checks: AssetCheck[] = (spec.checks ?? []).map((c: AssetSpecCheck) => ({
      name: c.name,
      ...(c.description !== undefined ? { description: c.description } : {}),
      ...(c.severity !== undefined ? { severity: c.severity } : {}),
      // The step runtime reports execute's verdicts; this only runs if something bypasses it.
      check: () => {
        throw new BatonError("INVALID_DEFINITION", `check "${c.name}" of asset group "${name}" has its verdict from the group's execute`, { asset: id, hint: "materialize the asset to run its checks" });
      },
    }));
    const a = asset({
      key: keys[i]!,
      ...(spec.deps ? { deps: spec.deps } : {}),
      compute: () => {
        throw new BatonError("INVALID_DEFINITION", `asset "${id}" of asset group "${name}" is materialized by the group's execute`, { asset: id, hint: "run it through runStep or materialize()" });
      },
      ...(config.partitions !== undefined ? { partitions: config.partitions } : {}),
      ...(config.resources !== undefined ? { resources: config.resources } : {}),
      description: spec.description ?? config.description,
      ...(spec.group !== undefined ? { group: spec.group } : {}),
      ...(spec.owners ? { owners: spec.owners } : {}),
      ...(spec.tags ? { tags: spec.tags } : {}),
      ...(spec.metadata ? { metadata: spec.metadata } : {}),
      ...(config.retry ? { retry: config.retry } : {}),
      ...(config.timeoutSeconds !== undefined ? { timeoutSeconds: config.timeoutSeconds } : {}),
      ...(config.pool !== undefined ? { pool: config.pool } : {}),
      checks,
      output: (spec.output ?? "table") as "table",
    }) as unknown as SpecAsset<P>;
    return {
      ...a,
      codeVersion: spec.codeVersion ?? groupVersion,
      codeVersionSource: spec.codeVersion !== undefined ? ("declared" as const) : ("compute" as const),
      kinds: [...kinds],
      batch,
      file: file ?? a.file,
      line: undefined,
    } as SpecAsset<P>;
  });
  const byId = new Map(assets.map((a) => [a.id, a]));
  if (byId.size !== assets.length) {
    const dup = assets.find((a, i) => assets.findIndex((b) => b.id === a.id) !== i)!;
    throw new BatonError("DUPLICATE_KEY", `asset group "${name}" has two specs with this key`, { asset: dup.id, file, hint: "give each spec its own key" });
  }
  // A listed asset of the group brings its siblings into definitions() (a dep by key on one of them resolves).
  for (const a of assets) (a as { upstreamAssets?: readonly AssetDefinition[] }).upstreamAssets = [...(a.upstreamAssets ?? []), ...assets.filter((b) => b !== a)];
  return {
    kind: "assetGroup",
    name,
    assets,
    asset(key) {
      const id = keyToString(toAssetKey(key));
      const a = byId.get(id);
      if (!a) throw new BatonError("UNKNOWN_INPUT", `asset group "${name}" has no spec "${id}"`, { asset: id, file, hint: `use one of: ${[...byId.keys()].join(", ")}` });
      return a;
    },
  };
}
