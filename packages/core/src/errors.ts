/**
 * Every error Baton raises for bad input. `hint` says how to fix it; `asset` and `file` say where.
 * The message is self-contained so that it reads well in an orchestrator's log.
 */
export type BatonErrorCode =
  | "CYCLE"
  | "UNKNOWN_INPUT"
  | "DUPLICATE_KEY"
  | "INVALID_KEY"
  | "INVALID_CRON"
  | "INVALID_TIMEZONE"
  | "INVALID_PARTITIONS"
  | "UNMAPPABLE_PARTITIONS"
  | "MISSING_RESOURCE"
  | "UNKNOWN_PARTITION"
  | "UNKNOWN_SELECTION"
  | "WRONG_OUTPUT_TYPE"
  | "MISSING_ENV"
  | "INVALID_DEFINITION"
  | "CHECK_FAILED"
  | "MISSING_OUTPUT"
  | "MANIFEST"
  | "CONFIG"
  | "STORAGE_URL"
  /** An attempt ran past the asset's `timeoutSeconds` (retryable, as a timed-out task is on every orchestrator). */
  | "TIMEOUT";

export interface BatonErrorDetails {
  asset?: string;
  file?: string;
  hint?: string;
}

export class BatonError extends Error {
  override name = "BatonError";
  readonly code: BatonErrorCode;
  readonly asset: string | undefined;
  readonly file: string | undefined;
  readonly hint: string | undefined;
  /** The problem alone, without the asset, file and fix, for errors that wrap another. */
  readonly problem: string;

  constructor(code: BatonErrorCode, problem: string, details: BatonErrorDetails = {}) {
    const where = [
      details.asset !== undefined ? `asset "${details.asset}"` : undefined,
      details.file !== undefined ? `(${details.file})` : undefined,
    ]
      .filter(Boolean)
      .join(" ");
    const text = `${where ? `${where}: ` : ""}${problem}${details.hint ? `\n  fix: ${details.hint}` : ""}`;
    super(text);
    this.code = code;
    this.asset = details.asset;
    this.file = details.file;
    this.hint = details.hint;
    this.problem = problem;
  }
}

/** Several definition errors reported at once, so the user can fix them in one pass. */
export class BatonValidationError extends Error {
  override name = "BatonValidationError";
  constructor(readonly errors: readonly BatonError[]) {
    super(
      `${errors.length} problem${errors.length === 1 ? "" : "s"} in the Baton definitions:\n` +
        errors.map((e) => `- ${e.message.replace(/\n/g, "\n  ")}`).join("\n"),
    );
  }
}

/**
 * Codes of errors a retry cannot fix (the step exits 3 and no orchestrator retries it). Anything
 * else (a thrown error, a crash, a signal, a failed teardown or import) is transient.
 */
export const DETERMINISTIC_CODES: ReadonlySet<string> = new Set<BatonErrorCode>([
  "MISSING_ENV",
  "UNKNOWN_PARTITION",
  "WRONG_OUTPUT_TYPE",
  "INVALID_DEFINITION",
  "CHECK_FAILED",
  "UNMAPPABLE_PARTITIONS",
  "MANIFEST",
  "CONFIG",
  "STORAGE_URL",
  "UNKNOWN_SELECTION",
  "CYCLE",
  "UNKNOWN_INPUT",
  "DUPLICATE_KEY",
  "INVALID_KEY",
  "INVALID_CRON",
  "INVALID_TIMEZONE",
  "INVALID_PARTITIONS",
  "MISSING_RESOURCE",
]);

/**
 * Whether a retry may help. Judged by name and code, not `instanceof`, so that an error from
 * another copy of core (the user's bundle, an adapter's) is classified the same way.
 */
export function isRetryable(e: unknown): boolean {
  if (e === null || typeof e !== "object") return true;
  const { name, code, retryable } = e as { name?: unknown; code?: unknown; retryable?: unknown };
  // The error says so itself: a storage failure only a configuration fix cures (a missing bucket), an unreachable
  // catalog or a lost commit race (retryable), an unknown table (not).
  if (typeof retryable === "boolean") return retryable;
  if (name === "BatonValidationError") return false;
  return !(name === "BatonError" && typeof code === "string" && DETERMINISTIC_CODES.has(code));
}

/** A step (or the rest of it) stopped because it was cancelled: nothing is written after that. */
export class StepCancelled extends Error {
  override name = "StepCancelled";
  constructor(reason = "the step was cancelled") {
    super(`${reason}; nothing was written after the cancellation`);
  }
}
