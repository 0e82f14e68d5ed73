import type { CheckSeverity, MetadataValue } from "../asset.js";
import type { PartitionMapping, PartitionsDefinition } from "../partitions/types.js";
import type { SchedulePartition } from "../schedule.js";

/** Bumped on any change an older reader could misread. v2: `runtime.moduleHash`, paths inside the build. */
export const MANIFEST_VERSION = 2;

/** The one list of versions core and the adapters read (they import it; baton_core holds Python's). */
export const ACCEPTED_MANIFEST_VERSIONS: readonly [2] = [2];

export interface ManifestDep {
  readonly id: string;
  readonly key: readonly string[];
  /** The input name, or null for an ordering-only dep. */
  readonly input: string | null;
  /** Effective mapping (declared or default); null when the upstream is unpartitioned. */
  readonly partitionMapping: PartitionMapping | null;
}

export interface ManifestAsset {
  readonly id: string;
  readonly key: readonly string[];
  readonly deps: readonly ManifestDep[];
  readonly partitions: PartitionsDefinition | null;
  readonly group: string;
  readonly description: string | null;
  readonly owners: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
  readonly codeVersion: string | null;
  /** "declared" by the asset, or "compute": the default, a hash of the compute's text alone. Absent in older manifests (declared). */
  readonly codeVersionSource?: "declared" | "compute" | null;
  readonly metadata: Readonly<Record<string, MetadataValue>>;
  /** Inline checks first (`asset({ checks })`), then standalone ones (`assetCheck()`). */
  readonly checks: readonly ManifestCheck[];
  readonly retry: { readonly maxRetries: number; readonly delaySeconds: number; readonly backoff: "constant" | "exponential" } | null;
  /** The resources its steps build: its own, plus the catalogs of the table outputs it reads (TABLE-OUTPUT-CONTRACT.md §4). */
  readonly resources: readonly string[];
  readonly format: "parquet" | "ipc" | "iceberg";
  /** Where a table output goes (format "iceberg"); absent otherwise. */
  readonly table?: ManifestTable;
  readonly output: "table" | "none";
  /** Seconds one attempt for one partition key may take; null: no limit. */
  readonly timeoutSeconds: number | null;
  /** The concurrency pool (one of the manifest's `pools`), or null. */
  readonly pool: string | null;
  /** What the asset is made with (e.g. ["dbt", "duckdb"]); absent in older manifests: none. */
  readonly kinds?: readonly string[];
  /** The asset group (`assetGroup({ name })`) whose one execute materializes it, or null; absent in older manifests: null. */
  readonly batch?: string | null;
  /** Where asset() was called: `file` relative to the project root with '/', `line` 1-based; null when unknown or outside the root. */
  readonly source: ManifestSource | null;
}

export interface ManifestTable {
  readonly format: "iceberg";
  /** The catalog resource (one of the asset's resources). */
  readonly catalog: string;
  /** `namespace.table`. */
  readonly name: string;
  readonly partitionColumn: string | null;
  readonly mode: "replace" | "append";
}

export interface ManifestCheck {
  readonly name: string;
  readonly description: string | null;
  readonly severity: CheckSeverity;
  /** `assetCheck()`: its own step (a check-only step) after its target and deps. Absent in older manifests: false. */
  readonly standalone?: boolean;
  /** A standalone check's inputs, mappings relative to the target's partitions; the target is not listed. Inline: []. */
  readonly deps?: readonly ManifestDep[];
}

export interface ManifestSource {
  readonly file: string;
  readonly line: number | null;
}

export interface ManifestPool {
  readonly name: string;
  readonly limit: number;
  readonly description: string | null;
}

export interface ManifestResource {
  readonly key: string;
  readonly description: string | null;
  /** Config *sources* only: variable names, never values. Defaults are kept for non-secrets only. */
  readonly config: readonly {
    readonly field: string;
    readonly env: string;
    readonly secret: boolean;
    readonly default: string | null;
    readonly description: string | null;
  }[];
}

export interface ManifestSchedule {
  readonly name: string;
  readonly cron: string;
  readonly timezone: string;
  readonly selection: string;
  readonly assets: readonly string[];
  readonly partition: SchedulePartition | null;
  /** The targets' partitions (they share one), so a runtime can pick the key without Node. */
  readonly partitions: PartitionsDefinition | null;
  readonly description: string | null;
}

export interface ManifestSensor {
  readonly name: string;
  readonly selection: string;
  readonly assets: readonly string[];
  readonly minimumIntervalSeconds: number;
  readonly resources: readonly string[];
  readonly description: string | null;
}

export interface Manifest {
  readonly manifestVersion: number;
  readonly generator: { readonly name: string; readonly version: string };
  /** How to start the step runtime; paths are relative to the manifest's folder, with '/'. */
  readonly runtime: {
    readonly module: string;
    /** "sha256:<64 hex>" of the module's bytes; the step refuses to run a module that differs. */
    readonly moduleHash: string;
    readonly export: string;
    readonly stepEntry: string;
    readonly node: string;
  };
  readonly assets: readonly ManifestAsset[];
  readonly resources: readonly ManifestResource[];
  readonly schedules: readonly ManifestSchedule[];
  readonly sensors: readonly ManifestSensor[];
  /** Concurrency pools, sorted by name. Optional in the schema (older manifests lack it and the asset fields above). */
  readonly pools: readonly ManifestPool[];
}
