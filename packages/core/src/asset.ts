import type * as pl from "nodejs-polars";
import type { Table } from "apache-arrow";
import { BatonError } from "./errors.js";
import { toAssetKey, keyToString, type AssetKey, type AssetKeyLike } from "./keys.js";
import type {
  PartitionKeyRange,
  PartitionMapping,
  PartitionsDefinition,
  StaticPartitionsDefinition,
  TimePartitionsDefinition,
  TimeWindow,
} from "./partitions/types.js";
import type { ResourceDefinition } from "./resource.js";
import { callerLocation } from "./source.js";
import { defaultCodeVersion } from "./code-version.js";
import type { OutputWithMetadata } from "./with-metadata.js";
import type { AssetTable, TableIO } from "./io/table-sink.js";
import { assetTableOf, tableIoProblem } from "./io/table-io.js";
import type { AssetBatch } from "./asset-group.js";

/** What a table asset stores. */
type Frame = pl.DataFrame | Table;
/**
 * What an asset's compute function may return: a frame (or `void` for a side-effect asset), alone or
 * wrapped by `withMetadata(frame, metadata)`.
 */
export type AssetOutput = Frame | void | OutputWithMetadata<Frame | void>;
/** The frame a compute's result stores (what checks and downstream inputs see). */
export type StoredOutput<O> = O extends OutputWithMetadata<infer F> ? F : O;
export type FrameKind = "polars" | "arrow";

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
}

/** What every context has, whatever the asset's partitions. */
interface BaseContext<R> {
  readonly assetKey: AssetKey;
  readonly runId: string;
  /** 0 on the first attempt. */
  readonly retryNumber: number;
  /** Every partition key this step covers (one, several for a range, none when unpartitioned). */
  readonly partitionKeys: readonly string[];
  readonly partitionKeyRange: PartitionKeyRange | undefined;
  readonly resources: R;
  readonly log: Logger;
  /**
   * Aborted when this attempt times out (`timeoutSeconds`) or the step is cancelled: pass it to
   * `fetch`, a driver or a loop so that the work stops too. Its `reason` says which.
   */
  readonly signal: AbortSignal;
}

/**
 * The partition fields, by the asset's partitions. Compute runs once per key of a range, so a
 * partitioned compute always has its one key; a time-partitioned one also has the key's window.
 * Anything else (a `PartitionsDefinition` not known statically, or no `P`) keeps both optional.
 */
export type PartitionContext<P> = [P] extends [undefined]
  ? { readonly partitionKey: undefined; readonly timeWindow: undefined }
  : [P] extends [TimePartitionsDefinition]
    ? { readonly partitionKey: string; readonly timeWindow: TimeWindow }
    : [P] extends [StaticPartitionsDefinition]
      ? { readonly partitionKey: string; readonly timeWindow: undefined }
      : [P] extends [PartitionsDefinition]
        ? { readonly partitionKey: string; readonly timeWindow: TimeWindow | undefined }
        : {
            /** Set when exactly one partition runs. */
            readonly partitionKey: string | undefined;
            /** Time partitions only: the window covered by the partition key(s). */
            readonly timeWindow: TimeWindow | undefined;
          };

/**
 * Orchestrator-neutral context; the same object whichever runtime executes the step. `R` is the
 * resources (typed from `asset({ resources: { warehouse } })`), `P` the asset's partitions.
 */
export type AssetContext<R = Readonly<Record<string, unknown>>, P = PartitionsDefinition | undefined> = BaseContext<R> & PartitionContext<P>;

/** The resources an asset declares, as objects by name (typed) or as names (deprecated). */
export type ResourcesConfig = Readonly<Record<string, ResourceDefinition<any, any>>> | readonly string[];

/** `ctx.resources` for these declared resources: each object's client type, by its record key. */
export type ResourcesOf<R> = R extends readonly string[]
  ? Readonly<Record<string, unknown>>
  : R extends Readonly<Record<string, ResourceDefinition<any, any>>>
    ? { readonly [K in keyof R]: R[K] extends ResourceDefinition<infer T, any> ? Awaited<T> : never }
    : Readonly<Record<string, unknown>>;

/** The names `io.catalog` may take: a key of the declared resources (any name for the deprecated list form). */
export type CatalogNameOf<R> = R extends readonly string[] ? string : R extends Readonly<Record<string, unknown>> ? Extract<keyof R, string> : string;

