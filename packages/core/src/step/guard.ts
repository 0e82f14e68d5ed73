import { writeSync } from "node:fs";
import { redactError, serializeError, type SerializedError, type StepEvent } from "./events.js";

/** A selected asset without a result: none at all, or some of its partition keys missing. */
export interface UnfinishedAsset {
  readonly asset: string;
  /** The partition keys still missing when some were materialized; empty when nothing was. */
  readonly partitionKeys: readonly string[];
}

/**
 * Follows a step's events to tell what is still open: a selected asset has a result once it
 * failed, was skipped, or was materialized for each partition key of the step.
 */
export class StepTracker {
  private assets: string[];
  private keys: string[] = [];
  private readonly resolved = new Set<string>();
  private readonly materialized = new Map<string, Set<string | null>>();
  /** `step_end` was seen. */
  ended = false;

  constructor(selected: readonly string[]) {
    this.assets = [...selected];
  }

  readonly observe = (e: StepEvent): void => {
    switch (e.type) {
      case "step_start":
        this.assets = [...e.assets];
        this.keys = [...e.partitionKeys];
        break;
      case "materialization": {
        const seen = this.materialized.get(e.asset) ?? new Set();
        seen.add(e.partitionKey);
        this.materialized.set(e.asset, seen);
        break;
      }
      case "asset_failure":
      case "asset_skipped":
        this.resolved.add(e.asset);
        break;
      case "step_end":
        this.ended = true;
        break;
      default:
    }
  };

  unfinished(): UnfinishedAsset[] {
    const out: UnfinishedAsset[] = [];
    for (const asset of this.assets) {
      if (this.resolved.has(asset)) continue;
      const seen = this.materialized.get(asset);
      if (seen?.has(null)) continue; // an unpartitioned asset in a partitioned step
      if (!seen) out.push({ asset, partitionKeys: [] });
      else {
        const missing = this.keys.filter((k) => !seen.has(k));
        if (missing.length > 0) out.push({ asset, partitionKeys: missing });
      }
    }
    return out;
  }
}

/** "a, b [2024-01-02]": the unfinished assets as a message names them. */
export function describeUnfinished(list: readonly UnfinishedAsset[]): string {
  return list.map((u) => (u.partitionKeys.length ? u.partitionKeys.map((k) => `${u.asset} [${k}]`).join(", ") : u.asset)).join(", ");
}

export interface StepGuard {
  /** Pass every event of the step through here: it is tracked, then written. */
  readonly onEvent: (e: StepEvent) => void;
  /** Aborted on SIGTERM/SIGINT: give it to runStep so that nothing is written afterwards. */
  readonly signal: AbortSignal;
  /** The exit code for a finished step: 0 success, 1 transient, 3 deterministic, 128+n after signal n. */
  exitCode(result: { readonly status: "success" | "failure"; readonly retryable: boolean }): number;
  /** Stops watching the process (remove the listeners); call before exiting on purpose. */
  release(): void;
}

export type StepSignal = "SIGTERM" | "SIGINT";

/**
 * What a step's guard watches and how it ends the step at once: the process's own events when the
 * step is the process (`processHost`), or a warm worker's view of the one step it runs (the worker
 * routes its process events to the step's listeners and ends the step with an exit frame).
 * Each `on*` returns the function that removes the listener.
 */
export interface StepHost {
  /** Nothing is left that could settle the step (the event loop emptied while it was open). */
  onIdle(listener: () => void): () => void;
  /** The process is exiting (process.exit() in user code): the listener must write synchronously. */
  onExit(listener: (code: number) => void): () => void;
  /** The step is cancelled (SIGTERM / SIGINT to the process, or a worker client's cancel frame). */
  onSignal(listener: (signal: StepSignal) => void): () => void;
  /** An uncaught exception or an unhandled rejection. */
  onCrash(listener: (e: unknown) => void): () => void;
  /** End the step now with this exit code (a process exits; a worker reports the code, then exits). */
  exit(code: number): void;
  /** Sets the code the step ends with when it ends by itself (a drained loop, an exit in progress). */
  setExitCode(code: number): void;
  /**
   * Not to be reused after this step (user code may still be running: an attempt that timed out).
   * A process ends anyway; a worker exits once it reported the step's code.
   */
  retire(reason: string): void;
}

