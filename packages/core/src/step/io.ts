import { writeSync } from "node:fs";
import { processHost, type StepHost } from "./guard.js";

/**
 * Where one step's output goes: this process's fds, or one warm-worker connection
 * (WORKER-CONTRACT.md). A step entry's main writes only through its StepIO and watches only its
 * `host`, so that the same main runs as a one-off process and, many times, in a worker.
 */
export interface StepIO {
  /** stdout text (event lines and prints), written synchronously. */
  out(text: string): void;
  /** stderr text, written synchronously. */
  err(text: string): void;
  /** A raw fd a thread (the timeout watchdog) may write to: 1, or the worker connection's socket. */
  readonly fd: number;
  /** The process events the step's guard watches, and how a step ends at once. */
  readonly host: StepHost;
  /**
   * For a thread writing to `fd` itself: the bytes `out`/`err` would write for `text`, and
   * `exit` the bytes that report an exit code. Absent for a process (raw text on fds 1 and 2).
   */
  readonly frames?: {
    out(text: string): string;
    err(text: string): string;
    exit(code: number): string;
  };
  /** True in a warm worker: the step must not change the process for the next step. */
  readonly warm: boolean;
}

/** The step's output to `main`; returns the exit code (0 / 1 / 3 / 143 / 130, see step/bin.ts). */
export type StepMain = (argv: readonly string[], io: StepIO) => Promise<number>;

/** A one-off step process: fds 1 and 2, the process's own events. */
export const processIO: StepIO = {
  out: (text) => writeAllSync(1, text),
  err: (text) => writeAllSync(2, text),
  fd: 1,
  host: processHost,
  warm: false,
};

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `text` to `fd` synchronously. A socket's fd is non-blocking: a full buffer
 * (EAGAIN) waits a millisecond and tries again, so no event is lost or reordered.
 */
export function writeAllSync(fd: number, text: string): void {
  const bytes = Buffer.from(text, "utf8");
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