/** Where an asset stores its output: a data file of the IO store (parquet, ipc) or a catalog's table. */
export type AssetIO<C extends string = string> = { readonly format?: "parquet" | "ipc" } | TableIO<C>;

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  readonly delaySeconds?: number;
  readonly backoff?: "constant" | "exponential";
}

export interface CheckResult {
  readonly passed: boolean;
  readonly description?: string;
  readonly metadata?: Record<string, MetadataValue>;
}

export type CheckSeverity = "error" | "warn";

export interface AssetCheck<T = unknown> {
  readonly name: string;
  readonly description?: string;
  /** `error` fails the step (and blocks downstream); `warn` is reported only. Default `error`. */
  readonly severity?: CheckSeverity;
  readonly check: (output: T, context: AssetContext) => boolean | CheckResult | Promise<boolean | CheckResult>;
}

export type MetadataValue = string | number | boolean | null | readonly MetadataValue[] | { readonly [k: string]: MetadataValue };

/** An input: another asset (or its key) plus how to read it. */
export interface InputSpec<A = unknown> {
  readonly asset: A;
  /** Load as a polars DataFrame or an Arrow table; by default as the upstream produced it. */
  readonly as?: FrameKind;
  readonly partitionMapping?: PartitionMapping;
}

export type InputRef = AssetDefinition<any, any> | AssetKeyLike | InputSpec<AssetDefinition<any, any> | AssetKeyLike>;

type OutputOf<A> = A extends AssetDefinition<infer O, any> ? Exclude<StoredOutput<O>, void> : pl.DataFrame;
type LoadedAs<K, Fallback> = K extends "arrow" ? Table : K extends "polars" ? pl.DataFrame : Fallback;
/** The `as` an input spec sets for sure (`undefined` when absent or only optional, as after `input(x, { partitionMapping })`). */
type AsOf<I> = I extends { readonly as: infer K } ? K : undefined;
/** The value a compute function receives for one input declaration. */
export type InputValue<I> = I extends InputSpec<infer A>
  ? LoadedAs<AsOf<I>, OutputOf<A>>
  : I extends AssetDefinition<any, any>
    ? OutputOf<I>
    : pl.DataFrame;
export type InputValues<I extends Record<string, InputRef>> = { [K in keyof I]: InputValue<I[K]> };

/** What a compute that stores a table may return. */
export type TableOutput = Frame | OutputWithMetadata<Frame>;
/** What a side-effect compute (`output: "none"`) may return. */
export type NoOutput = void | OutputWithMetadata<void>;

export interface AssetConfig<
  I extends Record<string, InputRef>,
  O extends AssetOutput,
  R extends ResourcesConfig = ResourcesConfig,
  P extends PartitionsDefinition | undefined = PartitionsDefinition | undefined,
> {
  key: AssetKeyLike;
  inputs?: I;
  /** Assets that must run first but whose data this asset does not read. */
  deps?: readonly (AssetDefinition<any, any> | AssetKeyLike)[];
  compute: (inputs: InputValues<I>, context: AssetContext<ResourcesOf<R>, P>) => O | Promise<O>;
  partitions?: P;
  /**
   * The resources compute uses, by name: `{ warehouse }` (typed in `ctx.resources`, collected by
   * `definitions()`). `["warehouse"]` (names provided by `definitions({ resources })`) still works.
   */
  resources?: R;
  description?: string;
  group?: string;
  owners?: readonly string[];
  tags?: Readonly<Record<string, string>>;
  codeVersion?: string;
  retry?: RetryPolicy;
  metadata?: Record<string, MetadataValue>;
  checks?: readonly AssetCheck<Exclude<StoredOutput<O>, void>>[];
  /**
   * Storage format of the output. Parquet (default) is readable by Python users too; `"iceberg"` stores it in a
   * table of the catalog resource `catalog` (one the asset declares), see TABLE-OUTPUT-CONTRACT.md.
   */
  io?: AssetIO<NoInfer<CatalogNameOf<R>>>;
  /** "none" declares a side-effect asset that returns nothing and stores no data. */
  output?: "table" | "none";
  /**
   * Seconds one attempt for one partition key may take (inputs, compute, checks, write); past it the
   * attempt fails with code TIMEOUT, nothing is written, and the retry policy applies.
   */
  timeoutSeconds?: number;
  /** A concurrency pool declared in `definitions({ pools })`: at most its `limit` steps of the pool run at once. */
  pool?: string;
}

