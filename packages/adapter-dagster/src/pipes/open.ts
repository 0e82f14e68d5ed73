/**
 * Entry points: `openDagsterPipes()` (the singleton context, like Python's `open_dagster_pipes`)
 * and `withDagsterPipes()` (the `with open_dagster_pipes() as pipes:` form).
 */
import process from "node:process";

import { ActivePipesContext, NoopPipesContext, type PipesContext } from "./context.js";
import { PipesDefaultContextLoader, type PipesContextLoader } from "./context-loader.js";
import { DagsterPipesError } from "./errors.js";
import { installProcessHooks } from "./lifecycle.js";
import { resolveParamsLoader, type PipesParamsLoader, type PipesParamsSource } from "./params.js";
import { PipesDefaultMessageWriter, type PipesMessageWriter } from "./writers.js";

export interface OpenDagsterPipesOptions {
  /**
   * Where the bootstrap params come from: `"auto"` (default: env vars, else CLI arguments),
   * `"env"`, `"cli"`, or a custom {@link PipesParamsLoader}.
   */
  paramsLoader?: PipesParamsLoader | PipesParamsSource;
  /** Defaults to {@link PipesDefaultContextLoader} (`path` or `data`). */
  contextLoader?: PipesContextLoader;
  /** Defaults to {@link PipesDefaultMessageWriter} (`path`, `stdio`, `buffered_stdio`). */
  messageWriter?: PipesMessageWriter;
  /** Send `closed` and exit 130/143 on SIGINT/SIGTERM (default true). */
  handleSignals?: boolean;
  /** Send `closed` at process exit if the context is still open (default true). */
  closeOnExit?: boolean;
  /** Emit a `DagsterPipesWarning` when not launched by Dagster (default true, as Python). */
  warnIfNotDagster?: boolean;
}

let current: PipesContext | undefined;

const NOT_LAUNCHED_WARNING =
  "This process was not launched by a Dagster orchestration process. All calls to the " +
  "`dagster-pipes` context or attempts to initialize `dagster-pipes` abstractions are no-ops.";

/**
 * Opens the Pipes connection and returns the process-wide context, sending `opened`.
 *
 * Like Python, the first call creates the singleton and later calls return it (even once it is
 * closed; see {@link resetPipesContext}). When the process was not launched by Dagster a
 * {@link NoopPipesContext} is returned and a warning is emitted.
 */
export function openDagsterPipes(options: OpenDagsterPipesOptions = {}): PipesContext {
  if (current) return current;
  const paramsLoader = resolveParamsLoader(options.paramsLoader);
  if (!paramsLoader.isDagsterPipesProcess()) {
    if (options.warnIfNotDagster !== false) process.emitWarning(NOT_LAUNCHED_WARNING, "DagsterPipesWarning");
    current = new NoopPipesContext();
    return current;
  }
  const hooks: { uninstall?: () => void } = {};
  const context = new ActivePipesContext({
    paramsLoader,
    contextLoader: options.contextLoader ?? new PipesDefaultContextLoader(),
    messageWriter: options.messageWriter ?? new PipesDefaultMessageWriter(),
    onClose: () => hooks.uninstall?.(),
  });
  hooks.uninstall = installProcessHooks(context, {
    handleSignals: options.handleSignals ?? true,
    closeOnExit: options.closeOnExit ?? true,
  });
  current = context;
  return context;
}

/** Whether {@link openDagsterPipes} has created the singleton. */
export function isPipesContextInitialized(): boolean {
  return current !== undefined;
}

/** The singleton created by {@link openDagsterPipes}; throws if there is none yet. */
export function getPipesContext(): PipesContext {
  if (!current) {
    throw new DagsterPipesError("PipesContext has not been initialized. You must call `openDagsterPipes()`.");
  }
  return current;
}

/**
 * Forgets the singleton so the next {@link openDagsterPipes} opens a new connection (for
 * long-lived processes that serve several launches, and for tests). Does not close it.
 */
export function resetPipesContext(): void {
  current = undefined;
}

/**
 * Runs `fn` with an open context and closes it afterwards; when `fn` throws, `closed` carries the
 * exception and the error is rethrown (so the process still fails).
 */
export async function withDagsterPipes<T>(
  fn: (context: PipesContext) => T | Promise<T>,
  options: OpenDagsterPipesOptions = {},
): Promise<T> {
  const context = openDagsterPipes(options);
  let result: T;
  try {
    result = await fn(context);
  } catch (error) {
    context.close(error);
    throw error;
  }
  context.close();
  return result;
}
