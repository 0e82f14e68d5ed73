/**
 * Process hooks that make sure the orchestrator always receives `closed`:
 *
 * - SIGINT / SIGTERM (Dagster forwards SIGINT when a run is terminated): send `closed` with a
 *   {@link DagsterPipesInterrupt} exception and exit with 130 / 143.
 * - process exit while the context is still open (forgotten `close()`, uncaught exception,
 *   unhandled rejection, `process.exit(n)`): send `closed`, carrying the uncaught error or a
 *   "process exited with code n" error when the exit code is non-zero.
 *
 * All channels write synchronously, so nothing buffered is lost on either path.
 */
import process from "node:process";

import { DagsterPipesInterrupt, exitCodeForSignal, type PipesHandledSignal } from "./errors.js";

/** What the hooks need from a context. */
export interface ClosablePipesContext {
  readonly isClosed: boolean;
  close(error?: unknown): void;
}

export interface PipesProcessHooksOptions {
  /** Install SIGINT/SIGTERM handlers (default true). */
  handleSignals?: boolean;
  /** Send `closed` from the process `exit` event if the context is still open (default true). */
  closeOnExit?: boolean;
}

const HANDLED_SIGNALS: readonly PipesHandledSignal[] = ["SIGINT", "SIGTERM"];

/** Error reported in `closed` when the process exits non-zero with the context still open. */
export class PipesProcessExitError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`The external process exited with code ${exitCode} before the Dagster Pipes context was closed.`);
    this.name = "PipesProcessExitError";
    this.exitCode = exitCode;
  }
}

/**
 * Installs the hooks for `context` and returns a function that removes them (called when the
 * context closes, so a later signal gets Node's default behaviour again).
 */
export function installProcessHooks(
  context: ClosablePipesContext,
  options: PipesProcessHooksOptions = {},
): () => void {
  const { handleSignals = true, closeOnExit = true } = options;
  const removers: (() => void)[] = [];
  let uncaught: { error: unknown } | undefined;

  if (closeOnExit) {
    const onUncaught = (error: unknown): void => {
      uncaught ??= { error };
    };
    const onExit = (code: number): void => {
      if (context.isClosed) return;
      const error = uncaught ? uncaught.error : code !== 0 ? new PipesProcessExitError(code) : undefined;
      try {
        context.close(error);
      } catch {
        // Nothing can be reported from an exit hook.
      }
    };
    process.on("uncaughtExceptionMonitor", onUncaught);
    process.on("exit", onExit);
    removers.push(() => {
      process.removeListener("uncaughtExceptionMonitor", onUncaught);
      process.removeListener("exit", onExit);
    });
  }

  if (handleSignals) {
    for (const signal of HANDLED_SIGNALS) {
      const onSignal = (): void => {
        try {
          if (!context.isClosed) context.close(new DagsterPipesInterrupt(signal));
        } catch {
          // Exiting non-zero below is what fails the step; keep going.
        } finally {
          process.exit(exitCodeForSignal(signal));
        }
      };
      process.on(signal, onSignal);
      removers.push(() => process.removeListener(signal, onSignal));
    }
  }

  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    for (const remove of removers) remove();
  };
}
