import type { AssetDefinition } from "../asset.js";
import { BatonError, StepCancelled } from "../errors.js";
import type { TimeoutWatchdog } from "./watchdog.js";

/** `2.5 s`, `600 s`: seconds as the user wrote them. */
function seconds(n: number): string {
  return `${n} s`;
}

/** The TIMEOUT error of one attempt: its text always contains "timed out" (EXECUTION-CONTRACT.md §1). */
export function timeoutError(asset: string, timeoutSeconds: number, blocked = false): BatonError {
  const how = blocked ? "; its compute blocked the event loop, so the step process was stopped" : "";
  return new BatonError("TIMEOUT", `timed out after ${seconds(timeoutSeconds)} (timeoutSeconds: ${timeoutSeconds})${how}`, {
    asset,
    hint: "pass context.signal to what the compute awaits (fetch, a driver) so that it stops, make it faster, or raise timeoutSeconds",
  });
}

/**
 * One attempt of one asset for one partition key, bounded by the asset's `timeoutSeconds`.
 * `signal` is aborted when the step is cancelled or the deadline passes; `check()` throws once
 * either happened (by the clock too: a compute that blocked the event loop past the deadline
 * returns before the timer could fire), so nothing is committed after the deadline.
 */
export interface Attempt {
  readonly signal: AbortSignal;
  /** Throws the attempt's TIMEOUT error past the deadline, or StepCancelled once the step is cancelled. */
  check(): void;
  /** Whether the attempt timed out: its events are dropped from then on. */
  readonly timedOut: boolean;
  /** `work` raced against the deadline: rejects with TIMEOUT at the deadline, even if `work` never settles. */
  run<T>(work: () => Promise<T>): Promise<T>;
}

export function startAttempt(
  asset: AssetDefinition,
  partitionKey: string | undefined,
  stepSignal: AbortSignal | undefined,
  watchdog: TimeoutWatchdog | undefined,
): Attempt {
  const controller = new AbortController();
  const timeout = asset.timeoutSeconds;
  const error = timeout === undefined ? undefined : timeoutError(asset.id, timeout);
  const deadline = timeout === undefined ? Infinity : performance.now() + timeout * 1000;
  let timedOut = false;
  const expire = () => {
    if (timedOut || controller.signal.aborted) return;
    timedOut = true;
    controller.abort(error);
  };
  const onStepAbort = () => controller.abort(new StepCancelled());
  if (stepSignal?.aborted) onStepAbort();
  else stepSignal?.addEventListener("abort", onStepAbort, { once: true });

  const check = () => {
    if (performance.now() >= deadline) expire();
    if (controller.signal.aborted) throw controller.signal.reason;
  };

  return {
    signal: controller.signal,
    check,
    get timedOut() {
      return timedOut;
    },
    async run<T>(work: () => Promise<T>): Promise<T> {
      if (timeout === undefined) {
        try {
          return await work();
        } finally {
          stepSignal?.removeEventListener("abort", onStepAbort);
        }
      }
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          expire();
          reject(error!);
        }, Math.max(0, deadline - performance.now()));
      });
      // Only a compute that blocks the event loop needs it; an async one is stopped by the timer above.
      const watch = watchdog?.arm({ asset: asset.id, partitionKey: partitionKey ?? null, timeoutSeconds: timeout });
      try {
        const result = await Promise.race([work(), expired]);
        check();
        return result;
      } finally {
        clearTimeout(timer);
        if (watch !== undefined) watchdog!.disarm(watch);
        stepSignal?.removeEventListener("abort", onStepAbort);
      }
    },
  };
}