export interface ResolvedInput {
  readonly name: string;
  readonly key: AssetKey;
  readonly as: FrameKind | undefined;
  readonly partitionMapping: PartitionMapping | undefined;
}

/** `P` is the asset's partitions as declared (what a standalone check's context is typed by). */
export interface AssetDefinition<
  O extends AssetOutput = AssetOutput,
  I extends Record<string, InputRef> = Record<string, InputRef>,
  P extends PartitionsDefinition | undefined = PartitionsDefinition | undefined,
> {
  readonly kind: "asset";
  readonly key: AssetKey;
  readonly id: string;
  readonly inputs: readonly ResolvedInput[];
  readonly deps: readonly AssetKey[];
  readonly compute: (inputs: InputValues<I>, context: AssetContext) => O | Promise<O>;
  readonly partitions: P;
  /** The names of the resources compute uses (what the manifest and the step read). */
  readonly resources: readonly string[];
  /** The resource objects declared with `resources: { name: resource(…) }`, collected by `definitions()`. */
  readonly resourceDefinitions?: Readonly<Record<string, ResourceDefinition<any, any>>>;
  /** Asset objects named in `inputs` and `deps`: `definitions()` collects them without being listed. */
  readonly upstreamAssets?: readonly AssetDefinition<any, any>[];
  readonly description: string | undefined;
  readonly group: string;
  readonly owners: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
  /** `codeVersion` as declared, else a short hash of the compute's source (always set by `asset()`). */
  readonly codeVersion: string | undefined;
  /**
   * Where `codeVersion` came from: "compute" for the default, which sees only the compute's own text (not a
   * helper it calls, nor a package), so a runtime must not treat it as deciding the output (Prefect's cache).
   */
  readonly codeVersionSource?: "declared" | "compute";
  readonly retry: RetryPolicy | undefined;
  readonly metadata: Readonly<Record<string, MetadataValue>>;
  readonly checks: readonly AssetCheck<any>[];
  readonly format: "parquet" | "ipc" | "iceberg";
  /** Set when `format` is "iceberg": the catalog resource and the table that hold the output. */
  readonly table?: AssetTable | undefined;
  readonly output: "table" | "none";
  readonly timeoutSeconds: number | undefined;
  readonly pool: string | undefined;
  /** What the asset is made with (an asset group's spec `kinds`, e.g. ["dbt", "duckdb"]); absent: none. */
  readonly kinds?: readonly string[];
  /** Set on the assets of an `assetGroup()`: the step runtime materializes them with the group's one `execute`. */
  readonly batch?: AssetBatch;
  /** File that declared the asset, for error messages. */
  readonly file: string | undefined;
  /** The line of `file` where asset() was called, for messages (`file:line`). */
  readonly line?: number | undefined;
}

/** What a pool may be named: it becomes an Airflow pool, a Dagster pool and a Prefect tag. */
export const POOL_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function isAssetDefinition(x: unknown): x is AssetDefinition {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "asset";
}

export function isInputSpec(x: unknown): x is InputSpec<AssetDefinition | AssetKeyLike> {
  return typeof x === "object" && x !== null && !Array.isArray(x) && "asset" in x;
}

/** `check` names the standalone check reading it: its input mistakes are INVALID_DEFINITION (CHECKS-CONTRACT.md §1). */
export function resolveInput(name: string, ref: InputRef, owner: string, file: string | undefined, check?: string): ResolvedInput {
  const what = `${check !== undefined ? `check "${check}": ` : ""}input "${name}"`;
  const spec: InputSpec<AssetDefinition | AssetKeyLike> = isInputSpec(ref) ? ref : { asset: ref as AssetDefinition | AssetKeyLike };
  const target = spec.asset;
  let key: AssetKey;
  try {
    key = isAssetDefinition(target) ? target.key : toAssetKey(target);
  } catch (e) {
    throw new BatonError(check !== undefined ? "INVALID_DEFINITION" : "UNKNOWN_INPUT", `${what} does not name an asset: ${(e as BatonError).problem ?? (e as Error).message}`, {
      asset: owner,
      file,
      hint: `pass another asset, its key ("sales/orders") or { asset, as, partitionMapping } as inputs.${name}`,
    });
  }
  if (spec.as !== undefined && spec.as !== "polars" && spec.as !== "arrow") {
    throw new BatonError("INVALID_DEFINITION", `${what} has as: ${JSON.stringify(spec.as)}`, {
      asset: owner,
      file,
      hint: `use as: "polars" or as: "arrow"`,
    });
  }
  return { name, key, as: spec.as, partitionMapping: spec.partitionMapping };
}

