import type * as pl from "nodejs-polars";
import type { Table } from "apache-arrow";
import { BatonError } from "./errors.js";
import { toAssetKey, keyToString, type AssetKey, type AssetKeyLike } from "./keys.js";
import type { PartitionMapping, PartitionsDefinition, TimeWindow, PartitionKeyRange } from "./partitions/types.js";
import { callerLocation } from "./source.js";

/** What an asset's compute function may return. `void` marks a side-effect asset. */
export type AssetOutput = pl.DataFrame | Table | void;
export type FrameKind = "polars" | "arrow";

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
}

/** Orchestrator-neutral context; the same object whichever runtime executes the step. */
export interface AssetContext<R = Record<string, unknown>> {
  readonly assetKey: AssetKey;
  readonly runId: string;
  /** 0 on the first attempt. */
  readonly retryNumber: number;
  /** Set when exactly one partition runs. */
  readonly partitionKey: string | undefined;
  /** Every partition key this step covers (one, several for a range, none when unpartitioned). */
  readonly partitionKeys: readonly string[];
  readonly partitionKeyRange: PartitionKeyRange | undefined;
  /** Time partitions only: the window covered by the partition key(s). */
  readonly timeWindow: TimeWindow | undefined;
  readonly resources: R;
  readonly log: Logger;
  /**
   * Aborted when this attempt times out (`timeoutSeconds`) or the step is cancelled: pass it to
   * `fetch`, a driver or a loop so that the work stops too. Its `reason` says which.
   */
  readonly signal: AbortSignal;
}

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

type OutputOf<A> = A extends AssetDefinition<infer O, any> ? (O extends void ? never : O) : pl.DataFrame;
type LoadedAs<K, Fallback> = K extends "arrow" ? Table : K extends "polars" ? pl.DataFrame : Fallback;
/** The value a compute function receives for one input declaration. */
export type InputValue<I> = I extends InputSpec<infer A>
  ? LoadedAs<I["as"], OutputOf<A>>
  : I extends AssetDefinition<any, any>
    ? OutputOf<I>
    : pl.DataFrame;
export type InputValues<I extends Record<string, InputRef>> = { [K in keyof I]: InputValue<I[K]> };

export interface AssetConfig<I extends Record<string, InputRef>, O extends AssetOutput> {
  key: AssetKeyLike;
  inputs?: I;
  /** Assets that must run first but whose data this asset does not read. */
  deps?: readonly (AssetDefinition<any, any> | AssetKeyLike)[];
  compute: (inputs: InputValues<I>, context: AssetContext) => O | Promise<O>;
  partitions?: PartitionsDefinition;
  resources?: readonly string[];
  description?: string;
  group?: string;
  owners?: readonly string[];
  tags?: Readonly<Record<string, string>>;
  codeVersion?: string;
  retry?: RetryPolicy;
  metadata?: Record<string, MetadataValue>;
  checks?: readonly AssetCheck<Exclude<O, void>>[];
  /** Storage format of the output. Parquet (default) is readable by Python users too. */
  io?: { format?: "parquet" | "ipc" };
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

export interface AssetDefinition<O extends AssetOutput = AssetOutput, I extends Record<string, InputRef> = Record<string, InputRef>> {
  readonly kind: "asset";
  readonly key: AssetKey;
  readonly id: string;
  readonly inputs: readonly ResolvedInput[];
  readonly deps: readonly AssetKey[];
  readonly compute: (inputs: InputValues<I>, context: AssetContext) => O | Promise<O>;
  readonly partitions: PartitionsDefinition | undefined;
  readonly resources: readonly string[];
  readonly description: string | undefined;
  readonly group: string;
  readonly owners: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
  readonly codeVersion: string | undefined;
  readonly retry: RetryPolicy | undefined;
  readonly metadata: Readonly<Record<string, MetadataValue>>;
  readonly checks: readonly AssetCheck<any>[];
  readonly format: "parquet" | "ipc";
  readonly output: "table" | "none";
  readonly timeoutSeconds: number | undefined;
  readonly pool: string | undefined;
  /** File that declared the asset, for error messages. */
  readonly file: string | undefined;
  /** The line of `file` where asset() was called, for messages (`file:line`). */
  readonly line?: number | undefined;
}

/** What a pool may be named: it becomes an Airflow pool, a Dagster pool and a Prefect tag. */
export const POOL_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function isAssetDefinition(x: unknown): x is AssetDefinition {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "asset";
}

function isInputSpec(x: unknown): x is InputSpec<AssetDefinition | AssetKeyLike> {
  return typeof x === "object" && x !== null && !Array.isArray(x) && "asset" in x;
}

function resolveInput(name: string, ref: InputRef, owner: string, file: string | undefined): ResolvedInput {
  const spec: InputSpec<AssetDefinition | AssetKeyLike> = isInputSpec(ref) ? ref : { asset: ref as AssetDefinition | AssetKeyLike };
  const target = spec.asset;
  let key: AssetKey;
  try {
    key = isAssetDefinition(target) ? target.key : toAssetKey(target);
  } catch (e) {
    throw new BatonError("UNKNOWN_INPUT", `input "${name}" does not name an asset: ${(e as BatonError).problem ?? (e as Error).message}`, {
      asset: owner,
      file,
      hint: `pass another asset, its key ("sales/orders") or { asset, as, partitionMapping } as inputs.${name}`,
    });
  }
  if (spec.as !== undefined && spec.as !== "polars" && spec.as !== "arrow") {
    throw new BatonError("INVALID_DEFINITION", `input "${name}" has as: ${JSON.stringify(spec.as)}`, {
      asset: owner,
      file,
      hint: `use as: "polars" or as: "arrow"`,
    });
  }
  return { name, key, as: spec.as, partitionMapping: spec.partitionMapping };
}

/**
 * Declare an asset around a pure function. The declaration is checked here for what can be known
 * alone (key, inputs, retry policy); graph-wide checks happen in `definitions()`.
 */
export function asset<I extends Record<string, InputRef> = Record<never, never>, O extends AssetOutput = AssetOutput>(
  config: AssetConfig<I, O>,
): AssetDefinition<O, I> {
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
  const format = config.io?.format ?? "parquet";
  if (format !== "parquet" && format !== "ipc") {
    throw new BatonError("INVALID_DEFINITION", `unknown io format ${JSON.stringify(format)}`, { asset: id, file, hint: `use "parquet" or "ipc"` });
  }
  return {
    kind: "asset",
    key,
    id,
    inputs: Object.entries(config.inputs ?? {}).map(([name, ref]) => resolveInput(name, ref, id, file)),
    deps: (config.deps ?? []).map((d, i) => resolveInput(`deps[${i}]`, d, id, file).key),
    compute: config.compute,
    partitions: config.partitions,
    resources: [...(config.resources ?? [])],
    description: config.description,
    group: config.group ?? "default",
    owners: [...(config.owners ?? [])],
    tags: { ...(config.tags ?? {}) },
    codeVersion: config.codeVersion,
    retry,
    metadata: { ...(config.metadata ?? {}) },
    checks: [...(config.checks ?? [])],
    format,
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
