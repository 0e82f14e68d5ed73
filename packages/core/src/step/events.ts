import type { CheckSeverity, MetadataValue } from "../asset.js";
import type { ColumnSchema } from "../io/frames.js";
import { isRetryable } from "../errors.js";

export type LogLevel = "debug" | "info" | "warning" | "error";

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly code?: string;
  readonly cause?: SerializedError;
  /** False when a retry cannot help (a deterministic BatonError code, see DETERMINISTIC_CODES). */
  readonly retryable: boolean;
}

export interface MaterializationMetadata {
  readonly rowCount: number | null;
  readonly schema: readonly ColumnSchema[];
  readonly contentHash: string | null;
  readonly durationMs: number;
  /** The data file (a path or an s3:// URL); null for a table output and a side-effect asset. */
  readonly path: string | null;
  readonly format: "parquet" | "ipc" | "iceberg" | "none";
  /** A table output's table and the snapshot the step committed (TABLE-OUTPUT-CONTRACT.md §6); absent otherwise. */
  readonly table?: {
    readonly format: "iceberg";
    readonly catalog: string;
    readonly name: string;
    readonly snapshotId: string;
    readonly location: string | null;
  };
  readonly codeVersion: string | null;
  /**
   * The asset's own metadata: what it declares (`metadata`), then what this compute returned with
   * `withMetadata(frame, {...})` (which wins on a shared key). Adapters show it as the
   * materialization's metadata.
   */
  readonly user: Readonly<Record<string, MetadataValue>>;
}

/**
 * What a step reports. Every adapter turns these into its orchestrator's events; the embedded
 * executor aggregates them into its result. Secrets never appear in them.
 */
export type StepEvent =
  | { readonly type: "step_start"; readonly runId: string; readonly assets: readonly string[]; readonly partitionKeys: readonly string[]; readonly retryNumber: number }
  | { readonly type: "asset_start"; readonly asset: string; readonly partitionKey: string | null }
  | { readonly type: "log"; readonly level: LogLevel; readonly message: string; readonly asset: string | null }
  | {
      readonly type: "materialization";
      readonly asset: string;
      readonly partitionKey: string | null;
      /** The content hash, or null for a side-effect asset. */
      readonly dataVersion: string | null;
      readonly metadata: MaterializationMetadata;
    }
  | {
      readonly type: "check";
      readonly asset: string;
      readonly partitionKey: string | null;
      readonly check: string;
      readonly passed: boolean;
      readonly severity: CheckSeverity;
      readonly description: string | null;
      readonly metadata: Readonly<Record<string, MetadataValue>>;
    }
  | { readonly type: "asset_failure"; readonly asset: string; readonly partitionKey: string | null; readonly error: SerializedError }
  | { readonly type: "asset_skipped"; readonly asset: string; readonly reason: string }
  | {
      readonly type: "step_end";
      readonly status: "success" | "failure";
      /** Whether a retry may help (false on success): false only when every failure is deterministic. */
      readonly retryable: boolean;
      readonly durationMs: number;
      /** Why the step failed beyond its assets' own failures (a resource's teardown, the process ending early). */
      readonly error?: SerializedError;
    };

export function serializeError(e: unknown, depth = 0): SerializedError {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const cause = (e as { cause?: unknown }).cause;
    return {
      name: e.name,
      message: e.message,
      stack: e.stack,
      ...(typeof code === "string" ? { code } : {}),
      ...(cause !== undefined && depth < 5 ? { cause: serializeError(cause, depth + 1) } : {}),
      retryable: isRetryable(e),
    };
  }
  return { name: "NonErrorThrown", message: typeof e === "string" ? e : JSON.stringify(e) ?? String(e), stack: undefined, retryable: true };
}

/** The same error with `redact` applied to every text in it (message, stack, causes). */
export function redactError(e: SerializedError, redact: (text: string) => string): SerializedError {
  return {
    ...e,
    message: redact(e.message),
    stack: e.stack === undefined ? undefined : redact(e.stack),
    ...(e.cause !== undefined ? { cause: redactError(e.cause, redact) } : {}),
  };
}

/** Every string in a JSON-like value passed through `redact` (metadata, tick results). */
export function redactDeep<T>(value: T, redact: (text: string) => string): T {
  if (typeof value === "string") return redact(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v, redact)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [redact(k), redactDeep(v, redact)])) as T;
  }
  return value;
}