function isResourceDefinition(x: unknown): x is ResourceDefinition<any, any> {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "resource";
}

/**
 * Names for the manifest and the step, and the objects `definitions()` collects: an asset's or a
 * sensor's `resources` (`owner` names the asset; `sensor` the sensor, whose errors then say so).
 */
export function resolveResources(
  resources: ResourcesConfig | undefined,
  owner: { readonly asset?: string; readonly sensor?: string },
  file: string | undefined,
): { names: string[]; objects: Record<string, ResourceDefinition<any, any>> } {
  if (resources === undefined) return { names: [], objects: {} };
  const prefix = owner.sensor === undefined ? "" : `sensor "${owner.sensor}": `;
  const where = { asset: owner.asset, file };
  const hint = `pass the resource objects by name: ${owner.sensor === undefined ? "resources: { warehouse }" : "sensor({ resources: { bucket } })"}`;
  if (Array.isArray(resources)) {
    const bad = (resources as readonly unknown[]).find((r) => typeof r !== "string" || r === "");
    if (bad !== undefined) {
      throw new BatonError("INVALID_DEFINITION", `${prefix}resources lists ${JSON.stringify(bad) ?? String(bad)}, not a resource name`, { ...where, hint });
    }
    return { names: [...new Set(resources as readonly string[])], objects: {} };
  }
  if (typeof resources !== "object" || resources === null) {
    throw new BatonError("INVALID_DEFINITION", `${prefix}resources is ${typeof resources}`, { ...where, hint });
  }
  const objects: Record<string, ResourceDefinition<any, any>> = {};
  for (const [name, r] of Object.entries(resources as Readonly<Record<string, unknown>>)) {
    if (!isResourceDefinition(r)) {
      throw new BatonError("INVALID_DEFINITION", `${prefix}resources.${name} is not a resource`, {
        ...where,
        hint: `declare it with resource({ create, config }) and pass it as resources: { ${name} }`,
      });
    }
    objects[name] = r;
  }
  return { names: Object.keys(objects), objects };
}

/**
 * Declare an asset around a pure function. The declaration is checked here for what can be known
 * alone (key, inputs, retry policy); graph-wide checks happen in `definitions()`.
 */
export function asset<
  I extends Record<string, InputRef> = Record<never, never>,
  O extends TableOutput = TableOutput,
  R extends ResourcesConfig = readonly string[],
  P extends PartitionsDefinition | undefined = undefined,
>(config: AssetConfig<I, O, R, P> & { output?: "table" }): AssetDefinition<O, I, P>;
/** A side-effect asset: `output: "none"` and a compute that returns nothing (no data is stored). */
export function asset<
  I extends Record<string, InputRef> = Record<never, never>,
  R extends ResourcesConfig = readonly string[],
  P extends PartitionsDefinition | undefined = undefined,
