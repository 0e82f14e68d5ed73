import { closeSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { processAlive } from "./process.js";

export interface LockOptions {
  /** What the lock guards, for the timeout message ("the dagster virtual environment"). */
  readonly what: string;
  /** How long to wait for another holder (default 20 min: a first orchestrator install is slow). */
  readonly timeoutMs?: number;
  /** A lock older than this is taken over (default 30 min), as is one whose holder pid is gone. */
  readonly staleMs?: number;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Block the thread without spinning: the callers are synchronous (execFileSync installs). */
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}


/** Removes the lock at `path` when it is stale; true when it did (or it was already gone). */
function clearStale(path: string, staleMs: number): boolean {
  let text: string;
  let age: number;
  try {
    text = readFileSync(path, "utf8");
    age = Date.now() - statSync(path).mtimeMs;
  } catch {
    return true;
  }
  const pid = Number.parseInt(text.split("\n")[0] ?? "", 10);
  // a holder still writing its pid looks like "no pid": only age decides then
  const stale = age > staleMs || (Number.isInteger(pid) && pid > 0 && !processAlive(pid));
  if (!stale) return false;
  // rename first: of two waiters that both saw it stale, only one moves this very file
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
    rmSync(aside, { force: true });
  } catch {
    // another waiter took it over first
  }
  return true;
}

/**
 * Run `fn` holding an exclusive lock file (created with O_EXCL), so several processes (vitest
 * workers) never build or modify the same folder at once. Waits with a generous deadline and names
 * what it waited for; a lock left by a dead process or older than `staleMs` is taken over.
 */
export function withFileLock<T>(path: string, options: LockOptions, fn: () => T): T {
  const timeoutMs = options.timeoutMs ?? 20 * 60_000;
  const staleMs = options.staleMs ?? 30 * 60_000;
  const started = Date.now();
  let fd: number | undefined;
  for (let pause = 50; fd === undefined; pause = Math.min(pause * 2, 1000)) {
    try {
      fd = openSync(path, "wx");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if (clearStale(path, staleMs)) continue;
      if (Date.now() - started > timeoutMs) {
        let holder = "";
        try {
          holder = readFileSync(path, "utf8").split("\n")[0] ?? "";
        } catch {
          // released just now; the message still says what happened
        }
        throw new Error(
          `timed out after ${Math.round((Date.now() - started) / 1000)} s waiting for the lock on ${options.what} (${path}, held by pid ${holder || "?"})\n` +
            `  fix: wait for that process to finish, or remove ${path} if no process is installing`,
          { cause: e },
        );
      }
      sleepSync(pause);
    }
  }
  try {
    writeSync(fd, `${process.pid}\n${new Date().toISOString()}\n`);
    closeSync(fd);
    return fn();
  } finally {
    rmSync(path, { force: true });
  }
}
