/**
 * A step dies with the process that launched it. When that process is gone (even killed with
 * SIGKILL) this one is re-parented, so a changed `ppid` means nobody is left to read its events or
 * to stop it: it stops at once, committing nothing more.
 *
 * Watched from Node rather than set up by the launcher (`PR_SET_PDEATHSIG` in a Python
 * `preexec_fn`), because a `preexec_fn` runs Python in a forked child, which is unsafe when the
 * launcher has other threads — Dagster's code server, Prefect's task threads: seen as a Node step
 * "killed by SIGSEGV" that was really the forked child crashing before exec.
 */
export function exitWithParent(intervalMs = 500): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, "SIGKILL");
  }, intervalMs).unref();
}