>(config: AssetConfig<I, NoOutput, R, P> & { output: "none" }): AssetDefinition<void, I, P>;
export function asset(definition: object): AssetDefinition<any, any> {
  // The overloads above type the declaration; the checks below are for what the compiler did not see.
  const config = definition as AssetConfig<Record<string, InputRef>, AssetOutput>;
  const location = callerLocation();
  const file = location?.file;
  let key: string[];
  try {
    key = toAssetKey(config.key);
  } catch (e) {
    const shown = typeof config.key === "string" ? config.key : Array.isArray(config.key) ? config.key.join("/") : String(config.key);
    throw new BatonError("INVALID_KEY", (e as BatonError).problem ?? (e as Error).message, { asset: shown, file, hint: (e as BatonError).hint });
  }
  const id = keyToString(key);
  if (typeof config.compute !== "function") {
    throw new BatonError("INVALID_DEFINITION", "compute is not a function", { asset: id, file, hint: "give compute: (inputs, context) => DataFrame | Table | void" });
  }
  const retry = config.retry;
  if (retry !== undefined && (!Number.isInteger(retry.maxRetries) || retry.maxRetries < 0 || (retry.delaySeconds ?? 0) < 0)) {
    throw new BatonError("INVALID_DEFINITION", `invalid retry policy ${JSON.stringify(retry)}`, {
      asset: id,
      file,
      hint: "maxRetries must be a whole number >= 0 and delaySeconds >= 0",
    });
  }
  const checkNames = new Set<string>();
  for (const c of config.checks ?? []) {
    if (checkNames.has(c.name)) {
      throw new BatonError("DUPLICATE_KEY", `two checks are named "${c.name}"`, { asset: id, file, hint: "give each check of an asset its own name" });
    }
    checkNames.add(c.name);
  }
  if (config.output !== undefined && config.output !== "table" && config.output !== "none") {
    throw new BatonError("INVALID_DEFINITION", `unknown output ${JSON.stringify(config.output)}`, { asset: id, file, hint: `use "table" or "none"` });
  }
  const timeoutSeconds = config.timeoutSeconds;
  if (timeoutSeconds !== undefined && !(typeof timeoutSeconds === "number" && Number.isFinite(timeoutSeconds) && timeoutSeconds > 0)) {
    throw new BatonError("INVALID_DEFINITION", `timeoutSeconds is ${JSON.stringify(timeoutSeconds) ?? String(timeoutSeconds)}, not a positive number of seconds`, {
      asset: id,
      file,
      hint: "use e.g. timeoutSeconds: 600 (one attempt for one partition key), or leave it out for no limit",
    });
  }
  if (config.pool !== undefined && !(typeof config.pool === "string" && POOL_NAME.test(config.pool))) {
    throw new BatonError("INVALID_DEFINITION", `pool ${JSON.stringify(config.pool)} is not a pool name`, {
      asset: id,
      file,
      hint: "use letters, digits, '_' and '-', starting with a letter or '_' (e.g. pool: \"warehouse\")",
    });
  }
  const { names: resourceNames, objects: resourceDefinitions } = resolveResources(config.resources, { asset: id }, file);
  const io = (config.io ?? {}) as Readonly<Record<string, unknown>>;
  const format = (io.format ?? "parquet") as AssetDefinition["format"];
  if (format !== "parquet" && format !== "ipc" && format !== "iceberg") {
    throw new BatonError("INVALID_DEFINITION", `unknown io format ${JSON.stringify(format)}`, { asset: id, file, hint: `use "parquet", "ipc" or "iceberg"` });
  }
  if (format === "iceberg") {
    const p = tableIoProblem(io, { resources: resourceNames, partitioned: config.partitions !== undefined, output: config.output ?? "table" });
    if (p) throw new BatonError("INVALID_DEFINITION", p.problem, { asset: id, file, hint: p.hint });
  }
  return {
    kind: "asset",
    key,
    id,
    inputs: Object.entries(config.inputs ?? {}).map(([name, ref]) => resolveInput(name, ref, id, file)),
    deps: (config.deps ?? []).map((d, i) => resolveInput(`deps[${i}]`, d, id, file).key),
    // The runtime context has the partition fields the compute's context type promises (see PartitionContext).
    compute: config.compute as unknown as AssetDefinition["compute"],
    partitions: config.partitions,
    resources: resourceNames,
    resourceDefinitions,
    upstreamAssets: [...Object.values(config.inputs ?? {}), ...(config.deps ?? [])]
      .map((ref) => (isInputSpec(ref) ? ref.asset : ref))
      .filter(isAssetDefinition),
    description: config.description,
    group: config.group ?? "default",
    owners: [...(config.owners ?? [])],
    tags: { ...(config.tags ?? {}) },
    // A short hash of the compute's source unless declared: editing the compute invalidates its outputs.
    codeVersion: config.codeVersion ?? defaultCodeVersion(config.compute),
    codeVersionSource: config.codeVersion !== undefined ? "declared" : "compute",
    retry,
    metadata: { ...(config.metadata ?? {}) },
    checks: [...(config.checks ?? [])],
    format,
    ...(format === "iceberg" ? { table: assetTableOf(io) } : {}),
    output: config.output ?? "table",
    timeoutSeconds,
    pool: config.pool,
    file,
    line: location?.line,
  };
}

/** An input with options: `input(orders, { as: "arrow" })`. */
export function input<A extends AssetDefinition<any, any> | AssetKeyLike, const S extends Omit<InputSpec<A>, "asset">>(
  asset: A,
  options: S,
): InputSpec<A> & S {
  return { asset, ...options };
}
