import type { PipesException } from "./protocol.js";

/** Raised for every misuse of the Pipes API (same role as Python's `DagsterPipesError`). */
export class DagsterPipesError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DagsterPipesError";
  }
}

const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;
export type PipesHandledSignal = keyof typeof SIGNAL_NUMBERS;

/** Exit code a shell reports for a process killed by `signal` (128 + signal number). */
export function exitCodeForSignal(signal: PipesHandledSignal): number {
  return 128 + SIGNAL_NUMBERS[signal];
}

/**
 * The error reported in `closed` when the process is interrupted by SIGINT/SIGTERM
 * (Dagster forwards SIGINT to the subprocess when a run is terminated).
 */
export class DagsterPipesInterrupt extends Error {
  readonly signal: PipesHandledSignal;
  readonly exitCode: number;

  constructor(signal: PipesHandledSignal) {
    super(
      `The external process received ${signal} and was interrupted before the Dagster Pipes` +
        " context was closed.",
    );
    this.name = "DagsterPipesInterrupt";
    this.signal = signal;
    this.exitCode = exitCodeForSignal(signal);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** True when `value` already has the shape of a {@link PipesException} payload. */
export function isPipesException(value: unknown): value is PipesException {
  return (
    isRecord(value) &&
    !(value instanceof Error) &&
    typeof value["message"] === "string" &&
    Array.isArray(value["stack"]) &&
    (value["stack"] as unknown[]).every((line) => typeof line === "string") &&
    (value["name"] === null || value["name"] === undefined || typeof value["name"] === "string")
  );
}

/** Turns the frames of a V8 `error.stack` into one entry per frame (`"  at fn (file:1:2)\n"`). */
function stackFrames(error: Error): string[] {
  const stack = typeof error.stack === "string" ? error.stack : "";
  const frames: string[] = [];
  for (const line of stack.split("\n")) {
    const trimmed = line.trim();
    if (trimmed.startsWith("at ")) frames.push(`  ${trimmed}\n`);
  }
  return frames;
}

function describeNonError(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    const json = JSON.stringify(value);
    if (typeof json === "string") return json;
  } catch {
    // fall through
  }
  return String(value);
}

/**
 * Converts anything that was thrown into the `PipesException` payload of the `closed` message:
 * `{message, stack, name, cause, context}`.
 *
 * Mirrors Python's `_pipes_exc_from_tb`: `message` is `"<Name>: <message>\n"` (like
 * `traceback.format_exception_only`), `stack` holds one string per frame (V8 order, innermost
 * first), `cause` comes from `error.cause`, and `context` (Python's "exception being handled")
 * from a `SuppressedError`'s `suppressed` error. Values that already have the payload shape are
 * passed through; other thrown values become a payload with `name: null` and an empty stack.
 */
export function toPipesException(error: unknown): PipesException {
  return convert(error, new Set());
}

function convert(error: unknown, seen: Set<unknown>): PipesException {
  if (isRecord(error) && seen.has(error)) {
    return { message: "<circular exception reference>\n", stack: [], name: null, cause: null, context: null };
  }
  if (isRecord(error)) seen.add(error);

  if (isPipesException(error)) {
    const cause = (error as { cause?: unknown }).cause;
    const context = (error as { context?: unknown }).context;
    return {
      message: error.message,
      stack: [...error.stack],
      name: error.name ?? null,
      cause: cause === null || cause === undefined ? null : convert(cause, seen),
      context: context === null || context === undefined ? null : convert(context, seen),
    };
  }

  if (error instanceof Error) {
    const name = error.name || error.constructor?.name || "Error";
    const header = error.message ? `${name}: ${error.message}` : name;
    const cause = (error as { cause?: unknown }).cause;
    const suppressed =
      name === "SuppressedError" ? (error as { suppressed?: unknown }).suppressed : undefined;
    return {
      message: `${header}\n`,
      stack: stackFrames(error),
      name,
      cause: cause === undefined || cause === null ? null : convert(cause, seen),
      context: suppressed === undefined || suppressed === null ? null : convert(suppressed, seen),
    };
  }

  return { message: `${describeNonError(error)}\n`, stack: [], name: null, cause: null, context: null };
}