/** The process is the step: its own beforeExit / exit / signal / uncaughtException events. */
export const processHost: StepHost = {
  onIdle(listener) {
    process.on("beforeExit", listener);
    return () => process.off("beforeExit", listener);
  },
  onExit(listener) {
    process.on("exit", listener);
    return () => process.off("exit", listener);
  },
  onSignal(listener) {
    const term = () => listener("SIGTERM");
    const int = () => listener("SIGINT");
    process.on("SIGTERM", term);
    process.on("SIGINT", int);
    return () => {
      process.off("SIGTERM", term);
      process.off("SIGINT", int);
    };
  },
  onCrash(listener) {
    process.on("uncaughtException", listener);
    return () => process.off("uncaughtException", listener);
  },
  exit(code) {
    process.exit(code);
  },
  setExitCode(code) {
    process.exitCode = code;
  },
  retire() {
    // A one-off process ends with its step.
  },
};

const SIGNALS = { SIGTERM: 15, SIGINT: 2 } as const;

/**
 * Keeps a step process honest: it never ends as a success unless `step_end` success was written.
 * - The event loop drains while the step is open (a promise that never settles): every selected
 *   asset without a result fails, then `step_end` failure; exit 1.
 * - `process.exit()` is called while the step is open (user or library code): the same events
 *   are written synchronously on the way out and the exit code becomes 1.
 * - SIGTERM or SIGINT: the signal is aborted (nothing more is written), the open assets fail as
 *   cancelled, and the process exits at once with 128 + the signal's number.
 * - An uncaught exception or unhandled rejection (a throw in a timer callback): the open assets
 *   fail with that error, redacted (Node's own crash report, which would print it as it is, is
 *   replaced); exit 1.
 * `write` must write synchronously (fs.writeSync): it runs inside an `exit` listener. `host` is
 * where these events come from (the process by default; a warm worker passes its own), and
 * `stderr` where the crash report goes (fd 2 by default).
 */
export function guardStep(options: {
  readonly assets: readonly string[];
  readonly write: (e: StepEvent) => void;
  /** Applied to a crash's error before it is reported (the step's secrets). */
  readonly redact?: (text: string) => string;
  readonly host?: StepHost;
  readonly stderr?: (text: string) => void;
}): StepGuard {
  const redact = options.redact ?? ((t: string) => t);
  const host = options.host ?? processHost;
  const stderr = options.stderr ?? ((text: string) => writeSync(2, text));
  const tracker = new StepTracker(options.assets);
  const controller = new AbortController();
  const started = performance.now();
  let watching = true;
  const onEvent = (e: StepEvent) => {
    tracker.observe(e);
    // A timed-out compute may still be running: in a worker it would run on into the next step.
    if (e.type === "asset_failure" && e.error.code === "TIMEOUT") host.retire(`asset "${e.asset}" timed out; its compute may still be running`);
    options.write(e);
  };

  const close = (name: string, what: string, hint: string, stack?: string) => {
    if (tracker.ended) return;
    const open = tracker.unfinished();
    const message = `${what}${open.length ? `: no result for ${describeUnfinished(open)}` : ""}; ${hint}`;
    const error: SerializedError = { name, message, stack, retryable: true };
    for (const u of open) onEvent({ type: "asset_failure", asset: u.asset, partitionKey: u.partitionKeys.length === 1 ? u.partitionKeys[0]! : null, error });
    onEvent({ type: "step_end", status: "failure", retryable: true, durationMs: performance.now() - started, error });
  };

  const endedEarly = (hint: string) => {
    if (!watching) return;
    release();
    close("StepUnfinished", "the Node step ended before it finished", hint);
    host.setExitCode(1);
  };
  const onIdle = () => endedEarly("its event loop emptied while the step was open: a compute whose promise never settles?");
  const onExit = (code: number) => endedEarly(`process.exit(${code}) was called while the step was open: process.exit() in user code (or a library)?`);
  const onSignal = (signal: StepSignal) => {
    controller.abort();
    const code = 128 + SIGNALS[signal];
    if (watching) {
      release();
      close("StepCancelled", `the step was cancelled (${signal})`, "nothing was written after the cancellation");
    }
    host.exit(code);
  };
  const onCrash = (e: unknown) => {
    const error = redactError(serializeError(e), redact);
    if (watching) {
      release();
      close(error.name, `the Node step crashed (${error.message})`, "an uncaught exception or unhandled rejection in user code?", error.stack);
    }
    stderr(`baton-step: uncaught ${error.stack ?? `${error.name}: ${error.message}`}\n`);
    host.exit(1);
  };

  const offIdle = host.onIdle(onIdle);
  const offExit = host.onExit(onExit);
  // The signal and crash listeners stay: after the step a signal still exits with its code, at once.
  host.onSignal(onSignal);
  host.onCrash(onCrash);

  function release() {
    watching = false;
    offIdle();
    offExit();
  }

  return {
    onEvent,
    signal: controller.signal,
    exitCode(result) {
      if (controller.signal.aborted) return 143;
      if (result.status === "success") return 0;
      return result.retryable ? 1 : 3;
    },
    release,
  };
}
