export interface WaitForOptions {
  /** Deadline; generous by default (180 s) so a loaded 2-core machine still makes it. */
  readonly timeoutMs?: number;
  /** What is awaited, for the error when the deadline passes ("the Dagster run to reach a terminal state"). */
  readonly what: string;
  /** Pause between two evaluations of the condition (default 100 ms). */
  readonly intervalMs?: number;
}

export const DEFAULT_WAIT_MS = 180_000;

/**
 * Evaluate `condition` until it returns something other than `undefined`, `null` or `false`, and
 * return that value. Errors thrown by the condition count as "not yet" (a server still starting) and
 * the last one is quoted when the deadline passes, with what was awaited and for how long.
 */
export async function waitFor<T>(condition: () => T | Promise<T>, options: WaitForOptions): Promise<Exclude<T, undefined | null | false>> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
  const interval = options.intervalMs ?? 100;
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== null && value !== false) return value as Exclude<T, undefined | null | false>;
      last = undefined;
    } catch (e) {
      last = e;
    }
    const elapsed = Date.now() - started;
    if (elapsed >= timeoutMs) {
      const why = last === undefined ? "" : `; last error: ${(last as Error)?.message ?? String(last)}`;
      throw new Error(`timed out after ${Math.round(elapsed / 1000)} s waiting for ${options.what}${why}`);
    }
    await new Promise((r) => setTimeout(r, Math.min(interval, timeoutMs - elapsed)));
  }
}
