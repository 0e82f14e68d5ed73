import { BatonError } from "@baton/core/authoring";
import type { BatonErrorCode } from "@baton/core";

/** Why a dbt call was refused: each names what to fix. */
export type DbtErrorReason =
  | "DBT_NOT_FOUND"
  | "DBT_VERSION"
  | "DBT_FAILED"
  | "MANIFEST_MISSING"
  | "MANIFEST_STALE"
  | "MANIFEST_INVALID"
  | "UNKNOWN_NODE"
  | "COMPILATION"
  | "TEST_FAILED"
  | "UNSELECTED_NODE";

const CODES: Record<DbtErrorReason, BatonErrorCode> = {
  DBT_NOT_FOUND: "CONFIG",
  DBT_VERSION: "CONFIG",
  DBT_FAILED: "CONFIG",
  MANIFEST_MISSING: "MANIFEST",
  MANIFEST_STALE: "MANIFEST",
  MANIFEST_INVALID: "MANIFEST",
  UNKNOWN_NODE: "UNKNOWN_SELECTION",
  COMPILATION: "INVALID_DEFINITION",
  TEST_FAILED: "CHECK_FAILED",
  UNSELECTED_NODE: "INVALID_DEFINITION",
};

/**
 * A dbt problem a retry cannot fix. It is a BatonError (named "BatonError", with a deterministic
 * code), so core and every adapter classify it as they classify Baton's own: no retry.
 */
export class DbtError extends BatonError {
  readonly reason: DbtErrorReason;
  constructor(reason: DbtErrorReason, problem: string, details: { asset?: string; file?: string; hint?: string } = {}) {
    super(CODES[reason], problem, details);
    this.reason = reason;
  }
}

/**
 * A dbt model, seed or snapshot that failed while it ran (a database error, a lock): like a compute
 * that throws, it may be retried.
 */
export class DbtNodeFailure extends Error {
  override name = "DbtNodeFailure";
  constructor(
    message: string,
    readonly asset: string | undefined,
    readonly file: string | undefined,
  ) {
    super(message);
  }
}
