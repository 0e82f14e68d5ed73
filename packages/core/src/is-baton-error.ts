import { BatonError, BatonValidationError } from "./errors.js";

/*
 * `instanceof` is not enough to recognise Baton's errors: the user's definitions may load another
 * instance of core than the CLI or step runs (tsx's `tsImport` loads modules in their own
 * namespace, and a project may resolve its own copy of @baton/core), and an error thrown by that
 * instance is not an instance of this one's classes. These checks go by name and shape instead.
 */

function named(e: unknown, name: string): e is Record<string, unknown> {
  return typeof e === "object" && e !== null && (e as { name?: unknown }).name === name && typeof (e as { message?: unknown }).message === "string";
}

/** A BatonError from any instance of core. */
export function isBatonError(e: unknown): e is BatonError {
  if (e instanceof BatonError) return true;
  return named(e, "BatonError") && typeof e.code === "string" && typeof e.problem === "string";
}

/** A BatonValidationError (several definition problems at once) from any instance of core. */
export function isBatonValidationError(e: unknown): e is BatonValidationError {
  if (e instanceof BatonValidationError) return true;
  return named(e, "BatonValidationError") && Array.isArray(e.errors);
}

/**
 * An error whose message already says what went wrong, where and how to fix it, so human output
 * shows the message alone, without a stack trace: a BatonError, a BatonValidationError, or a
 * storage failure (BatonStorageError: disk full, read-only filesystem…). Anything else is a bug or
 * a crash, and its stack is worth printing.
 */
export function isExplainedError(e: unknown): boolean {
  return isBatonError(e) || isBatonValidationError(e) || (named(e, "BatonStorageError") && typeof e.hint === "string");
}
