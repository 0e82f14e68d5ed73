import { Worker } from "node:worker_threads";
import type { StepIO } from "./io.js";

/** One timed attempt the watchdog watches. */
export interface WatchedAttempt {
  readonly asset: string;
  readonly partitionKey: string | null;
  readonly timeoutSeconds: number;
}

/**
 * Stops the process when a timed attempt blocks the event loop past its deadline (a synchronous
 * spin): runStep's own timer cannot fire then, so a thread of its own does the work.
 */
export interface TimeoutWatchdog {
  /** Watch an attempt that starts now; returns the handle to disarm it with. */
  arm(attempt: WatchedAttempt): number;
  disarm(handle: number): void;
  /** Ends the thread (the process may also just exit: the thread does not keep it alive). */
  stop(): Promise<void>;
}

export interface WatchdogOptions {
  /**
   * What to write to stdout (fd 1) before the kill, for an attempt: `baton-step` gives the encoded
   * `asset_failure` and `step_end` event lines. Computed when the attempt is armed, so that the
   * thread needs nothing from the blocked one.
   */
  readonly stdout?: (attempt: WatchedAttempt) => string;
  /** Seconds after the deadline before the process is killed; 5 by default (EXECUTION-CONTRACT.md §1). */
  readonly graceSeconds?: number;
  /**
   * Where the step's output goes. A warm worker's connection (`io.frames` set): the lines, the
   * stderr message and an exit frame of -9 (what a SIGKILLed one-off process reports) are all
   * written to `io.fd`, framed. Otherwise stdout to fd 1 and the message to fd 2.
   */
  readonly io?: Pick<StepIO, "fd" | "frames">;
}

export const WATCHDOG_GRACE_SECONDS = 5;

/** The stderr line of a process the watchdog stopped. */
export function watchdogMessage(a: WatchedAttempt): string {
  const key = a.partitionKey === null ? "" : ` [${a.partitionKey}]`;
  return `baton: asset "${a.asset}"${key} timed out after ${a.timeoutSeconds} s (timeoutSeconds: ${a.timeoutSeconds}); its compute blocked the event loop, so the process was stopped\n`;
}

// The thread: the earliest armed deadline gets a timer; at it, the lines are written with
// writeSync (fds are the process's; a socket's is non-blocking, hence the EAGAIN retries) and the
// whole process gets SIGKILL (exit status 137).
const THREAD = `
const { parentPort } = require("node:worker_threads");
const { writeSync } = require("node:fs");
const armed = new Map();
let timer;
const pause = new Int32Array(new SharedArrayBuffer(4));
function writeAll(fd, text) {
  const bytes = Buffer.from(text, "utf8");
  let offset = 0;
  for (let tries = 0; offset < bytes.length && tries < 5000; tries++) {
    try { offset += writeSync(fd, bytes, offset); } catch (e) { if (e.code !== "EAGAIN") return; Atomics.wait(pause, 0, 0, 1); }
  }
}
function fire(a) {
  try { if (a.stdout) writeAll(a.fd, a.stdout); if (a.stderr) writeAll(2, a.stderr); } finally { process.kill(process.pid, "SIGKILL"); }
}
function schedule() {
  clearTimeout(timer);
  let next;
  for (const a of armed.values()) if (next === undefined || a.at < next.at) next = a;
  if (next !== undefined) timer = setTimeout(fire, Math.max(0, next.at - Date.now()), next);
}
parentPort.on("message", (m) => {
  if (m.type === "arm") armed.set(m.id, m);
  else armed.delete(m.id);
  schedule();
});
`;

/**
 * Start the watchdog thread. Costs a worker thread's start (measured in the README), so callers
 * start it only when a selected asset has `timeoutSeconds`.
 */
export function startWatchdog(options: WatchdogOptions = {}): TimeoutWatchdog {
  const grace = (options.graceSeconds ?? WATCHDOG_GRACE_SECONDS) * 1000;
  const worker = new Worker(THREAD, { eval: true, stdout: false, stderr: false });
  // The thread never keeps the process alive, and never fails the step if it cannot start.
  worker.unref();
  worker.on("error", () => undefined);
  let next = 0;
  return {
    arm(attempt) {
      const id = ++next;
      const at = Date.now() + attempt.timeoutSeconds * 1000 + grace;
      const stdout = options.stdout?.(attempt) ?? "";
      const frames = options.io?.frames;
      const message =
        frames === undefined
          ? { fd: options.io?.fd ?? 1, stdout, stderr: watchdogMessage(attempt) }
          : { fd: options.io!.fd, stdout: (stdout ? frames.out(stdout) : "") + frames.err(watchdogMessage(attempt)) + frames.exit(-9), stderr: "" };
      worker.postMessage({ type: "arm", id, at, ...message });
      return id;
    },
    disarm(id) {
      worker.postMessage({ type: "disarm", id });
    },
    async stop() {
      await worker.terminate();
    },
  };
}
