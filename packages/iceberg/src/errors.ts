import { BatonError, type BatonErrorCode } from "@baton/core";

/** Why an Iceberg operation failed; `retryable` says whether running it again can help. */
export type IcebergErrorReason = "UNKNOWN_TABLE" | "SCHEMA_MISMATCH" | "CATALOG_UNREACHABLE" | "COMMIT_CONFLICT" | "ENGINE";

/**
 * Core's codes where one fits: an unknown table and a schema mismatch are configuration faults a retry cannot fix
 * ("CONFIG", "WRONG_OUTPUT_TYPE"); an unreachable catalog and a lost commit race are transient and carry their own
 * ("ICEBERG_…"). Whether core retries is what `retryable` says (its isRetryable honours it before the code).
 */
const CODES: Readonly<Record<IcebergErrorReason, string>> = {
  UNKNOWN_TABLE: "CONFIG",
  SCHEMA_MISMATCH: "WRONG_OUTPUT_TYPE",
  CATALOG_UNREACHABLE: "ICEBERG_UNREACHABLE",
  COMMIT_CONFLICT: "ICEBERG_COMMIT_CONFLICT",
  ENGINE: "ICEBERG_ENGINE",
};

export interface IcebergErrorDetails {
  readonly table?: string;
  readonly asset?: string;
  readonly hint: string;
  readonly cause?: unknown;
  /** Overrides the reason's default (an engine failure no retry can fix). */
  readonly retryable?: boolean;
}

export class IcebergError extends BatonError {
  readonly reason: IcebergErrorReason;
  /** The table, as `namespace.table` (undefined for catalog-wide failures). */
  readonly table: string | undefined;
  readonly retryable: boolean;
  /** The problem without the "Iceberg table …:" prefix. */
  readonly detail: string;
  private readonly details: IcebergErrorDetails;

  constructor(reason: IcebergErrorReason, problem: string, details: IcebergErrorDetails) {
    super(CODES[reason] as BatonErrorCode, details.table !== undefined ? `Iceberg table ${details.table}: ${problem}` : problem, {
      hint: details.hint,
      ...(details.asset !== undefined ? { asset: details.asset } : {}),
    });
    this.reason = reason;
    this.details = details;
    this.detail = problem;
    this.table = details.table;
    this.retryable = details.retryable ?? (reason === "CATALOG_UNREACHABLE" || reason === "COMMIT_CONFLICT" || reason === "ENGINE");
    if (details.cause !== undefined) (this as { cause?: unknown }).cause = details.cause;
  }

  /** The same error, naming the asset whose step hit it and the table it was writing or reading (catalog-wide failures name none). */
  forAsset(asset: string, table: string): IcebergError {
    if (this.asset === asset && this.table !== undefined) return this;
    return new IcebergError(this.reason, this.detail, { ...this.details, asset, table: this.table ?? table });
  }
}
