import { readFileSync } from "node:fs";

/**
 * Whether process `pid` still runs (signal 0 checks without sending anything). A zombie has exited:
 * a container's PID 1 may never reap an orphan, and a wait on "still running" would then never end.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it runs, under another user.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    // No /proc (not Linux), or it ended between the two calls.
    return process.platform !== "linux";
  }
}
